"""Instance masks from dynamic convolutions on the native path (issue 20.2): RTMDet-Ins (rtmdet_ins.py) and CondInst
(condinst.py, which shares its selection and dynamic convs) return what MMDetection 3.3's unmodified ``predict``
returns -- boxes, scores, labels and masks -- and convert end to end with the legacy exporter.

Bundled configs (RTMDet-Ins tiny; CondInst with a ResNet-18) with random weights calibrated by the family
(detections on every calibration image; RTMDet-Ins's kernel convs spread so that its masks are not all foreground
or all background)."""
import json

import numpy as np
import pytest

from conftest import assert_same_detections

pytest.importorskip("mmdet", reason="MMDetection not installed here: run `deploy install mmdet`")

SHAPE = (1, 3, 192, 256)
NEAR = 1e-5  # a mask pixel this close to the threshold may fall either side between two float32 computations
R18 = "backbone=dict(depth=18, init_cfg=None), neck=dict(in_channels=[64, 128, 256, 512])"
# name: (bundled config, model overrides, the family's native module)
MODELS = {
    "RTMDet-Ins": ("rtmdet/rtmdet-ins_tiny_8xb32-300e_coco", "", "RTMDetInsDetector"),
    "CondInst": ("condinst/condinst_r50_fpn_ms-poly-90k_coco_instance", R18, "CondInstDetector"),
}


def config_for(folder, name: str) -> str:
    from deploybridge_mmdet.config import with_model_overrides

    base, overrides, _ = MODELS[name]
    return with_model_overrides(base, overrides, folder, name.replace("-", "_").lower())


@pytest.fixture(scope="module", params=list(MODELS))
def loaded(request, tmp_path_factory):
    from deploybridge.records import ModelSpec
    from deploybridge_mmdet.family import load

    config = config_for(tmp_path_factory.mktemp("configs"), request.param)
    return request.param, load(ModelSpec(family="mmdet", model=config, config=config, random_weights=True,
                                         input_shape=SHAPE))


def test_native_module_equals_mmdetection_predict(loaded):
    """On the 3 verification inputs: the same detections as predict (count, boxes within 1e-4, scores within 1e-5,
    labels), and the mask probabilities thresholded as predict does (``> mask threshold``) equal predict's boolean
    masks at every pixel not within 1e-5 of the threshold. Measured (the counts move with the calibration): RTMDet-Ins
    8/9/12 detections, CondInst 26/10/7; boxes and scores equal exactly, every pixel equal; 22 of 29 and 23 of 43
    masks with both foreground and background pixels."""
    import torch

    from deploybridge_mmdet.family import mask_rule
    from deploybridge_mmdet.reference import mmdet_predict

    name, loaded = loaded
    module = loaded.module
    assert type(module).__name__ == MODELS[name][2]
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


def _export(module):
    import onnxruntime as ort

    from conftest import export_with_rewrites
    from deploybridge_mmdet.family import example_images
    from deploybridge_mmdet.rewrites import REWRITES

    rewrites = [r for r in REWRITES if "legacy" in r.exporters]
    onnx, _ = export_with_rewrites(module, (example_images(SHAPE, 0),), rewrites, ["images"],
                                   dynamic_axes={"images": {2: "height", 3: "width"}})
    return ort.InferenceSession(onnx, providers=["CPUExecutionProvider"])


def _same_as_pytorch(session, module, images) -> int:
    import torch

    with torch.no_grad():
        want = {k: t.numpy() for k, t in zip(("boxes", "scores", "labels", "masks"), module(images))}
    boxes, scores, labels, masks = session.run(None, {"images": images.numpy()})
    perm = assert_same_detections(want, boxes, scores, labels, box_atol=1e-3, score_atol=1e-5)
    assert masks.shape == want["masks"].shape == (len(boxes), *images.shape[2:])
    np.testing.assert_allclose(masks[perm], want["masks"], atol=1e-3)
    return len(boxes)


def test_export_runs_at_other_sizes_like_pytorch(loaded):
    """The legacy export, traced once at 192x256, returns in ONNX Runtime what the module returns at 256x256 and
    256x320: no detection count or image size baked in (measured: RTMDet-Ins 8 and 26, CondInst 14 and 14)."""
    from deploybridge_mmdet.family import example_images

    name, loaded = loaded
    session = _export(loaded.module)
    found = [_same_as_pytorch(session, loaded.module, example_images(shape, seed))
             for shape, seed in (((1, 3, 256, 256), 1001), ((1, 3, 256, 320), 1002))]
    assert min(found) >= 1, (name, found)


def test_no_detection_gives_empty_outputs_like_predict(loaded):
    """With score_thr above every score, predict finds nothing and so do the module and its export (masks (0, H, W)):
    the spare plane keeps PyTorch's bilinear upsampling, which refuses an empty tensor, from failing there."""
    import torch

    from deploybridge_mmdet.family import example_images
    from deploybridge_mmdet.reference import mmdet_predict

    name, loaded = loaded
    module, cfg = loaded.module, loaded.module.model.bbox_head.test_cfg
    before = (module.score_thr, cfg["score_thr"])
    module.score_thr = cfg["score_thr"] = 1.0
    try:
        images = example_images(SHAPE, 1000)
        assert len(mmdet_predict(module.model, images, loaded.preprocessing)["boxes"]) == 0
        assert _same_as_pytorch(_export(module), module, images) == 0
    finally:
        module.score_thr, cfg["score_thr"] = before


@pytest.mark.parametrize("name", list(MODELS))
def test_converts_natively_and_verifies_end_to_end(cli, tmp_path, name):
    """`deploy convert` takes the architecture on the native path by default (legacy exporter), the artifact
    verifies against the native module and the module against MMDetection's predict, with detections on every
    input."""
    out = tmp_path / "out"
    result = cli("convert", "--plugin", "mmdet", "--config", config_for(tmp_path, name), "--random-weights",
                 "--input-shape", ",".join(map(str, SHAPE)), "--out", out)
    assert result.code == 0, result.err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["export"]["exporter"] == "legacy"
    assert [o["name"] for o in manifest["outputs"]] == ["boxes", "scores", "labels", "masks"]
    assert manifest["verification"]["passed"] and manifest["framework_parity"]["passed"], manifest["verification"]
    found = [i["detections_ref"] for i in manifest["verification"]["details"]["inputs"]]
    assert min(found) >= 1, found
    assert all(i["matched_fraction"] == 1.0 for i in manifest["framework_parity"]["inputs"])
