"""Score thresholds that maximise F1 (seed 000's threshold search), overall and per class.

Detections are matched to ground truth greedily in descending score order, so
a detection's true-positive status does not depend on lower-scored ones: one
matching pass at threshold 0 gives TP/FP/FN at every threshold by cumulative
sums.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

from deploybridge.parity.matching import box_iou


@dataclass
class F1Point:
    threshold: float
    f1: float
    precision: float
    recall: float
    true_positives: int
    false_positives: int
    false_negatives: int

    def to_json(self) -> dict:
        return asdict(self)


def true_positive_flags(det_boxes: np.ndarray, det_scores: np.ndarray, gt_boxes: np.ndarray, iou: float) -> np.ndarray:
    """For one image and one class: which detections match a ground-truth box (greedy by score)."""
    order = np.argsort(-det_scores, kind="stable")
    flags = np.zeros(len(det_scores), bool)
    if not len(gt_boxes) or not len(det_boxes):
        return flags
    ious = box_iou(det_boxes, gt_boxes)
    taken = np.zeros(len(gt_boxes), bool)
    for i in order:
        candidates = np.where(~taken, ious[i], -1.0)
        j = int(candidates.argmax())
        if candidates[j] >= iou:
            taken[j] = True
            flags[i] = True
    return flags


def best_f1(scores: np.ndarray, flags: np.ndarray, num_gt: int) -> F1Point:
    """The threshold (one of the scores) with the highest F1; ties go to the higher threshold."""
    if not len(scores):
        return F1Point(1.0, 0.0, 0.0, 0.0, 0, 0, num_gt)
    order = np.argsort(-scores, kind="stable")
    s, f = scores[order], flags[order]
    tp = np.cumsum(f)
    fp = np.cumsum(~f)
    # a threshold equal to s[k] keeps every detection scoring >= s[k]: the last index of each score value
    last = np.r_[s[1:] != s[:-1], True]
    tp, fp, s = tp[last], fp[last], s[last]
    fn = num_gt - tp
    f1 = 2 * tp / np.maximum(2 * tp + fp + fn, 1)
    k = int(np.argmax(f1))  # first maximum = highest threshold
    return F1Point(float(s[k]), float(f1[k]), float(tp[k] / max(tp[k] + fp[k], 1)), float(tp[k] / max(num_gt, 1)),
                   int(tp[k]), int(fp[k]), int(fn[k]))


def search(images: Sequence[dict], iou: float = 0.5) -> dict:
    """``images``: [{"boxes", "scores", "labels", "gt_boxes", "gt_labels"}] (xyxy). Returns overall and per-class F1 optima."""
    scores, flags, labels, gt_count = [], [], [], {}
    for im in images:
        for c in np.unique(np.r_[im["labels"], im["gt_labels"]]).astype(int):
            d = im["labels"] == c
            g = im["gt_labels"] == c
            scores.append(im["scores"][d])
            flags.append(true_positive_flags(im["boxes"][d], im["scores"][d], im["gt_boxes"][g], iou))
            labels.append(np.full(int(d.sum()), c))
            gt_count[c] = gt_count.get(c, 0) + int(g.sum())
    scores = np.concatenate(scores) if scores else np.zeros(0)
    flags = np.concatenate(flags) if flags else np.zeros(0, bool)
    labels = np.concatenate(labels) if labels else np.zeros(0, int)
    per_class = {c: best_f1(scores[labels == c], flags[labels == c], n) for c, n in sorted(gt_count.items())}
    return {"iou": iou, "overall": best_f1(scores, flags, sum(gt_count.values())), "per_class": per_class}
