"""Keypoint detectors (boxes, scores, labels, keypoints N x K x 3 as x, y, visibility): detections paired by box,
then each pair's keypoints compared where the reference marks them visible, except those the reference chose at a
tie (``tied``: its heatmap had another peak more than the bound away within the tie margin; either is right)."""
from __future__ import annotations

from typing import Mapping

import numpy as np

from deploybridge.parity.tasks import detection

BOUNDS = {**detection.BOUNDS, "max_keypoint_deviation_px": 1.0}
OUTPUTS = (*detection.OUTPUTS, "keypoints")


def check(ref: Mapping[str, np.ndarray], got: Mapping[str, np.ndarray], bounds: Mapping[str, float],
          tied: np.ndarray | None = None) -> tuple[dict, list[str]]:
    m, failures, pairs = detection.check(ref, got, bounds)
    worst, at_tie, compared = 0.0, 0, 0
    for i, j in pairs:
        r, g = ref["keypoints"][i], got["keypoints"][j]
        visible = r[:, 2] > 0 if r.shape[-1] > 2 else np.ones(len(r), bool)
        if tied is not None and i < len(tied):
            at_tie += int((visible & tied[i]).sum())
            visible = visible & ~tied[i]
        compared += int(visible.sum())
        if visible.any():
            worst = max(worst, float(np.abs(r[visible, :2] - g[visible, :2]).max()))
    m["max_keypoint_deviation_px"] = worst
    m["keypoints_compared"], m["keypoints_at_tie"] = compared, at_tie
    if at_tie and not compared:  # the evidence must not leave the check with nothing to compare
        failures.append(f"all {at_tie} visible keypoints are at a tie in the reference: nothing compared (inconclusive)")
    if worst > bounds["max_keypoint_deviation_px"]:
        failures.append(f"keypoints deviate up to {worst:.2f} px")
    return m, failures
