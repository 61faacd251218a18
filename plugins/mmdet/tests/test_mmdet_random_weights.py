"""--random-weights in the mmdet family (issue 17.1, 17.8, 17.9): every head the family accepts detects something on
every verification input, exactly as MMDetection's own predict does with the same (calibrated) weights; the heads are
calibrated on images verification never uses; an architecture the family does not convert is refused from its
config, in one line naming it, before anything is built."""
import pytest

from conftest import assert_one_line_error, assert_same_detections

pytest.importorskip("mmdet", reason="MMDetection not installed here: run `deploy install mmdet`")

SHAPE = (1, 3, 256, 320)
R18 = "backbone=dict(depth=18, init_cfg=None), neck=dict(in_channels=[64, 128, 256, 512])"
FASTER = "faster_rcnn/faster-rcnn_r50_fpn_1x_coco"
# one bundled config per head the family accepts (80 COCO classes), ResNet-50 swapped for ResNet-18: the classifier
# being calibrated is the same
HEADS = {
    "RetinaHead": ("retinanet/retinanet_r18_fpn_1x_coco", ""),
    "RetinaSepBNHead": ("nas_fpn/retinanet_r50_fpn_crop640-50e_coco", R18),
    "FreeAnchorRetinaHead": ("free_anchor/freeanchor_r50_fpn_1x_coco", R18),
    "PISARetinaHead": ("pisa/retinanet-r50_fpn_pisa_1x_coco", R18),
    # decoded by dense_heads.py, calibrated by MMDetection's predict (calibration_generic)
    "FCOSHead": ("fcos/fcos_r50-caffe_fpn_gn-head_1x_coco", R18),
    "ATSSHead": ("atss/atss_r50_fpn_1x_coco", R18),
    "GFLHead": ("gfl/gfl_r50_fpn_1x_coco", R18),
    "YOLOXHead": ("yolox/yolox_tiny_8xb8-300e_coco", ""),
    "RTMDetSepBNHead": ("rtmdet/rtmdet_tiny_8xb32-300e_coco", ""),
    "RTMDetHead": ("rtmdet/rtmdet_tiny_8xb32-300e_coco", "bbox_head=dict(_delete_=True, type='RTMDetHead', num_classes=80,"
                   " in_channels=96, feat_channels=96, anchor_generator=dict(type='MlvlPointGenerator', offset=0,"
                   " strides=[8, 16, 32]), bbox_coder=dict(type='DistancePointBBoxCoder'), with_objectness=True)"),
    "FoveaHead": ("foveabox/fovea_r50_fpn_4xb4-1x_coco", R18),
    "Shared2FCBBoxHead": (FASTER, R18),
    # four 3x3 convs on every RoI: 300 proposals instead of 1000 keep it to a few seconds
    "Shared4Conv1FCBBoxHead": (FASTER, R18 + ", roi_head=dict(bbox_head=dict(type='Shared4Conv1FCBBoxHead')),"
                                             " test_cfg=dict(rpn=dict(max_per_img=300))"),
    "ConvFCBBoxHead": (FASTER, R18 + ", roi_head=dict(bbox_head=dict(type='ConvFCBBoxHead', num_shared_fcs=1,"
                                     " num_cls_fcs=1, num_reg_fcs=1))"),
    "FCNMaskHead": ("mask_rcnn/mask-rcnn_r50_fpn_1x_coco", R18),
}
# architectures neither path converts (issue 20: DETR, DINO, CondInst, YOLOX and Cascade R-CNN, refused here before,
# convert with --exporter mmdeploy now): the reason is in the line
REFUSED = {
    "Mask2Former": "mask2former/mask2former_r50_8xb2-lsj-50e_coco",
    "SSDHead: MMDeploy 1.3.1 reads SSDHead.loss_cls": "ssd/ssd300_coco",
    "its box head is a SABLHead": "sabl/sabl-faster-rcnn_r50_fpn_1x_coco",
    "VFNetHead: exports deformable convolution as MMDeploy's custom op": "vfnet/vfnet_r50_fpn_1x_coco",
    "PAAHead: MMDetection's predict re-scores boxes by score voting": "paa/paa_r50_fpn_1x_coco",
}


def _config(tmp_path, head: str) -> str:
    from deploybridge_mmdet.config import with_model_overrides

    return with_model_overrides(*HEADS[head], tmp_path, head)


