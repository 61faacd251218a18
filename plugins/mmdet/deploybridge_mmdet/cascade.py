"""Cascade (Mask) R-CNN (MMDetection's ``CascadeRoIHead``) as a tensor-in/tensor-out module: the two-stage module
(two_stage.py: RPN, box and mask forward, post-processing, pasting) with the cascade's RoI steps, as
``CascadeRoIHead.predict`` computes them:

* every stage's box head runs on the current RoIs; between stages the RoIs are refined by the stage's
  ``regress_by_class`` with the argmax foreground label of that stage's logits;
* the class *logits* are averaged over the stages (``ms_scores``: before any softmax) and the last stage's
  ``predict_by_feat`` post-processes that average with the last stage's deltas on the last RoIs;
* masks: every stage's mask head on the final boxes, sigmoid, averaged (``merge_aug_masks``), pasted.

Tensor ops only (the stage count is the architecture's, a Python int): the legacy exporter traces it.
"""
from __future__ import annotations

import torch

from deploybridge_mmdet.two_stage import TwoStageDetector, box_forward, detect, is_two_stage, mask_probabilities


class CascadeDetector(TwoStageDetector):
    """Images (0-255, MMDetection's channel order) -> boxes, scores, labels (0-based) [, masks (N, H, W)
    probabilities], for a CascadeRCNN."""

    def roi_boxes(self, feats, proposals, cfg, height: int, width: int):
        roi_head = self.model.roi_head
        stages = roi_head.num_stages
        rois, logits = proposals, []
        for stage in range(stages):
            head = roi_head.bbox_head[stage]
            cls_score, bbox_pred = box_forward(roi_head.bbox_roi_extractor[stage], head, feats, rois)
            logits.append(cls_score)
            if stage < stages - 1:
                labels = cls_score[:, :-1].argmax(dim=1)  # support.py admits plain softmax classifiers only
                rois = head.regress_by_class(rois, labels, bbox_pred, {"img_shape": (height, width)})
        mean = logits[0]
        for more in logits[1:]:  # summed in stage order, then divided, as _refine_roi
            mean = mean + more
        return detect(roi_head.bbox_head[-1], rois, mean / float(stages), bbox_pred, cfg, height, width)

    def roi_masks(self, feats, boxes, labels):
        roi_head = self.model.roi_head
        stages = [mask_probabilities(roi_head.mask_roi_extractor[stage], roi_head.mask_head[stage], feats, boxes,
                                     labels) for stage in range(roi_head.num_stages)]
        return torch.stack(stages).mean(dim=0)  # merge_aug_masks: the stages' sigmoids, concatenated, mean


def is_cascade(model) -> bool:
    from deploybridge_mmdet.support import CASCADE_ROI_HEADS

    return is_two_stage(model, CASCADE_ROI_HEADS)
