"""Class scores per image (classification, N x C) or per pixel (semantic segmentation, N x C x H x W): the argmax
must agree, except where the reference's two best scores are a near-tie (within the tie margin). Segmentation also
compares the argmax class maps class by class (IoU): a small class lost entirely moves pixel agreement by less than
its bound, never a class's IoU."""
from __future__ import annotations

from typing import Mapping

import numpy as np

CLASSIFICATION_BOUNDS = {"min_top1_agreement": 1.0}
SEGMENTATION_BOUNDS = {"min_pixel_agreement": 0.999, "min_class_iou": 0.99}


def near_ties(ref: np.ndarray, axis: int, tie_margin: float) -> np.ndarray:
    """Where the reference's two best scores are within ``tie_margin``: either answer is correct there."""
    top2 = -np.partition(-ref, 1, axis=axis).take([0, 1], axis=axis)
    return (top2.take(0, axis=axis) - top2.take(1, axis=axis)) <= tie_margin


def argmax_agreement(ref: np.ndarray, got: np.ndarray, axis: int, tie_margin: float) -> tuple[float, int]:
    """Fraction of positions whose argmax agrees, not counting near-ties: where the reference's two best scores are
    within ``tie_margin`` either answer is correct. The margin is its own quantity (see parity.ties.tie_margin)."""
    if ref.shape != got.shape:
        return 0.0, 0
    ties = near_ties(ref, axis, tie_margin)
    agree = (ref.argmax(axis) == got.argmax(axis)) | ties
    return float(agree.mean()), int(ties.sum())


def class_iou(ref_map: np.ndarray, got_map: np.ndarray, classes: int) -> dict[int, float]:
    """IoU of each class present in either class map (a confusion matrix: diagonal over row + column - diagonal)."""
    confusion = np.bincount(ref_map.ravel() * classes + got_map.ravel(), minlength=classes * classes)
    confusion = confusion.reshape(classes, classes)
    inter = np.diag(confusion)
    union = confusion.sum(0) + confusion.sum(1) - inter
    return {int(c): float(inter[c] / union[c]) for c in np.flatnonzero(union)}


def classification(ref: np.ndarray, got: np.ndarray, bounds: Mapping[str, float], tie_margin: float) -> tuple[dict, list[str]]:
    agree, ties = argmax_agreement(ref, got, -1, tie_margin)
    failures = [] if agree >= bounds["min_top1_agreement"] else [f"top-1 agreement {agree:.3f}"]
    return {"top1_agreement": agree, "near_ties": ties, "tie_margin": tie_margin}, failures


def segmentation(ref: np.ndarray, got: np.ndarray, bounds: Mapping[str, float], tie_margin: float) -> tuple[dict, list[str]]:
    """Pixel agreement and per-class IoU of the argmax class maps, near-tie pixels counted as the reference's class
    (either answer is right there, so neither measure may fail on them)."""
    agree, ties = argmax_agreement(ref, got, 1, tie_margin)
    ious: dict[int, float] = {}
    if ref.shape == got.shape:
        ref_map = ref.argmax(1)
        got_map = np.where(near_ties(ref, 1, tie_margin), ref_map, got.argmax(1))
        ious = class_iou(ref_map, got_map, ref.shape[1])
    worst = min(ious, key=ious.get) if ious else None
    lowest = ious[worst] if ious else 0.0
    failures = [] if agree >= bounds["min_pixel_agreement"] else [f"pixel agreement {agree:.5f}"]
    if lowest < bounds["min_class_iou"]:
        failures.append(f"class {worst} IoU {lowest:.4f}" if ious else f"scores of shape {got.shape}, reference {ref.shape}")
    metrics = {"pixel_agreement": agree, "min_class_iou": lowest, "near_tie_pixels": ties, "tie_margin": tie_margin,
               "class_count": len(ious), "class_iou": {str(c): v for c, v in sorted(ious.items())}}
    return metrics, failures
