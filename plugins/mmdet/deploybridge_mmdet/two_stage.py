"""Two-stage detectors (Faster / Mask R-CNN) from MMDetection configs as tensor-in/tensor-out modules.

MMDetection's ``predict`` carries InstanceData objects through Python control
flow (empty-result branches, ``len()``, per-chunk mask pasting) that the tracer
bakes into the graph. This module computes the same steps with tensor ops and
the model's own layers:

* RPN: per level the top ``nms_pre`` objectness scores, boxes decoded by the
  head's coder, zero-size boxes dropped, NMS across levels (level as the class,
  as ``batched_nms``), top ``max_per_img`` proposals;
* box head on the RoI-aligned proposals (the extractor's own ONNX branch keeps
  every level's RoIAlign), softmax, per-class decoding, every (proposal, class)
  over ``score_thr``, class-wise NMS, top ``max_per_img``;
* mask head on the kept boxes, the label's channel, pasted into the image by
  MMDetection's own ``_do_paste_mask``, as probabilities (threshold: the config's ``mask_thr_binary``).

Held to MMDetection's unmodified ``predict`` by framework parity in every
conversion and by the plugin tests.
"""
from __future__ import annotations

import torch


def rpn_proposals(head, cls_scores, bbox_preds, cfg, height: int, width: int):
    from torchvision.ops import batched_nms

    from deploybridge_mmdet.dense import top_candidates

    priors = head.prior_generator.grid_priors([c.shape[-2:] for c in cls_scores], dtype=cls_scores[0].dtype,
                                              device=cls_scores[0].device)
    nms_pre = int(cfg.get("nms_pre", -1))
    boxes, scores, levels = [], [], []
    for level, (cls, reg, prior) in enumerate(zip(cls_scores, bbox_preds, priors)):
        score = cls[0].permute(1, 2, 0).reshape(-1)
        score = score.sigmoid() if head.use_sigmoid_cls else score.reshape(-1, 2).softmax(-1)[:, 0]
        deltas = reg[0].permute(1, 2, 0).reshape(-1, head.bbox_coder.encode_size)
        top, index = top_candidates(score, nms_pre)
        boxes.append(head.bbox_coder.decode(prior[index], deltas[index], max_shape=(height, width)))
        scores.append(top)
        levels.append(torch.full_like(index, level))
    boxes, scores, levels = torch.cat(boxes), torch.cat(scores), torch.cat(levels)
    min_size = float(cfg.get("min_bbox_size", -1))
    if min_size >= 0:
        valid = ((boxes[:, 2] - boxes[:, 0]) > min_size) & ((boxes[:, 3] - boxes[:, 1]) > min_size)
        boxes, scores, levels = boxes[valid], scores[valid], levels[valid]
    keep = batched_nms(boxes, scores, levels, float(cfg["nms"]["iou_threshold"]))[: int(cfg["max_per_img"])]
    return boxes[keep]


def box_forward(extractor, head, feats, boxes):
    """One box head on RoIAlign of ``boxes`` (one image): (class logits, box deltas), as ``_bbox_forward``."""
    from mmdet.structures.bbox import bbox2roi

    return head(extractor(feats[: extractor.num_inputs], bbox2roi([boxes])))


def detect(head, proposals, cls_score, bbox_pred, cfg, height: int, width: int):
    """``head.predict_by_feat`` on one image's logits and deltas for ``proposals``: softmax, per-class decoding,
    every (proposal, class) over ``score_thr``, class-wise NMS, top ``max_per_img``."""
    from torchvision.ops import batched_nms

    scores = cls_score.softmax(-1)[:, :-1]  # the last column is background
    classes = scores.shape[1]
    per_class = 1 if head.reg_class_agnostic else classes
    deltas = bbox_pred.reshape(-1, head.bbox_coder.encode_size)
    # repeat_interleave as expand + reshape: the legacy exporter's repeat_interleave fails (len() of a 0-d tensor)
    repeated = proposals[:, None, :].expand(-1, per_class, 4).reshape(-1, 4)
    boxes = head.bbox_coder.decode(repeated, deltas, max_shape=(height, width))
    boxes = boxes.reshape(-1, per_class, 4).expand(-1, classes, 4).reshape(-1, 4)
    labels = torch.arange(classes, device=scores.device).repeat(scores.shape[0])
    scores = scores.reshape(-1)
    valid = scores > float(cfg["score_thr"])
    boxes, scores, labels = boxes[valid], scores[valid], labels[valid]
    keep = batched_nms(boxes, scores, labels, float(cfg["nms"]["iou_threshold"]))[: int(cfg["max_per_img"])]
    return boxes[keep], scores[keep], labels[keep]


