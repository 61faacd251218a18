"""An exception raised inside MMDetection names the module and line that raised it (issue 17.8)."""
import importlib
import linecache
import re

import pytest

pytest.importorskip("mmdet", reason="MMDetection not installed here: run `deploy install mmdet`")


def test_a_bare_assert_inside_mmdetection_names_its_module():
    """GFL's point-distance coder asserts its input shapes with bare `assert`s: fed 3 distances per point instead of
    4 it raised, in a conversion, 'model ... fails on input 1x3x320x320: AssertionError' and nothing else. The
    verification's reference runner now names the module and the line, and that line is the assert."""
    import torch

    from deploybridge_mmdet.compat import import_mmdet_models

    import_mmdet_models()  # MMDetection's models, with the mmcv layer the family installs
    from mmdet.models.task_modules.coders import DistancePointBBoxCoder

    from deploybridge.errors import DeployError
    from deploybridge.parity.reference import reference_runner
    from deploybridge.records import LoadedModel, ModelSpec, OutputSpec

    coder = DistancePointBBoxCoder()
    loaded = LoadedModel(module=lambda x: coder.decode(x[0, 0, :, :2], x[0, 0]), input_names=["images"],
                         outputs=[OutputSpec("boxes")], make_inputs=lambda seed: (torch.zeros(1, 1, 5, 3),))
    with pytest.raises(DeployError) as raised:
        reference_runner(loaded, ModelSpec("mmdet", "gfl"))(0)
    message = str(raised.value)
    assert message.startswith("model 'gfl' fails on input 1x1x5x3: AssertionError raised in mmdet."), message
    found = re.search(r"AssertionError raised in ([\w.]+) line (\d+)", message)
    module, line = found.group(1), int(found.group(2))
    assert module == "mmdet.models.task_modules.coders.distance_point_bbox_coder"
    source = linecache.getline(importlib.import_module(module).__file__, line)
    assert source.strip() == "assert pred_bboxes.size(-1) == 4", (line, source)
