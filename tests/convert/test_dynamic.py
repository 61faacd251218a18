"""--dynamic: free input axes, their bounds, and verification at min, opt and max (issue 18.6)."""
import json
from dataclasses import replace

import pytest

from conftest import assert_one_line_error
from deploybridge.convert import dynamic
from deploybridge.errors import DeployError

CLASSIFIER = ("convert", "--plugin", "torchvision", "--model", "mobilenet_v3_small", "--random-weights",
              "--input-shape", "1,3,128,128", "--num-inputs", "1")


def test_axes_parsed_in_order_and_unknown_refused():
    assert dynamic.parse_axes("width,batch,height") == ("batch", "height", "width")
    with pytest.raises(DeployError, match="batch, height, width"):
        dynamic.parse_axes("depth")


def test_default_bounds_and_bad_bounds():
    opt = [1, 3, 128, 160]
    low, high = dynamic.bounds({"axes": ["batch", "height", "width"]}, opt)
    assert low == [1, 3, 96, 128] and high == [4, 3, 192, 256]  # 0.75x and 1.5x on a multiple of 32; batch 1..4
    with pytest.raises(DeployError, match="dim 1"):  # changing the channel dim
        dynamic.bounds({"axes": ["height"], "min": [1, 1, 64, 160]}, opt)
    with pytest.raises(DeployError, match="not within"):
        dynamic.bounds({"axes": ["height"], "min": [1, 3, 160, 160]}, opt)
    with pytest.raises(DeployError, match="need --dynamic"):
        dynamic.request((), [1, 3, 64, 64], None)


def test_classifier_verified_at_min_opt_and_max_then_refuses_other_shapes(cli, tmp_path):
    out = tmp_path / "dyn"
    result = cli(*CLASSIFIER, "--dynamic", "batch,height,width", "--max-shape", "3,3,160,192", "--out", out)
    assert result.code == 0, result.err
    m = json.loads((out / "manifest.json").read_text())
    assert m["inputs"][0]["shape"] == ["batch", 3, "height", "width"]
    checks = m["verification"]["details"]["inputs"]
    shapes = [c.get("input_shape") for c in checks]
    assert shapes == [None, [1, 3, 96, 96], [3, 3, 160, 192]]  # opt (the main input), min, max
    assert all(c["passed"] for c in checks)
    assert m["preprocessing"]["dynamic"]["max"] == [3, 3, 160, 192]
    assert cli("verify", out).code == 0  # deploy verify rebuilds the same request from the spec
    assert "at 3x3x160x192" in cli("verify", out).out  # a batch is shown whole
    # at run time, a shape outside the bounds is one line naming them
    import numpy as np

    from deploybridge.convert import artifact
    from deploybridge.runtime import segments
    from deploybridge.runtime.backends import onnxruntime

    run = segments.load(onnxruntime.BACKEND, out, artifact.read_manifest(out), {})
    assert run({"images": np.zeros((2, 3, 128, 100), np.float32)})["logits"].shape == (2, 1000)
    with pytest.raises(DeployError, match=r"1x3x96x96 to 3x3x160x192 \(--dynamic bounds; dim 2 is 200\)"):
        run({"images": np.zeros((1, 3, 200, 128), np.float32)})


def test_a_size_baked_into_the_export_is_caught_at_the_bounds(cli, tmp_path, monkeypatch):
    """Planted: the export keeps height and width static while verification still runs at min and max."""
    real = dynamic.with_dynamic

    def baked(loaded, request, family):
        made = real(loaded, request, family)
        return replace(made, dynamic_axes={"images": {0: "batch"}})

    monkeypatch.setattr(dynamic, "with_dynamic", baked)
    result = cli(*CLASSIFIER, "--dynamic", "height,width", "--out", tmp_path / "baked")
    assert result.code == 1 and "verification FAILED" in result.out  # the inputs at 96x96 and 192x192 fail, never pass


def test_batch_refused_for_detectors_in_one_line(cli, tmp_path):
    result = cli("convert", "--plugin", "torchvision", "--model", "shapes_retinanet", "--dynamic", "batch",
                 "--out", tmp_path / "x")
    assert_one_line_error(result, contains="one image per call")
    assert not (tmp_path / "x").exists()


def test_detector_height_width_verified_at_three_sizes(cli, tmp_path):
    out = tmp_path / "det"
    result = cli("convert", "--plugin", "torchvision", "--model", "shapes_retinanet", "--num-inputs", "1",
                 "--dynamic", "height,width", "--out", out)
    assert result.code == 0, result.err
    checks = json.loads((out / "manifest.json").read_text())["verification"]["details"]["inputs"]
    assert [c.get("input_shape") for c in checks] == [None, [1, 3, 128, 128], [1, 3, 288, 288]]
    assert all(c["task"]["passed"] and c["detections_ref"] > 0 for c in checks)
