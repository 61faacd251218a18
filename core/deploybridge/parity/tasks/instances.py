"""What every instance task shares: objects paired by overlap within their class, counted, labels and scores compared.

Detections (paired by box IoU) and mask-only instances (paired by mask IoU) differ only in the overlap used.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np

from deploybridge.parity.matching import binary, greedy_match, interior_flips, mask_iou

BOUNDS = {
    "iou_match": 0.5,              # overlap for two objects to be the same object
    "min_matched_fraction": 0.99,  # of max(reference count, backend count)
    "max_score_deviation": 0.01,
    "min_label_agreement": 1.0,    # of the objects paired by overlap alone: a swapped class is an error
    # objects scoring below this (in either output) are not compared: 0 compares all; int8 compares the confident
    # ones (parity.precision_gate), since rounding moves objects near the detection threshold in and out
    "min_compared_score": 0.0,
}
MASK_BOUNDS = {
    "min_mask_iou": 0.9,
    # of the object's area, pixels flipped away from the reference mask's edge (deploybridge.parity.matching), beyond
    # the first one
    "max_interior_flip_fraction": 0.005,
}


def pair_instances(iou: np.ndarray, ref: Mapping[str, np.ndarray], got: Mapping[str, np.ndarray],
                   bounds: Mapping[str, float]) -> tuple[list[tuple[int, int]], dict, list[str]]:
    """(pairs within class, metrics, failures) for counts, labels and scores."""
    rl, gl = ref["labels"].reshape(-1), got["labels"].reshape(-1)
    n_ref, n_got = iou.shape
    pairs = greedy_match(iou, rl[:, None] == gl[None, :], bounds["iou_match"])
    # label agreement pairs by overlap alone, same-class pairs first: an object the model reports twice with two
    # classes and one mask (SOLO does) must not pair across classes because its two masks tie
    same = rl[:, None] == gl[None, :]
    preferred = np.where(iou >= bounds["iou_match"], iou + same, -1.0)
    agnostic = greedy_match(preferred, np.ones_like(iou, bool), bounds["iou_match"])
    wrong = sum(int(rl[i] != gl[j]) for i, j in agnostic)
    m = {
        "reference_count": n_ref, "backend_count": n_got, "matched": len(pairs),
        "matched_fraction": len(pairs) / max(n_ref, n_got) if max(n_ref, n_got) else 1.0,
        "label_agreement": 1.0 - wrong / len(agnostic) if agnostic else 1.0,
        "max_score_deviation": float(max((abs(ref["scores"][i] - got["scores"][j]) for i, j in pairs), default=0.0)),
    }
    failures = []
    if m["matched_fraction"] < bounds["min_matched_fraction"]:
        failures.append(f"only {m['matched']} of {max(n_ref, n_got)} objects match (reference {n_ref}, backend {n_got})")
    if m["max_score_deviation"] > bounds["max_score_deviation"]:
        failures.append(f"scores deviate up to {m['max_score_deviation']:.3g}")
    if m["label_agreement"] < bounds["min_label_agreement"]:
        failures.append(f"{wrong} of {len(agnostic)} objects paired by overlap have another label")
    return pairs, m, failures


def compare_masks(ref: np.ndarray, got: np.ndarray, pairs: list[tuple[int, int]],
                  bounds: Mapping[str, float]) -> tuple[dict, list[str]]:
    """Mask IoU and interior flips of each pair's masks."""
    ious = [float(mask_iou(ref[i:i + 1], got[j:j + 1])[0, 0]) for i, j in pairs]
    # one pixel per object is the check's resolution: a thresholded (boolean) mask hides the probability, and a random-
    # weight mask head sits at 0.5 inside the object too (Cascade Mask R-CNN: one interior pixel of a 111-pixel object
    # flipped on 1 thread, 0.9 %); two pixels of it would still fail
    flips = [max(0, interior_flips(ref[i], got[j]) - 1) / max(int(np.count_nonzero(binary(ref[i]))), 1) for i, j in pairs]
    m = {"mean_mask_iou": float(np.mean(ious)) if ious else 1.0, "min_mask_iou": float(np.min(ious)) if ious else 1.0,
         "max_interior_flip_fraction": float(max(flips, default=0.0))}
    failures = []
    if m["min_mask_iou"] < bounds["min_mask_iou"]:
        failures.append(f"mask IoU as low as {m['min_mask_iou']:.3f}")
    if m["max_interior_flip_fraction"] > bounds["max_interior_flip_fraction"]:
        failures.append(f"{m['max_interior_flip_fraction']:.2%} of an object's mask flipped away from its edge")
    return m, failures
