"""RTMDet-Ins on the native path (issue 20.2): rtmdet_ins.RTMDetInsDetector returns what MMDetection 3.3's unmodified
``predict`` returns -- boxes, scores, labels and masks -- and converts end to end with the legacy exporter.

The bundled tiny config with random weights, calibrated by the family (detections on every calibration image, the
dynamic-conv kernels spread so that masks are not all foreground or all background)."""
import json

import numpy as np
import pytest

from conftest import assert_same_detections

pytest.importorskip("mmdet", reason="MMDetection not installed here: run `deploy install mmdet`")

CONFIG = "rtmdet/rtmdet-ins_tiny_8xb32-300e_coco"
SHAPE = (1, 3, 192, 256)
NEAR = 1e-5  # a mask pixel this close to the threshold may fall either side between two float32 computations


@pytest.fixture(scope="module")
def loaded():
    from deploybridge.records import ModelSpec
    from deploybridge_mmdet.family import load

    return load(ModelSpec(family="mmdet", model=CONFIG, config=CONFIG, random_weights=True, input_shape=SHAPE))


def test_native_module_equals_mmdetection_predict(loaded):
    """On the 3 verification inputs: the same detections as predict (count, boxes within 1e-4, scores within 1e-5,
    labels), and the mask probabilities thresholded as predict does (``> mask_thr_binary``) equal predict's boolean
    masks at every pixel not within 1e-5 of the threshold. Measured: 8/9/12 detections, every pixel equal, 22 of 29
    masks with both foreground and background pixels."""
    import torch

    from deploybridge_mmdet.family import mask_rule
    from deploybridge_mmdet.reference import mmdet_predict
    from deploybridge_mmdet.rtmdet_ins import RTMDetInsDetector

    module = loaded.module
    assert isinstance(module, RTMDetInsDetector)
    assert loaded.output_names == ["boxes", "scores", "labels", "masks"]
    threshold, strict = mask_rule(module.model)
    assert (threshold, strict) == (0.5, True)
    mixed = 0
    for seed in (1000, 1001, 1002):
        (images,) = loaded.make_inputs(seed)
        with torch.no_grad():
            boxes, scores, labels, masks = (t.numpy() for t in module(images))
        ref = mmdet_predict(module.model, images, loaded.preprocessing)
        assert len(boxes) >= 1, seed
        perm = assert_same_detections(ref, boxes, scores, labels, box_atol=1e-4, score_atol=1e-5)
        probabilities = masks[perm]
        assert probabilities.shape == ref["masks"].shape == (len(boxes), *SHAPE[2:])
        differ = (probabilities > threshold) != ref["masks"]
        assert not (differ & (np.abs(probabilities - threshold) > NEAR)).any(), (seed, int(differ.sum()))
        share = ref["masks"].reshape(len(boxes), -1).mean(1)
        mixed += int(((share > 0.05) & (share < 0.95)).sum())
    assert mixed >= 10, "masks all foreground or all background: the mask comparison proves little"


def test_converts_natively_and_verifies_end_to_end(cli, tmp_path):
    """`deploy convert` takes RTMDet-Ins on the native path by default (legacy exporter), the artifact verifies
    against the native module and the module against MMDetection's predict, with detections on every input."""
    out = tmp_path / "rtmdet_ins"
    result = cli("convert", "--plugin", "mmdet", "--config", CONFIG, "--random-weights", "--input-shape",
                 ",".join(map(str, SHAPE)), "--out", out)
    assert result.code == 0, result.err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["export"]["exporter"] == "legacy"
    assert [o["name"] for o in manifest["outputs"]] == ["boxes", "scores", "labels", "masks"]
    assert manifest["verification"]["passed"] and manifest["framework_parity"]["passed"], manifest["verification"]
    found = [i["detections_ref"] for i in manifest["verification"]["details"]["inputs"]]
    assert min(found) >= 1, found
    assert all(i["matched_fraction"] == 1.0 for i in manifest["framework_parity"]["inputs"])


def test_export_runs_any_size_and_no_detection_like_pytorch(loaded):
    """The legacy export, traced once at 192x256, returns in ONNX Runtime what the module returns at 256x256 and
    256x320 (no count or size baked in) and on a uniform grey image, where predict and the module find nothing
    (measured: 8, 26 and 0 detections): the spare plane keeps PyTorch's bilinear upsampling, which refuses an empty
    tensor, from failing there."""
    import onnxruntime as ort
    import torch

    from conftest import export_with_rewrites
    from deploybridge_mmdet.family import example_images
    from deploybridge_mmdet.reference import mmdet_predict
    from deploybridge_mmdet.rewrites import REWRITES

    module = loaded.module
    rewrites = [r for r in REWRITES if "legacy" in r.exporters]
    onnx, _ = export_with_rewrites(module, (example_images(SHAPE, 0),), rewrites, ["images"],
                                   dynamic_axes={"images": {2: "height", 3: "width"}})
    session = ort.InferenceSession(onnx, providers=["CPUExecutionProvider"])
    grey = torch.full(SHAPE, 128.0)
    assert len(mmdet_predict(module.model, grey, loaded.preprocessing)["boxes"]) == 0
    found = []
    for images in (example_images((1, 3, 256, 256), 1001), example_images((1, 3, 256, 320), 1002), grey):
        with torch.no_grad():
            want = {k: t.numpy() for k, t in zip(("boxes", "scores", "labels", "masks"), module(images))}
        boxes, scores, labels, masks = session.run(None, {"images": images.numpy()})
        perm = assert_same_detections(want, boxes, scores, labels, box_atol=1e-3, score_atol=1e-5)
        assert masks.shape == want["masks"].shape == (len(boxes), *images.shape[2:])
        np.testing.assert_allclose(masks[perm], want["masks"], atol=1e-3)
        found.append(len(boxes))
    assert found[0] >= 1 and found[1] >= 1 and found[2] == 0, found
