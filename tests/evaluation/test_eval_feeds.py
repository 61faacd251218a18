"""--eval feeds each family's model as `deploy run` feeds its artifact (issue 17.7), measured on real conversions.

For every family, the tensor --eval hands PyTorch and the artifact is the tensor `deploy run` hands the artifact for the
same image file (torchvision: 0-1 RGB stretched; MMDetection and SOLO: 0-255 BGR, resized keeping the ratio, padded);
report.png shows the image as a person sees it; and a model fed the wrong way scores a measurably different AP, which
ΔAP alone cannot see (both runners are fed the same wrong tensor).
"""
import dataclasses
import json

import numpy as np
import pytest
from PIL import Image

from deploybridge.evaluation import ap_delta
from deploybridge.evaluation.datasets import shapes
from deploybridge.runtime import segments
from deploybridge.runtime.image_io import load_rgb, to_display, to_input

MMDET_CONFIG = "retinanet/retinanet_r18_fpn_1x_coco"
FAMILIES = {  # family -> (deploy convert arguments, loader); mmdet has no trained checkpoint: random weights
    "torchvision": (["--plugin", "torchvision", "--model", "shapes_retinanet"], "deploybridge_torchvision.load",
                    {"model": "shapes_retinanet"}),
    "solo": (["--plugin", "solo", "--model", "solov2_shapes"], "deploybridge_solo.family", {"model": "solov2_shapes"}),
    # not square, so the keep-ratio resize pads the 160 x 160 images on the right
    "mmdet": (["--plugin", "mmdet", "--config", MMDET_CONFIG, "--random-weights", "--input-shape", "1,3,192,256"],
              "deploybridge_mmdet.family", {"model": MMDET_CONFIG, "config": MMDET_CONFIG, "random_weights": True,
                                            "input_shape": (1, 3, 192, 256)}),
}


class Converted:
    """One conversion of a family's model: its artifact folder, the LoadedModel, the artifact's runner as `deploy run`
    builds it, and every tensor that runner was fed."""

    def __init__(self, family: str, folder):
        import importlib

        from deploybridge.cli import main
        from deploybridge.records import ModelSpec
        from deploybridge.runtime.predict import artifact_predictor

        args, loader, spec = FAMILIES[family]
        assert main(["convert", *args, "--out", str(folder)]) == 0
        self.folder, self.fed = folder, []
        self.loaded = importlib.import_module(loader).load(ModelSpec(family=family, **spec))
        real_load = segments.load

        def recording_load(*a, **kw):
            run = real_load(*a, **kw)

            def recorded(feeds):
                self.fed.append(np.array(feeds[self.loaded.input_names[0]]))
                return run(feeds)

            self.runner = recorded
            return recorded

        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(segments, "load", recording_load)
            self.manifest, self.predict = artifact_predictor(folder)  # what `deploy run` and `deploy threshold` use

    def shape(self):
        """The input shape the pipeline gives --eval: the first verification input's."""
        return tuple(self.loaded.make_inputs(self.manifest["verification"]["seeds"][0])[0].shape)


@pytest.fixture(scope="module", params=list(FAMILIES))
def converted(request, tmp_path_factory):
    if request.param in ("mmdet", "solo"):
        pytest.importorskip("mmdet", reason="MMDetection not installed here: run `deploy install mmdet`")
    return Converted(request.param, tmp_path_factory.mktemp(request.param) / "artifact")


def recording_module(module, fed: list):
    def run(x):
        fed.append(x.numpy().copy())
        return module(x)

    return run


