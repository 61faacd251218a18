"""Ties: where the reference itself chose between near-equal candidates, so that two correct runtimes may choose
differently. Classification and segmentation find them in their own outputs (the two best scores within
:func:`tie_margin`); a keypoint's heatmap is not an output, so its family shows them (``LoadedModel.at_tie``) and
:func:`tie_finder` asks it. Such elements are left out of parity and counted, never silently."""
from __future__ import annotations

from typing import Callable, Mapping

import numpy as np

from deploybridge.parity.noise_floor import NOISE_FACTOR
from deploybridge.records import LoadedModel, Task, Tolerance


def tie_margin(floor: float | None, atol: float) -> float:
    """How close the reference's two best scores may be for either argmax to be right.

    Two correct runtimes each sit about one noise-floor multiple (the tolerance factor) from the exact scores, so
    each of the two best may move by that much in opposite directions: twice the output's noise-derived bound.
    Without a measured floor, twice the output's absolute tolerance.
    """
    return 2.0 * (NOISE_FACTOR * floor if floor is not None else atol)


def tie_finder(loaded: LoadedModel, tolerances: Mapping[str, Tolerance],
               px: float | None = None) -> Callable[[dict], Mapping[str, np.ndarray]] | None:
    """numpy inputs -> the family's tie evidence (``LoadedModel.at_tie``) with each output's tie margin (twice its
    noise-derived bound, as for classification ties); None when the family gives none."""
    if loaded.at_tie is None:
        return None
    import torch

    from deploybridge.parity.task import TASK_BOUNDS

    margins = {n: tie_margin(t.noise_floor, t.atol) for n, t in tolerances.items()}
    px = px if px is not None else TASK_BOUNDS[Task.KEYPOINTS]["max_keypoint_deviation_px"]
    return lambda inputs: loaded.at_tie(tuple(torch.from_numpy(v) for v in inputs.values()), margins, px)
