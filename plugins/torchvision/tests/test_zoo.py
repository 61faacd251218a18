"""Every detection, keypoint and segmentation builder torchvision ships is in the catalogue (issue 22.5/22.6); the
small ones, and one of each kind among the R50s, convert and verify with random weights at small sizes."""
import dataclasses
import json

import pytest

from conftest import assert_one_line_error
from deploybridge_torchvision import catalogue
from deploybridge_torchvision.catalogue import CATALOGUE

# (model, square size): mobilenets at their smallest sensible size; SSD only at the size it resizes to in its graph
SMALL = [("fasterrcnn_mobilenet_v3_large_fpn", 192), ("deeplabv3_mobilenet_v3_large", 128), ("lraspp_mobilenet_v3_large", 128),
         ("ssdlite320_mobilenet_v3_large", 320)]
R50 = [("keypointrcnn_resnet50_fpn", 160), ("fcos_resnet50_fpn", 192), ("fasterrcnn_resnet50_fpn_v2", 192),
       ("fcn_resnet50", 160), ("ssd300_vgg16", 300)]
SLOW_S = 60  # an R50 case measured above this is marked slow
SLOW = {"keypointrcnn_resnet50_fpn"}  # ssd300_vgg16 at 300: 38 s


def test_catalogue_lists_every_torchvision_detector_and_segmenter():
    import torchvision.models as tvm

    shipped = set(tvm.list_models(module=tvm.detection)) | set(tvm.list_models(module=tvm.segmentation))
    assert len(shipped) == 18 and shipped <= set(CATALOGUE), sorted(shipped - set(CATALOGUE))
    for name in shipped:
        entry = CATALOGUE[name]
        assert entry.task in ("detection", "keypoints", "segmentation") and entry.heads
        assert entry.unavailable is None, name  # every one converts (SSD since its cause was fixed, below)
        assert entry.default_shape[:2] == (1, 3) and min(entry.default_shape[2:]) >= 128, name


def test_unknown_model_lists_the_known_ones(cli, tmp_path):
    result = cli("convert", "--plugin", "torchvision", "--model", "keypointrcnn_resnet18_fpn", "--random-weights", "--out", tmp_path / "x")
    assert_one_line_error(result, contains="did you mean keypointrcnn_resnet50_fpn")
    assert all(name in result.err for name in ("ssdlite320_mobilenet_v3_large", "lraspp_mobilenet_v3_large", "fcn_resnet101"))


def test_refusals_come_before_building(cli, tmp_path, monkeypatch):
    """A builder marked unavailable says why in one line, exit 2, without building the model."""
    import torchvision

    monkeypatch.setattr(torchvision.models, "get_model", lambda *a, **k: pytest.fail("built before refusing"))
    broken = dataclasses.replace(CATALOGUE["fcos_resnet50_fpn"], unavailable="planted reason")
    monkeypatch.setitem(catalogue.CATALOGUE, "fcos_resnet50_fpn", broken)
    result = cli("convert", "--plugin", "torchvision", "--model", "fcos_resnet50_fpn", "--random-weights", "--out", tmp_path / "b")
    assert_one_line_error(result, contains="fcos_resnet50_fpn cannot be converted: planted reason")
    assert not (tmp_path / "b").exists()


def test_ssd_postprocessing_failed_only_while_tensors_were_sequences(cli, tmp_path, monkeypatch):
    """SSD and SSDlite were refused: 'len() of a 0-d tensor' tracing their post-processing. The cause was the core's
    negative_index rewrite (a Tensor.__getitem__ patch): CPython then gives every tensor a sequence slot, and the
    legacy exporter's own symbolics build torch.tensor([0-d tensor]). With the slot kept off while the patch is in
    force (rewriting._slots_kept's keep_sequence) SSDlite exports; planted: keep_sequence a no-op -> that exact error."""
    from contextlib import contextmanager

    from deploybridge.convert import rewriting

    real = rewriting._slots_kept

    @contextmanager
    def sequence_slot_left(owner, attr):
        with real(owner, attr):  # tables still put back at the end: later tests see plain tensors
            yield lambda: None

    monkeypatch.setattr(rewriting, "_slots_kept", sequence_slot_left)
    result = cli("convert", "--plugin", "torchvision", "--model", "ssdlite320_mobilenet_v3_large", "--random-weights",
                 "--out", tmp_path / "ssdlite")
    assert_one_line_error(result, contains="legacy exporter failed at opset 17: TypeError: len() of a 0-d tensor")


def _case(model, size):
    return pytest.param(model, size, marks=pytest.mark.slow) if model in SLOW else (model, size)


@pytest.mark.parametrize("model,size", [_case(*c) for c in SMALL + R50])
def test_converts_and_verifies_with_random_weights(cli, tmp_path, model, size):
    entry = CATALOGUE[model]
    out = tmp_path / model
    # Keypoint R-CNN on OpenVINO here (issue 22: "and on OpenVINO where it is installed"); on ONNX Runtime in
    # test_keypoints_run.py, which converts it at 128
    backend = "openvino" if entry.task == "keypoints" else "onnxruntime"
    result = cli("convert", "--plugin", "torchvision", "--model", model, "--random-weights", "--backend", backend,
                 "--input-shape", f"1,3,{size},{size}", "--out", out)
    assert result.code == 0, result.out + result.err
    manifest = json.loads((out / "manifest.json").read_text())
    details = manifest["verification"]["details"]
    assert details["passed"] and len(details["inputs"]) == 3
    for check in details["inputs"]:
        assert all(c["passed"] and c["max_abs"] is not None for c in check["outputs"]), check["outputs"]
        metrics = check["task"]["metrics"]
        assert check["task"]["passed"], check["task"]
        if entry.finds_objects:
            # parity on no detections proves nothing (verification calls it inconclusive)
            assert check["detections_ref"] == check["detections_got"] >= 1, check
            # FCOS fills its 100-detection cap: one of 100 may pair differently (the task bound allows 1 %)
            assert metrics["matched_fraction"] >= 0.99 and metrics["max_box_deviation_px"] <= 1.0, metrics
        if entry.task == "keypoints":
            # keypoints the reference chose between two heatmap peaks are left out (random heads: ~2 %), never most
            assert metrics["max_keypoint_deviation_px"] <= 1.0, metrics
            assert metrics["keypoints_at_tie"] <= 0.1 * metrics["keypoints_compared"], metrics
    expected = {"segmentation": ["out"], "keypoints": ["boxes", "scores", "labels", "keypoints", "keypoints_scores"],
                "detection": ["boxes", "scores", "labels"] + (["masks"] if entry.masks else [])}[entry.task]
    assert [o["name"] for o in manifest["outputs"]] == expected
    assert manifest["task"] == {"segmentation": "semantic_segmentation"}.get(entry.task, entry.task)
    # every export warning was looked at (torch's by the built-in plugin, torchvision's by this one)
    unknown = {w["module"] for w in manifest["export_warnings"] if w["verdict"] == "unknown"}
    assert unknown <= {"torchvision.ops.boxes"}, unknown  # batched_nms' size test: not triaged yet (test_models.py)
