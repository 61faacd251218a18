"""DeepLabV3 (torchvision, MobileNetV3 backbone, random weights, 128²) built into OpenVINO IR verifies against PyTorch
by pixel agreement and per-class IoU of the class maps (measured: both 1 on 3 inputs, 8-14 classes each, max abs
error of the scores 3.0e-4 against atol 1.2e-3), and a planted segmentation error on that artifact fails."""
import json

import pytest

from deploybridge.parity.planted import caught_by

pytest.importorskip("openvino", reason="openvino is not installed: `pip install openvino` (the Makefile installs it)")


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    from deploybridge.cli import main

    out = tmp_path_factory.mktemp("ov_seg") / "deeplab"
    assert main(["convert", "--plugin", "torchvision", "--model", "deeplabv3_mobilenet_v3_large", "--random-weights",
                 "--input-shape", "1,3,128,128", "--backend", "openvino", "--out", str(out)]) == 0
    return out


def test_deeplabv3_verifies_on_openvino_with_every_class_iou_1(artifact):
    manifest = json.loads((artifact / "manifest.json").read_text())
    assert manifest["verified"] and manifest["backend"]["name"] == "openvino"
    assert "openvino.xml" in manifest["backend"]["files"]
    details = manifest["verification"]["details"]
    assert details["passed"] and details["inconclusive"] is None and len(details["inputs"]) == 3
    for check in details["inputs"]:
        metrics = check["task"]["metrics"]
        assert check["task"]["task"] == "semantic_segmentation" and metrics["class_count"] >= 2, metrics
        assert metrics["pixel_agreement"] == 1.0 and metrics["min_class_iou"] == 1.0, metrics  # measured: 1, 8-14 classes
        out = check["outputs"][0]
        assert out["name"] == "out" and out["passed"] and out["max_abs"] is not None, out


def test_a_planted_class_region_fails_on_openvino(cli, artifact):
    result = cli("verify", artifact, "--plant", "class_region", "--json")
    assert result.code == 1, result.err
    assert "semantic_segmentation parity: class N IoU N" in caught_by(json.loads(result.out))
