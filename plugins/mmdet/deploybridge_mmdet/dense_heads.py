"""Per head family: a dense head's raw outputs -> per-level candidates (boxes, scores, labels, score factor or None).

Each function reproduces what the head's own ``predict_by_feat`` selects, with the candidate count computed in the
graph (``dense.top_candidates``), never baked in by the tracer. DenseDetector then multiplies the score factors,
drops boxes under ``min_bbox_size``, runs class-wise NMS and keeps ``max_per_img`` (``post_rules``).

How MMDetection 3.3 composes the scores (read from its source, held to its ``predict`` by the plugin tests):
- base heads (RetinaNet, ATSS, FCOS, RTMDet, SSD: ``BaseDenseHead._predict_by_feat_single``): per level the top
  ``nms_pre`` (prior, class) scores above ``score_thr`` -- sigmoid, or softmax without the background column when
  the head has no sigmoid classifier (SSD) -- then, after selection, times the sigmoid score factor (centerness of
  FCOS/ATSS, the head's third output);
- GFL: the same selection; boxes are the expectation of the per-side distance distribution (``Integral``) x stride
  from the anchor centres;
- FoveaBox: the same selection; boxes from the points by ``exp(pred) * base_edge``, clipped to the image - 1;
- YOLOX: all levels at once, one label per prior (its best class), score = class x objectness kept when
  ``>= score_thr``, no top-k, no clipping, no ``max_per_img``, no ``min_bbox_size``.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import torch

from deploybridge_mmdet.dense import top_candidates


class Level(NamedTuple):
    boxes: torch.Tensor
    scores: torch.Tensor
    labels: torch.Tensor
    factor: torch.Tensor | None  # multiplied into the scores after selection (FCOS/ATSS centerness)


def class_scores(head, cls: torch.Tensor) -> torch.Tensor:
    """(priors, classes) scores of one level's (A * channels, H, W) logits: sigmoid, or softmax less background."""
    logits = cls.permute(1, 2, 0).reshape(-1, head.cls_out_channels)
    return logits.sigmoid() if head.use_sigmoid_cls else logits.softmax(-1)[:, :-1]


def select(score: torch.Tensor, nms_pre: int, score_thr: float, decode: Callable, factor=None) -> Level:
    """The top ``nms_pre`` (prior, class) pairs of ``score`` (priors, classes) above ``score_thr`` (top-k then
    threshold selects the set threshold then top-k does); ``decode(prior_index)`` gives their boxes."""
    classes = score.shape[1]
    top, index = top_candidates(score.reshape(-1), nms_pre)
    prior = torch.div(index, classes, rounding_mode="floor")
    # decoded before the threshold: a level with no candidate above it would hand the decoder zero rows, which the
    # delta coder's reshape to (count, -1) cannot infer in ONNX Runtime
    boxes = decode(prior)
    keep = top > score_thr
    return Level(boxes[keep], top[keep], (index % classes)[keep], None if factor is None else factor[prior][keep])


def distance_boxes(coder, points: torch.Tensor, distances: torch.Tensor, height, width) -> torch.Tensor:
    """DistancePointBBoxCoder.decode: (left, top, right, bottom) distances from points; clipped out of place, as
    mmdet's in-place strided clamps are lost by the legacy exporter and its export branch imports mmdet.core."""
    x1, y1 = points[:, 0] - distances[:, 0], points[:, 1] - distances[:, 1]
    x2, y2 = points[:, 0] + distances[:, 2], points[:, 1] + distances[:, 3]
    if getattr(coder, "clip_border", True):
        x1, x2 = x1.clamp(min=0, max=width), x2.clamp(min=0, max=width)
        y1, y2 = y1.clamp(min=0, max=height), y2.clamp(min=0, max=height)
    return torch.stack([x1, y1, x2, y2], -1)


def _is_distance(coder) -> bool:
    return type(coder).__name__ == "DistancePointBBoxCoder"


