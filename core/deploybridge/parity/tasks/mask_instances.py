"""Instances given by masks alone (SOLO: masks, scores, labels, no boxes): paired by mask IoU within a class.

Without boxes a tensor comparison of the mask stack says little (one object's mask 1 % wrong is a millionth of the
stack), so every verification pairs the objects and holds each pair's mask to the mask bounds.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np

from deploybridge.parity.matching import mask_iou
from deploybridge.parity.tasks.instances import BOUNDS as INSTANCE_BOUNDS
from deploybridge.parity.tasks.instances import MASK_BOUNDS, compare_masks, pair_instances

BOUNDS = {**INSTANCE_BOUNDS, **MASK_BOUNDS}
OUTPUTS = ("masks", "scores", "labels")


def check(ref: Mapping[str, np.ndarray], got: Mapping[str, np.ndarray], bounds: Mapping[str, float]) -> tuple[dict, list[str]]:
    rm, gm = ref["masks"], got["masks"]
    iou = mask_iou(rm, gm) if len(rm) and len(gm) else np.zeros((len(rm), len(gm)))
    pairs, m, failures = pair_instances(iou, ref, got, bounds)
    masks, mask_failures = compare_masks(rm, gm, pairs, bounds)
    return {**m, **masks}, failures + mask_failures