def test_every_accepted_head_is_covered():
    from deploybridge_mmdet import support

    assert set(HEADS) == {*support.DENSE_HEADS, *support.BOX_HEADS, *support.MASK_HEADS}


@pytest.mark.parametrize("head", list(HEADS))
def test_random_weights_detect_on_every_verification_input(tmp_path, head):
    """MMDetection's init scores every candidate ~0.01 (sigmoid) or ~1/81 (softmax), under score_thr 0.05: Faster
    and Mask R-CNN found nothing on any input (inconclusive). Calibrated, each input has detections, and the
    family's wrapper selects exactly what MMDetection's unmodified predict selects."""
    import torch

    from deploybridge.parity.verification import seeds_for
    from deploybridge.records import ModelSpec
    from deploybridge_mmdet.family import load
    from deploybridge_mmdet.reference import mmdet_predict

    config = _config(tmp_path, head)
    spec = ModelSpec(family="mmdet", model=config, config=config, random_weights=True, input_shape=SHAPE)
    loaded = load(spec)
    assert head in {type(m).__name__ for m in loaded.module.modules()}
    counts = []
    for seed in seeds_for(spec, 3):
        (images,) = loaded.make_inputs(seed)
        with torch.no_grad():
            boxes, scores, labels = (t.numpy() for t in loaded.module(images)[:3])
        assert_same_detections(mmdet_predict(loaded.module.model, images, loaded.preprocessing), boxes, scores, labels)
        counts.append(len(boxes))
    assert min(counts) >= 1, counts


def test_random_heads_are_calibrated_on_images_verification_never_uses(monkeypatch):
    import torch

    from deploybridge.parity.verification import seeds_for
    from deploybridge.records import ModelSpec
    from deploybridge_mmdet import calibration
    from deploybridge_mmdet.family import load

    seen = []
    real = calibration.calibrate_random
    monkeypatch.setattr(calibration, "calibrate_random",
                        lambda model, module, images: (seen.extend(images), real(model, module, images))[1])
    config = HEADS["RetinaHead"][0]
    spec = ModelSpec(family="mmdet", model=config, config=config, random_weights=True, input_shape=SHAPE)
    loaded = load(spec)
    assert len(seen) == calibration.CALIBRATION_IMAGES
    for seed in seeds_for(spec, 3):
        (images,) = loaded.make_inputs(seed)
        assert not any(torch.equal(images, image) for image in seen)


def test_unsupported_architectures_are_refused_before_building(cli, tmp_path, monkeypatch):
    """Each used to crash while being probed (exit 3, 'internal error'), or to convert post-processing the wrapper
    does not reproduce. Now: exit 2, one line naming the architecture and what the family converts, nothing
    built (MODELS.build never called), nothing written."""
    from deploybridge_mmdet.compat import import_mmdet_models

    import_mmdet_models()
    from mmdet.registry import MODELS

    built = []
    real = MODELS.build
    monkeypatch.setattr(MODELS, "build", lambda cfg, *a, **kw: (built.append(cfg), real(cfg, *a, **kw))[1])
    for name, config in REFUSED.items():
        out = tmp_path / config.split("/")[0]
        result = cli("convert", "--plugin", "mmdet", "--config", config, "--random-weights", "--out", out)
        assert_one_line_error(result, 2, name)
        assert "which the mmdet family does not convert" in result.err and "RetinaHead" in result.err, result.err
        assert "StandardRoIHead" in result.err and "--exporter mmdeploy" in result.err and not out.exists()
    assert built == []


def test_parameters_mmdetection_leaves_uninitialised_get_random_values():
    """Deformable DETR allocates level_embed with torch.Tensor(...) and sets it only in init_weights: built for
    --random-weights it held whatever memory it got (once NaN, and every detection of the artifact was NaN).
    initialise_unset gives it normal values (here planted: filled with NaN first)."""
    import torch

    from deploybridge_mmdet.config import build
    from deploybridge_mmdet.family import initialise_unset

    model, _ = build("deformable_detr/deformable-detr_r50_16xb2-50e_coco")
    with torch.no_grad():
        model.level_embed.fill_(float("nan"))
    initialise_unset(model)
    assert torch.isfinite(model.level_embed).all() and 0.5 < float(model.level_embed.std()) < 2.0
