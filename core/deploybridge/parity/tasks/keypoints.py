"""Keypoint detectors (boxes, scores, labels, keypoints N x K x 3 as x, y, visibility): detections paired by box,
then each pair's keypoints compared where the reference marks them visible."""
from __future__ import annotations

from typing import Mapping

import numpy as np

from deploybridge.parity.tasks import detection

BOUNDS = {**detection.BOUNDS, "max_keypoint_deviation_px": 1.0}
OUTPUTS = (*detection.OUTPUTS, "keypoints")


def check(ref: Mapping[str, np.ndarray], got: Mapping[str, np.ndarray], bounds: Mapping[str, float]) -> tuple[dict, list[str]]:
    m, failures, pairs = detection.check(ref, got, bounds)
    worst = 0.0
    for i, j in pairs:
        r, g = ref["keypoints"][i], got["keypoints"][j]
        visible = r[:, 2] > 0 if r.shape[-1] > 2 else np.ones(len(r), bool)
        if visible.any():
            worst = max(worst, float(np.abs(r[visible, :2] - g[visible, :2]).max()))
    m["max_keypoint_deviation_px"] = worst
    if worst > bounds["max_keypoint_deviation_px"]:
        failures.append(f"keypoints deviate up to {worst:.2f} px")
    return m, failures
