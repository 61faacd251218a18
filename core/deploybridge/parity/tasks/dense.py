"""Class scores per image (classification, N x C) or per pixel (semantic segmentation, N x C x H x W): the argmax
must agree, except where the reference's two best scores are a near-tie (within the tie margin)."""
from __future__ import annotations

from typing import Mapping

import numpy as np

CLASSIFICATION_BOUNDS = {"min_top1_agreement": 1.0}
SEGMENTATION_BOUNDS = {"min_pixel_agreement": 0.999}


def argmax_agreement(ref: np.ndarray, got: np.ndarray, axis: int, tie_margin: float) -> tuple[float, int]:
    """Fraction of positions whose argmax agrees, not counting near-ties: where the reference's two best scores are
    within ``tie_margin`` either answer is correct. The margin is its own quantity (see parity.task.tie_margin)."""
    if ref.shape != got.shape:
        return 0.0, 0
    top2 = -np.partition(-ref, 1, axis=axis).take([0, 1], axis=axis)
    ties = (top2.take(0, axis=axis) - top2.take(1, axis=axis)) <= tie_margin
    agree = (ref.argmax(axis) == got.argmax(axis)) | ties
    return float(agree.mean()), int(ties.sum())


def classification(ref: np.ndarray, got: np.ndarray, bounds: Mapping[str, float], tie_margin: float) -> tuple[dict, list[str]]:
    agree, ties = argmax_agreement(ref, got, -1, tie_margin)
    failures = [] if agree >= bounds["min_top1_agreement"] else [f"top-1 agreement {agree:.3f}"]
    return {"top1_agreement": agree, "near_ties": ties, "tie_margin": tie_margin}, failures


def segmentation(ref: np.ndarray, got: np.ndarray, bounds: Mapping[str, float], tie_margin: float) -> tuple[dict, list[str]]:
    agree, ties = argmax_agreement(ref, got, 1, tie_margin)
    failures = [] if agree >= bounds["min_pixel_agreement"] else [f"pixel agreement {agree:.5f}"]
    return {"pixel_agreement": agree, "near_tie_pixels": ties, "tie_margin": tie_margin}, failures
