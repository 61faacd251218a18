"""The wrapper against the framework's own, unmodified prediction (MMDetection's ``predict``, say).

Tensor parity proves the artifact computes what the exported wrapper computes;
this proves the wrapper computes what the framework computes. Instances are
matched per class by mask IoU (box IoU for box-only models), because near-tied
scores (SOLO's point NMS) may order or even pick a few instances differently;
the result says how many matched instead of loosening a tensor tolerance.
"""
from __future__ import annotations

from typing import Callable, Mapping, Sequence

import numpy as np

from deploybridge.parity.matching import box_iou, greedy_match, mask_iou
from deploybridge.parity.output_names import canonical

THRESHOLDS = {"match_iou": 0.95, "min_matched_fraction": 0.99, "max_score_deviation": 1e-3}


def instance_parity(framework: Mapping[str, np.ndarray], wrapper: Mapping[str, np.ndarray]) -> dict:
    framework, wrapper = canonical(framework), canonical(wrapper)  # "classes" read as "labels"
    key = "masks" if "masks" in framework and "masks" in wrapper else "boxes"
    ref, got = np.asarray(framework[key]), np.asarray(wrapper[key])
    iou = (mask_iou(ref, got) if key == "masks" else box_iou(ref, got)) if len(ref) and len(got) else np.zeros((len(ref), len(got)))
    same = np.asarray(framework["labels"])[:, None] == np.asarray(wrapper["labels"])[None, :]
    pairs = greedy_match(iou, same, THRESHOLDS["match_iou"])
    n = max(len(ref), len(got))
    matched = len(pairs) / n if n else 1.0
    deviation = max((abs(float(framework["scores"][i]) - float(wrapper["scores"][j])) for i, j in pairs), default=0.0)
    ious = [float(iou[i, j]) for i, j in pairs]
    return {"matched_by": key, "framework_count": len(ref), "wrapper_count": len(got), "matched": len(pairs),
            "matched_fraction": matched, "mean_iou": float(np.mean(ious)) if ious else 1.0,
            "min_iou": float(np.min(ious)) if ious else 1.0, "max_score_deviation": deviation,
            "passed": matched >= THRESHOLDS["min_matched_fraction"] and deviation <= THRESHOLDS["max_score_deviation"]}


def check(framework: Callable[[tuple], dict], make_inputs: Callable[[int], tuple],
          reference: Callable[[int], tuple[dict, dict]], seeds: Sequence[int]) -> dict:
    """``framework(inputs)`` against the wrapper's reference outputs on each verification seed."""
    rows = [{"seed": seed, **instance_parity(framework(make_inputs(seed)), reference(seed)[1])} for seed in seeds]
    return {"thresholds": dict(THRESHOLDS), "inputs": rows, "passed": all(r["passed"] for r in rows)}
