"""The torchvision models this family exports, with what each needs.

``heads`` lists the layers rescaled by --random-weights, in forward order, to
(target mean, target std) of their outputs: torchvision's own init gives
prior-probability biases and tiny logits, so a random detector would find
nothing (scores ~0.01 below the 0.05 threshold) and verification would
compare empty tensors. ``counts``: (score function, n) for the classifier whose
bias is then shifted so that about n (anchor or proposal, class) scores pass
the threshold on the least-scoring calibration image (weights.make_non_degenerate).
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Entry:
    task: str  # classification | segmentation | detection
    default_shape: tuple[int, int, int, int]
    heads: dict[str, tuple[float, float]] = field(default_factory=dict)
    masks: bool = False
    counts: dict[str, tuple[str, int]] = field(default_factory=dict)
    builder: str | None = None     # deploybridge_torchvision.shapes_models.BUILDERS key; None: torchvision.models
    checkpoint: str | None = None  # committed project-trained weights in checkpoints/, used when no --weights


_RCNN_HEADS = {"rpn.head.cls_logits": (0.0, 2.0), "roi_heads.box_predictor.cls_score": (0.0, 3.0)}
_RCNN_COUNTS = {"roi_heads.box_predictor.cls_score": ("softmax", 25)}

CATALOGUE: dict[str, Entry] = {
    "resnet50": Entry("classification", (1, 3, 224, 224), {"fc": (0.0, 3.0)}),
    "mobilenet_v3_small": Entry("classification", (1, 3, 224, 224), {"classifier.3": (0.0, 3.0)}),
    "deeplabv3_resnet50": Entry("segmentation", (1, 3, 320, 320), {"classifier.4": (0.0, 2.0)}),
    "retinanet_resnet50_fpn": Entry("detection", (1, 3, 320, 320), {"head.classification_head.cls_logits": (-4.0, 1.0)},
                                    counts={"head.classification_head.cls_logits": ("sigmoid", 20)}),
    "fasterrcnn_resnet50_fpn": Entry("detection", (1, 3, 320, 320), dict(_RCNN_HEADS), counts=_RCNN_COUNTS),
    "fasterrcnn_mobilenet_v3_large_320_fpn": Entry("detection", (1, 3, 320, 320), dict(_RCNN_HEADS), counts=_RCNN_COUNTS),
    "maskrcnn_resnet50_fpn": Entry(
        "detection", (1, 3, 320, 320),
        {**_RCNN_HEADS, "roi_heads.mask_predictor.mask_fcn_logits": (0.0, 2.0)}, masks=True, counts=_RCNN_COUNTS,
    ),
    # project-trained on the shapes dataset (scripts/train_shapes.py): the embedded default
    "shapes_maskrcnn": Entry(
        "detection", (1, 3, 192, 192),
        {**_RCNN_HEADS, "roi_heads.mask_predictor.mask_fcn_logits": (0.0, 2.0)}, masks=True, counts=_RCNN_COUNTS,
        builder="shapes_maskrcnn", checkpoint="shapes_maskrcnn.pth",
    ),
    "shapes_retinanet": Entry(
        "detection", (1, 3, 192, 192), {"head.classification_head.cls_logits": (-4.0, 1.0)},
        counts={"head.classification_head.cls_logits": ("sigmoid", 10)},
        builder="shapes_retinanet", checkpoint="shapes_retinanet.pth",
    ),
}