def test_eval_feeds_what_deploy_run_feeds(converted, tmp_path):
    """Two 160 x 160 shapes images, smaller than every model's input: each is resized (and for MMDetection's
    keep-ratio resize, padded) the same way by --eval, for PyTorch and the artifact, as by `deploy run`."""
    dataset = shapes.generate(tmp_path, 2, seed=3, size=160)
    images = [load_rgb(dataset.parent / img["file_name"]) for img in json.loads(dataset.read_text())["images"]]
    converted.fed.clear()
    for pixels in images:
        converted.predict(pixels)  # deploy run
    run_fed, converted.fed[:] = list(converted.fed), []
    torch_fed = []
    loaded = dataclasses.replace(converted.loaded, module=recording_module(converted.loaded.module, torch_fed))
    result = ap_delta.ap_delta_on_dataset(loaded, converted.runner, "onnxruntime", str(dataset), converted.shape())
    assert result.images == 2 and len(run_fed) == len(torch_fed) == len(converted.fed) == 2
    for k, pixels in enumerate(images):
        np.testing.assert_array_equal(torch_fed[k], run_fed[k])
        np.testing.assert_array_equal(converted.fed[k], run_fed[k])
        old, _ = to_input(pixels, converted.shape())  # what --eval fed every family before: 0-1 RGB, stretched
        assert np.array_equal(old, run_fed[k]) == (converted.manifest["spec"]["family"] == "torchvision")


def test_report_picture_is_the_input_as_seen(converted):
    """report.png's left half is the first verification input as a person sees it (colours, not white): most of
    its pixels are that image's, and they vary."""
    path = converted.folder / "report.png"
    if not path.exists():
        assert converted.loaded.task is None or not getattr(converted.loaded.task, "finds_objects", False)
        pytest.skip("the pipeline draws no report.png for this model's task")
    (x,) = converted.loaded.make_inputs(converted.manifest["verification"]["seeds"][0])
    expected = to_display(x.numpy(), converted.loaded.preprocessing)
    left = np.asarray(Image.open(path).convert("RGB"))[: expected.shape[0], : expected.shape[1]]
    diff = np.abs(left.astype(int) - expected.astype(int)).max(axis=2)
    assert (diff <= 1).mean() >= 0.5, f"only {(diff <= 1).mean():.0%} of report.png's pixels are the input's"
    assert left.std() > 20


MISFED = {  # the smallest wrong feeding for each trained model
    "torchvision": lambda pre: {**pre, "value_range": "0-255"},  # 0-255 where the model takes 0-1
    "solo": lambda pre: {k: v for k, v in pre.items() if k not in ("loaded_channel_order", "value_range")},  # 0-1 RGB
}


def test_a_misfed_model_scores_another_ap(converted):
    """On the shapes validation split, the trained model fed the wrong way loses AP; ΔAP stays 0 (both runners are
    fed the same wrong tensor), which is why --eval must feed as the family does. An artifact that takes 0-255 (SOLO)
    refuses the 0-1 tensor itself (runtime.input_check.range_problem): the misfeeding never gets scored."""
    family = converted.manifest["spec"]["family"]
    if family not in MISFED:
        pytest.skip(f"no trained {family} checkpoint: AP of random weights says nothing")
    metric = "mask_ap" if "masks" in converted.loaded.output_names else "box_ap"
    right = ap_delta.ap_delta_on_dataset(converted.loaded, converted.runner, "onnxruntime", "shapes", converted.shape())
    misfed = dataclasses.replace(converted.loaded, preprocessing=MISFED[family](converted.loaded.preprocessing))
    if "value_range" in converted.manifest["preprocessing"]:  # a 0-255 artifact refuses 0-1 input itself, in one line
        from deploybridge.errors import DeployError

        with pytest.raises(DeployError, match="looks scaled to 0-1"):
            ap_delta.ap_delta_on_dataset(misfed, converted.runner, "onnxruntime", "shapes", converted.shape())
        return
    wrong = ap_delta.ap_delta_on_dataset(misfed, converted.runner, "onnxruntime", "shapes", converted.shape())
    assert right.ap["pytorch"][metric] >= 0.4, right.ap
    assert right.ap["pytorch"][metric] - wrong.ap["pytorch"][metric] >= 0.1, (right.ap, wrong.ap)
    assert right.passed and wrong.passed
