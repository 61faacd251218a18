"""The mmdet family: RetinaNet from an MMDetection config converts, verifies, and equals MMDetection's own predict."""
import json

import pytest

from conftest import assert_one_line_error, assert_same_detections

pytest.importorskip("mmdet", reason="MMDetection not installed here: run `deploy install mmdet`")

CONFIG = "retinanet/retinanet_r18_fpn_1x_coco"


@pytest.fixture(scope="module")
def retinanet():
    from deploybridge.records import ModelSpec
    from deploybridge_mmdet.family import load

    return load(ModelSpec(family="mmdet", model=CONFIG, config=CONFIG, random_weights=True, input_shape=(1, 3, 256, 320)))


def test_wrapper_equals_mmdetection_predict(retinanet):
    """The tensor-op post-processing selects what MMDetection's unmodified predict selects."""
    import torch

    from deploybridge_mmdet.reference import mmdet_predict

    total = 0
    for seed in (0, 1, 2):
        (images,) = retinanet.make_inputs(seed)
        with torch.no_grad():
            boxes, scores, labels = (t.numpy() for t in retinanet.module(images))
        ref = mmdet_predict(retinanet.module.model, images, retinanet.preprocessing)
        assert_same_detections(ref, boxes, scores, labels)
        total += len(boxes)
    assert total > 10, "random weights gave almost no detections: the comparison proves little"


@pytest.mark.parametrize("flags", [[], ["--truncate-nms"]])
def test_convert_and_verify(cli, tmp_path, flags):
    out = tmp_path / "retina"
    result = cli("convert", "--plugin", "mmdet", "--config", CONFIG, "--random-weights", "--input-shape", "1,3,256,320",
                 *flags, "--out", out)
    assert result.code == 0, result.err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["verification"]["passed"] and manifest["preprocessing"]["mean"] == [123.675, 116.28, 103.53]
    # every export warning was looked at: MMDetection's coder asserts by the mmdet plugin, torch's by the built-in one
    verdicts = {(w["verdict"], w["owner"]) for w in manifest["export_warnings"]}
    assert ("harmless", "mmdet") in verdicts and not any(v == "unknown" for v, _ in verdicts), verdicts
    assert {"name": "mmdet_onnx_delta2bbox", "owner": "mmdet"}.items() <= next(
        r for r in manifest["rewrites"] if r["name"] == "mmdet_onnx_delta2bbox").items()
    assert manifest["framework_parity"]["passed"] and manifest["framework_parity"]["inputs"][0]["matched_by"] == "boxes"
    assert cli("verify", out).code == 0


def test_without_the_decoder_rewrite_the_export_fails(cli, tmp_path):
    result = cli("convert", "--plugin", "mmdet", "--config", CONFIG, "--random-weights", "--input-shape", "1,3,256,320",
                 "--no-rewrite", "mmdet_onnx_delta2bbox", "--out", tmp_path / "a")
    assert_one_line_error(result, contains="No module named 'mmdet.core'")
    assert not (tmp_path / "a").exists()


def test_bad_inputs_exit_2_with_one_line(cli, tmp_path):
    import torch

    unknown = cli("convert", "--plugin", "mmdet", "--config", "retinanet/retinanet_r18_fpn_1x_cocoo", "--random-weights",
                  "--out", tmp_path / "a")
    assert_one_line_error(unknown, contains="closest: retinanet/retinanet_r18_fpn_1x_coco")
    other = tmp_path / "other.pth"
    torch.save({"state_dict": torch.nn.Linear(3, 2).state_dict()}, other)
    wrong = cli("convert", "--plugin", "mmdet", "--config", CONFIG, "--weights", other, "--out", tmp_path / "b")
    assert_one_line_error(wrong, contains="does not fit config")
    # an architecture the family converts (Faster R-CNN) whose neck needs a kernel the mmcv layer lacks
    needs_op = cli("convert", "--plugin", "mmdet", "--config", "carafe/faster-rcnn_r50_fpn-carafe_1x_coco",
                   "--random-weights", "--out", tmp_path / "c")
    assert_one_line_error(needs_op, contains="mmcv op 'carafe_forward' is not provided")
    no_config = cli("convert", "--plugin", "mmdet", "--random-weights", "--out", tmp_path / "d")
    assert_one_line_error(no_config, contains="--config")
    assert not any((tmp_path / d).exists() for d in "abcd")


def test_mmdet_missing_says_how_to_install(cli, tmp_path, monkeypatch):
    import importlib.util

    from deploybridge_mmdet import compat

    real = importlib.util.find_spec
    monkeypatch.setattr(compat.importlib.util, "find_spec", lambda name, *a: None if name == "mmdet" else real(name, *a))
    monkeypatch.delitem(__import__("sys").modules, "mmcv._ext", raising=False)
    result = cli("convert", "--plugin", "mmdet", "--config", CONFIG, "--random-weights", "--out", tmp_path / "a")
    assert_one_line_error(result, contains="deploy install mmdet")


def test_install_is_idempotent(cli):
    result = cli("install", "mmdet")
    assert result.code == 0 and "already installed: mmengine==0.10.7, mmcv-lite==2.1.0, mmdet==3.3.0" in result.out
    assert_one_line_error(cli("install", "mmdeployy"), contains="unknown install target")
