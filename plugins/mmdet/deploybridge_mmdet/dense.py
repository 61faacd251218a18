"""Single-stage dense detectors (RetinaNet, FCOS, ATSS, GFL, YOLOX, RTMDet, FoveaBox, SSD) as tensor-in/tensor-out modules.

MMDetection's own ``predict_by_feat`` turns candidate counts into Python ints
(``min(nms_pre, len(valid))``), which the tracer bakes into the graph: the
export works on the example image and fails on any other. This module computes
the same thing with tensor ops: per level the top ``nms_pre`` (anchor, class)
scores above ``score_thr`` (top-k then threshold selects the same set as
threshold then top-k), boxes decoded by the head's own coder (per head family: dense_heads.py), class-wise NMS by
the same coordinate-offset trick as mmcv's ``batched_nms``, then ``max_per_img``.
Verified against MMDetection's unmodified ``predict`` by the plugin tests.
"""
from __future__ import annotations

import torch


class Normalise(torch.nn.Module):
    """0-255 pixels in MMDetection's loaded channel order (BGR) -> the network's normalised input."""

    def __init__(self, pre: dict):
        super().__init__()
        self.flip = pre["bgr_to_rgb"]
        self.register_buffer("mean", torch.tensor(pre["mean"], dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(pre["std"], dtype=torch.float32).view(1, 3, 1, 1))

    def forward(self, images):
        x = images.flip(1) if self.flip else images
        return (x - self.mean) / self.std


def top_candidates(score, limit: int):
    """``score.topk(min(limit, len(score)))`` (all of them when ``limit <= 0``), with the count computed in the graph:
    Python's min() on a traced size bakes the count in and warns on every level (as torchvision's _topk_min)."""
    if limit <= 0:
        return score.topk(score.shape[0])
    if not torch.jit.is_tracing():
        return score.topk(min(limit, score.shape[0]))
    count = torch.min(torch.cat([torch.full((1,), limit, dtype=torch.long), torch._shape_as_tensor(score)[:1]]))
    return score.topk(count)  # a 0-d tensor k: the exporter writes it as TopK's K input


class DenseDetector(torch.nn.Module):
    """A single-stage detector whose head dense_heads.py decodes: normalisation, network, per-level candidates,
    score factors, minimum box size, class-wise NMS, max_per_img, as the head's own predict does."""

    def __init__(self, model, pre: dict):
        super().__init__()
        from deploybridge_mmdet.dense_heads import levels_for, post_rules

        self.model = model
        self.pre = pre
        self.normalise = Normalise(pre)
        cfg = model.bbox_head.test_cfg
        self.nms_pre, self.score_thr = int(cfg.get("nms_pre", -1)), float(cfg.get("score_thr", 0.0))
        self.iou = float(cfg["nms"]["iou_threshold"])
        self.levels = levels_for(model.bbox_head)
        self.min_size, self.max_per_img = post_rules(model.bbox_head, cfg)

    def forward(self, images):
        from torchvision.ops import batched_nms

        outs = self.model.bbox_head(self.model.extract_feat(self.normalise(images)))
        levels = self.levels(self.model.bbox_head, outs, images.shape[-2:], self.nms_pre, self.score_thr)
        boxes, scores, labels = (torch.cat([getattr(level, key) for level in levels]) for key in ("boxes", "scores", "labels"))
        if levels[0].factor is not None:  # after selection, before NMS (BaseDenseHead._bbox_post_process)
            scores = scores * torch.cat([level.factor for level in levels])
        if self.min_size >= 0:
            big = (boxes[:, 2] - boxes[:, 0] > self.min_size) & (boxes[:, 3] - boxes[:, 1] > self.min_size)
            boxes, scores, labels = boxes[big], scores[big], labels[big]
        keep = batched_nms(boxes, scores, labels, self.iou)
        if self.max_per_img >= 0:
            keep = keep[: self.max_per_img]
        return boxes[keep], scores[keep], labels[keep]


def is_dense(model) -> bool:
    head = getattr(model, "bbox_head", None)
    return head is not None and hasattr(head, "prior_generator") and not hasattr(model, "roi_head")