def mask_probabilities(extractor, head, feats, boxes, labels):
    """One mask head on RoIAlign of ``boxes``: the sigmoid of each box's label channel, (N, 28, 28)."""
    from mmdet.structures.bbox import bbox2roi

    mask_preds = head(extractor(feats[: extractor.num_inputs], bbox2roi([boxes])))
    if not head.class_agnostic:
        mask_preds = mask_preds[torch.arange(mask_preds.shape[0], device=labels.device), labels]
    else:
        mask_preds = mask_preds[:, 0]
    return mask_preds.sigmoid()


def paste_masks(probabilities, boxes, height: int, width: int):
    """(N, 28, 28) mask probabilities pasted into the image by MMDetection's own ``_do_paste_mask``."""
    from mmdet.models.roi_heads.mask_heads.fcn_mask_head import _do_paste_mask

    pasted, _ = _do_paste_mask(probabilities[:, None], boxes, height, width, skip_empty=False)
    # probabilities, not MMDetection's ``>= mask_thr_binary`` booleans: a pixel whose probability sits on the
    # threshold may flip between PyTorch and a backend (measured: 1 of 8.2 M), which a tolerance on probabilities
    # absorbs and a boolean comparison cannot; consumers threshold (deploy run and the parity checks at 0.5)
    return pasted


class TwoStageDetector(torch.nn.Module):
    """Images (0-255, MMDetection's channel order) -> boxes, scores, labels (0-based) [, masks (N, H, W)
    probabilities]."""

    def __init__(self, model, pre: dict):
        from deploybridge_mmdet.dense import Normalise

        super().__init__()
        self.model = model
        self.normalise = Normalise(pre)
        self.with_mask = bool(getattr(model.roi_head, "with_mask", False))

    def forward(self, images):
        height, width = images.shape[-2:]
        model = self.model
        feats = model.extract_feat(self.normalise(images))
        cls_scores, bbox_preds = model.rpn_head(feats)
        proposals = rpn_proposals(model.rpn_head, cls_scores, bbox_preds, model.test_cfg.rpn, height, width)
        boxes, scores, labels = self.roi_boxes(feats, proposals, model.test_cfg.rcnn, height, width)
        if not self.with_mask:
            return boxes, scores, labels
        return boxes, scores, labels, paste_masks(self.roi_masks(feats, boxes, labels), boxes, height, width)

    def roi_boxes(self, feats, proposals, cfg, height: int, width: int):
        """The RoI head's detections from the proposals (a cascade refines them first: cascade.py)."""
        roi_head = self.model.roi_head
        cls_score, bbox_pred = box_forward(roi_head.bbox_roi_extractor, roi_head.bbox_head, feats, proposals)
        return detect(roi_head.bbox_head, proposals, cls_score, bbox_pred, cfg, height, width)

    def roi_masks(self, feats, boxes, labels):
        """(N, 28, 28) mask probabilities of the detections (a cascade averages its stages': cascade.py)."""
        roi_head = self.model.roi_head
        return mask_probabilities(roi_head.mask_roi_extractor, roi_head.mask_head, feats, boxes, labels)


def is_two_stage(model, roi_heads: tuple[str, ...] | None = None) -> bool:
    """An RPN and one of ``roi_heads`` (default: support.ROI_HEADS) with a box RoI extractor."""
    from deploybridge_mmdet.support import ROI_HEADS

    roi_head = getattr(model, "roi_head", None)
    return (getattr(model, "rpn_head", None) is not None and roi_head is not None
            and hasattr(roi_head, "bbox_roi_extractor") and type(roi_head).__name__ in (roi_heads or ROI_HEADS))
