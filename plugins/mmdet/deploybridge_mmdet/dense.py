"""Single-stage dense detectors (RetinaNet and heads like it) as tensor-in/tensor-out modules.

MMDetection's own ``predict_by_feat`` turns candidate counts into Python ints
(``min(nms_pre, len(valid))``), which the tracer bakes into the graph: the
export works on the example image and fails on any other. This module computes
the same thing with tensor ops: per level the top ``nms_pre`` (anchor, class)
scores above ``score_thr`` (top-k then threshold selects the same set as
threshold then top-k), boxes decoded by the head's own coder, class-wise NMS by
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
    def __init__(self, model, pre: dict):
        super().__init__()
        self.model = model
        self.normalise = Normalise(pre)
        cfg = model.bbox_head.test_cfg
        self.nms_pre, self.score_thr = int(cfg.get("nms_pre", -1)), float(cfg.get("score_thr", 0.0))
        self.iou = float(cfg["nms"]["iou_threshold"])
        self.max_per_img = int(cfg.get("max_per_img", 100))

    def forward(self, images):
        from torchvision.ops import batched_nms

        head = self.model.bbox_head
        height, width = images.shape[-2:]
        cls_scores, bbox_preds = head(self.model.extract_feat(self.normalise(images)))[:2]
        priors = head.prior_generator.grid_priors([c.shape[-2:] for c in cls_scores], dtype=images.dtype, device=images.device)
        classes = head.cls_out_channels
        boxes, scores, labels = [], [], []
        for cls, reg, prior in zip(cls_scores, bbox_preds, priors):
            score = cls[0].permute(1, 2, 0).reshape(-1, classes).sigmoid().reshape(-1)
            deltas = reg[0].permute(1, 2, 0).reshape(-1, head.bbox_coder.encode_size)
            top, index = top_candidates(score, self.nms_pre)
            anchor = torch.div(index, classes, rounding_mode="floor")
            # decoded before the score threshold: a level with no candidate above it would hand the coder zero boxes,
            # and its reshape to (count, -1) cannot infer -1 from zero elements (ONNX Runtime fails the input)
            decoded = head.bbox_coder.decode(prior[anchor], deltas[anchor], max_shape=(height, width))
            keep = top > self.score_thr
            boxes.append(decoded[keep])
            scores.append(top[keep])
            labels.append((index % classes)[keep])
        boxes, scores, labels = torch.cat(boxes), torch.cat(scores), torch.cat(labels)
        keep = batched_nms(boxes, scores, labels, self.iou)[: self.max_per_img]
        return boxes[keep], scores[keep], labels[keep]


def is_dense(model) -> bool:
    head = getattr(model, "bbox_head", None)
    return head is not None and hasattr(head, "prior_generator") and hasattr(head, "bbox_coder") and not hasattr(model, "roi_head")
