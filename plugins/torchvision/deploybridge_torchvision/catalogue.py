"""The torchvision models this family exports, with what each needs.

``heads`` lists the layers rescaled by --random-weights, in forward order, to
(target mean, target std) of their outputs: torchvision's own init gives
prior-probability biases and tiny logits, so a random detector would find
nothing (scores ~0.01 below the 0.05 threshold) and verification would
compare empty tensors. ``counts``: (score function, n) for the classifier whose
bias is then shifted so that about n (anchor or proposal, class) scores pass
the threshold on the least-scoring calibration image (weights.make_non_degenerate).

Every detection, keypoint and segmentation builder of torchvision 0.29 is listed (torchvision.models.list_models);
``default_shape`` is the size it is converted at without --input-shape. SSD resizes to a fixed size inside its
graph: it is exported only at that size (``fixed_size``); its post-processing traced with 'len() of a 0-d tensor'
only while the negative_index rewrite broke the legacy exporter's own symbolics (fixed in core rewriting). ``unavailable``
would name why a builder cannot work, said before building (exit 2).
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Entry:
    task: str  # classification | segmentation | detection | keypoints
    default_shape: tuple[int, int, int, int]
    heads: dict[str, tuple[float, float]] = field(default_factory=dict)
    masks: bool = False
    counts: dict[str, tuple[str, int]] = field(default_factory=dict)
    builder: str | None = None     # deploybridge_torchvision.shapes_models.BUILDERS key; None: torchvision.models
    checkpoint: str | None = None  # committed project-trained weights in checkpoints/, used when no --weights
    score_threshold: float = 0.05  # the model's own: what ``counts`` are counted against
    fixed_size: int | None = None  # SSD: the square size its transform resizes every image to
    unavailable: str | None = None  # why this builder cannot be converted (refused before building)

    @property
    def finds_objects(self) -> bool:
        return self.task in ("detection", "keypoints")


_RCNN_HEADS = {"rpn.head.cls_logits": (0.0, 2.0), "roi_heads.box_predictor.cls_score": (0.0, 3.0)}
_RCNN_COUNTS = {"roi_heads.box_predictor.cls_score": ("softmax", 25)}
_RETINA_HEADS = {"head.classification_head.cls_logits": (-4.0, 1.0)}
_RETINA_COUNTS = {"head.classification_head.cls_logits": ("sigmoid", 20)}
_MASK_HEADS = {**_RCNN_HEADS, "roi_heads.mask_predictor.mask_fcn_logits": (0.0, 2.0)}
# heatmap logits spread wide enough that each keypoint's argmax is one clear peak, not a near-tie between pixels
_KEYPOINT_HEADS = {**_RCNN_HEADS, "roi_heads.keypoint_predictor.kps_score_lowres": (0.0, 3.0)}
# FCOS scores are sqrt(sigmoid(class) * sigmoid(centerness)) against 0.2: centerness near 1 leaves the class count
# and box offsets (after a ReLU) mostly positive: zero-width boxes match nothing
_FCOS_HEADS = {"head.regression_head.bbox_reg": (1.0, 0.3), "head.regression_head.bbox_ctrness": (4.0, 0.5), **_RETINA_HEADS}
# SSD: softmax over 91 classes for each anchor, one layer per feature level; a few (anchor, class) pairs per level
# pass its score threshold (0.01, SSDlite 0.001: random logits would let ~all 91 classes of every anchor through)
_SSD_HEADS = {f"head.classification_head.module_list.{i}": (0.0, 3.0) for i in range(6)}
_SSDLITE_HEADS = {f"head.classification_head.module_list.{i}.1": (0.0, 3.0) for i in range(6)}
_SSD_COUNTS = {name: ("softmax/91", 8) for name in _SSD_HEADS}
_SSDLITE_COUNTS = {name: ("softmax/91", 8) for name in _SSDLITE_HEADS}
_SEG = (1, 3, 320, 320)
_DET = (1, 3, 320, 320)

CATALOGUE: dict[str, Entry] = {
    "resnet50": Entry("classification", (1, 3, 224, 224), {"fc": (0.0, 3.0)}),
    "mobilenet_v3_small": Entry("classification", (1, 3, 224, 224), {"classifier.3": (0.0, 3.0)}),
    "deeplabv3_resnet50": Entry("segmentation", _SEG, {"classifier.4": (0.0, 2.0)}),
    "deeplabv3_resnet101": Entry("segmentation", _SEG, {"classifier.4": (0.0, 2.0)}),
    "deeplabv3_mobilenet_v3_large": Entry("segmentation", _SEG, {"classifier.4": (0.0, 2.0)}),
    "fcn_resnet50": Entry("segmentation", _SEG, {"classifier.4": (0.0, 2.0)}),
    "fcn_resnet101": Entry("segmentation", _SEG, {"classifier.4": (0.0, 2.0)}),
    # the output is the sum of the two classifiers
    "lraspp_mobilenet_v3_large": Entry("segmentation", _SEG, {"classifier.low_classifier": (0.0, 1.5),
                                                              "classifier.high_classifier": (0.0, 1.5)}),
    "retinanet_resnet50_fpn": Entry("detection", _DET, dict(_RETINA_HEADS), counts=_RETINA_COUNTS),
    "retinanet_resnet50_fpn_v2": Entry("detection", _DET, dict(_RETINA_HEADS), counts=_RETINA_COUNTS),
    # fewer than RetinaNet: the widest-spread image otherwise fills the 100-detection cap with near-equal scores
    "fcos_resnet50_fpn": Entry("detection", _DET, dict(_FCOS_HEADS), counts={"head.classification_head.cls_logits": ("sigmoid", 5)}),
    "fasterrcnn_resnet50_fpn": Entry("detection", _DET, dict(_RCNN_HEADS), counts=_RCNN_COUNTS),
    "fasterrcnn_resnet50_fpn_v2": Entry("detection", _DET, dict(_RCNN_HEADS), counts=_RCNN_COUNTS),
    "fasterrcnn_mobilenet_v3_large_fpn": Entry("detection", _DET, dict(_RCNN_HEADS), counts=_RCNN_COUNTS),
    "fasterrcnn_mobilenet_v3_large_320_fpn": Entry("detection", _DET, dict(_RCNN_HEADS), counts=_RCNN_COUNTS),
    "maskrcnn_resnet50_fpn": Entry("detection", _DET, dict(_MASK_HEADS), masks=True, counts=_RCNN_COUNTS),
    "maskrcnn_resnet50_fpn_v2": Entry("detection", _DET, dict(_MASK_HEADS), masks=True, counts=_RCNN_COUNTS),
    "keypointrcnn_resnet50_fpn": Entry("keypoints", _DET, dict(_KEYPOINT_HEADS), counts=_RCNN_COUNTS),
    "ssd300_vgg16": Entry("detection", (1, 3, 300, 300), dict(_SSD_HEADS), counts=_SSD_COUNTS, score_threshold=0.01,
                          fixed_size=300),
    "ssdlite320_mobilenet_v3_large": Entry("detection", (1, 3, 320, 320), dict(_SSDLITE_HEADS), counts=_SSDLITE_COUNTS,
                                           score_threshold=0.001, fixed_size=320),
    # project-trained on the shapes dataset (scripts/train_shapes.py): the embedded default
    "shapes_maskrcnn": Entry(
        "detection", (1, 3, 192, 192), dict(_MASK_HEADS), masks=True, counts=_RCNN_COUNTS,
        builder="shapes_maskrcnn", checkpoint="shapes_maskrcnn.pth",
    ),
    "shapes_retinanet": Entry(
        "detection", (1, 3, 192, 192), dict(_RETINA_HEADS),
        counts={"head.classification_head.cls_logits": ("sigmoid", 10)},
        builder="shapes_retinanet", checkpoint="shapes_retinanet.pth",
    ),
    # LRASPP on the shapes CNN (scripts/train_shapes_segmenter.py): semantic segmentation, --eval shapes gives mIoU
    "shapes_segmenter": Entry(
        "segmentation", (1, 3, 192, 192), {"classifier.low_classifier": (0.0, 1.5), "classifier.high_classifier": (0.0, 1.5)},
        builder="shapes_segmenter", checkpoint="shapes_segmenter.pth",
    ),
}