def base_levels(head, outs, size, nms_pre: int, score_thr: float) -> list[Level]:
    """RetinaNet, ATSS, FCOS, RTMDet, SSD: BaseDenseHead._predict_by_feat_single; a third output is the score factor."""
    height, width = size
    cls_scores, bbox_preds = outs[0], outs[1]
    factors = outs[2] if len(outs) > 2 else [None] * len(cls_scores)
    priors = head.prior_generator.grid_priors([c.shape[-2:] for c in cls_scores], dtype=cls_scores[0].dtype,
                                              device=cls_scores[0].device)
    coder = head.bbox_coder
    levels = []
    for cls, reg, factor, prior in zip(cls_scores, bbox_preds, factors, priors):
        deltas = reg[0].permute(1, 2, 0).reshape(-1, coder.encode_size)
        if _is_distance(coder):
            decode = lambda i, p=prior, d=deltas: distance_boxes(coder, p[i], d[i], height, width)  # noqa: E731
        else:
            decode = lambda i, p=prior, d=deltas: coder.decode(p[i], d[i], max_shape=(height, width))  # noqa: E731
        factor = None if factor is None else factor[0].permute(1, 2, 0).reshape(-1).sigmoid()
        levels.append(select(class_scores(head, cls[0]), nms_pre, score_thr, decode, factor))
    return levels


def gfl_levels(head, outs, size, nms_pre: int, score_thr: float) -> list[Level]:
    """GFLHead._predict_by_feat_single: distances are the expectation of the distribution (Integral) x stride."""
    height, width = size
    cls_scores, bbox_preds = outs[0], outs[1]
    priors = head.prior_generator.grid_priors([c.shape[-2:] for c in cls_scores], dtype=cls_scores[0].dtype,
                                              device=cls_scores[0].device)
    bins = head.reg_max + 1
    levels = []
    for cls, reg, stride, prior in zip(cls_scores, bbox_preds, head.prior_generator.strides, priors):
        dist = reg[0].permute(1, 2, 0).reshape(-1, 4 * bins)

        def decode(i, p=prior, d=dist, s=stride[0]):
            return distance_boxes(head.bbox_coder, head.anchor_center(p[i]), head.integral(d[i]) * s, height, width)

        levels.append(select(class_scores(head, cls[0]), nms_pre, score_thr, decode))
    return levels


def fovea_levels(head, outs, size, nms_pre: int, score_thr: float) -> list[Level]:
    """FoveaHead._predict_by_feat_single: points + exp(pred) * the level's base edge, clipped to the image - 1."""
    cls_scores, bbox_preds = outs[0], outs[1]
    priors = head.prior_generator.grid_priors([c.shape[-2:] for c in cls_scores], dtype=cls_scores[0].dtype,
                                              device=cls_scores[0].device)
    levels = []
    for cls, reg, base_len, prior in zip(cls_scores, bbox_preds, head.base_edge_list, priors):
        pred = reg[0].permute(1, 2, 0).reshape(-1, 4)
        decode = lambda i, p=prior, d=pred, b=base_len: head._bbox_decode(p[i], d[i], b, size)  # noqa: E731
        levels.append(select(class_scores(head, cls[0]), nms_pre, score_thr, decode))
    return levels


def yolox_levels(head, outs, size, nms_pre: int, score_thr: float) -> list[Level]:
    """YOLOXHead.predict_by_feat: every prior once, its best class, score = class x objectness >= score_thr."""
    cls_scores, bbox_preds, objectness = outs[:3]
    priors = head.prior_generator.grid_priors([c.shape[-2:] for c in cls_scores], dtype=cls_scores[0].dtype,
                                              device=cls_scores[0].device, with_stride=True)
    cls = torch.cat([c[0].permute(1, 2, 0).reshape(-1, head.cls_out_channels) for c in cls_scores]).sigmoid()
    reg = torch.cat([r[0].permute(1, 2, 0).reshape(-1, 4) for r in bbox_preds])
    obj = torch.cat([o[0].permute(1, 2, 0).reshape(-1) for o in objectness]).sigmoid()
    boxes = head._bbox_decode(torch.cat(priors), reg)
    best, labels = cls.max(1)
    keep = obj * best >= score_thr
    return [Level(boxes[keep], best[keep] * obj[keep], labels[keep], None)]


# by class name, most specific first: subclasses (RTMDetHead is an ATSSHead) take the base rule unless listed
LEVELS = {"YOLOXHead": yolox_levels, "GFLHead": gfl_levels, "FoveaHead": fovea_levels}


def levels_for(head) -> Callable:
    for cls in type(head).__mro__:
        if cls.__name__ in LEVELS:
            return LEVELS[cls.__name__]
    return base_levels


def post_rules(head, cfg) -> tuple[float, int]:
    """(min_bbox_size, max_per_img) of the head's _bbox_post_process; -1 when it does not apply one. YOLOX's own
    post-processing filters no box size and keeps every NMS survivor."""
    if levels_for(head) is yolox_levels:
        return -1.0, -1
    return float(cfg.get("min_bbox_size", -1)), int(cfg.get("max_per_img", 100))
