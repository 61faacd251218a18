"""Detections (boxes, scores, labels), with masks for instance segmentation: paired by box IoU within a class.

Seed 000's silently wrong export moved scores and boxes; reordering near-tied detections must not count as an error.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np

from deploybridge.parity.matching import box_iou
from deploybridge.parity.tasks.instances import BOUNDS as INSTANCE_BOUNDS
from deploybridge.parity.tasks.instances import MASK_BOUNDS, compare_masks, pair_instances

BOUNDS = {**INSTANCE_BOUNDS, "max_box_deviation_px": 1.0}
OUTPUTS = ("boxes", "scores", "labels")


def check(ref: Mapping[str, np.ndarray], got: Mapping[str, np.ndarray], bounds: Mapping[str, float],
          with_masks: bool = False) -> tuple[dict, list[str], list[tuple[int, int]]]:
    """(metrics, failures, pairs); masks compared per pair when ``with_masks``."""
    rb, gb = ref["boxes"].reshape(-1, 4), got["boxes"].reshape(-1, 4)
    iou = box_iou(rb, gb) if len(rb) and len(gb) else np.zeros((len(rb), len(gb)))
    pairs, m, failures = pair_instances(iou, ref, got, bounds)
    m["max_box_deviation_px"] = float(max((np.abs(rb[i] - gb[j]).max() for i, j in pairs), default=0.0))
    if m["max_box_deviation_px"] > bounds["max_box_deviation_px"]:
        failures.append(f"boxes deviate up to {m['max_box_deviation_px']:.2f} px")
    if with_masks:
        masks, mask_failures = compare_masks(ref["masks"], got["masks"], pairs, {**MASK_BOUNDS, **bounds})
        m.update(masks)
        failures += mask_failures
    return m, failures, pairs
