"""Ties: where the reference itself chose between near-equal candidates, so that two correct runtimes may choose
differently. Classification and segmentation find them in their own outputs (the two best scores within
:func:`tie_margin`); a keypoint's heatmap is not an output, so its family shows them (``LoadedModel.at_tie``) and
:func:`tie_finder` asks it. Such elements are left out of parity and counted, never silently."""
from __future__ import annotations

from typing import Callable, Mapping, Sequence

import numpy as np

from deploybridge.parity.noise_floor import NOISE_FACTOR
from deploybridge.records import LoadedModel, OutputSpec, Task, Tolerance


def tie_margin(floor: float | None, atol: float) -> float:
    """How close the reference's two best scores may be for either argmax to be right.

    Two correct runtimes each sit about one noise-floor multiple (the tolerance factor) from the exact scores, so
    each of the two best may move by that much in opposite directions: twice the output's noise-derived bound.
    Without a measured floor, twice the output's absolute tolerance.
    """
    return 2.0 * (NOISE_FACTOR * floor if floor is not None else atol)


def tie_finder(loaded: LoadedModel, tolerances: Mapping[str, Tolerance],
               task_tolerances: Mapping[str, float] | None = None) -> Callable[[dict], Mapping[str, np.ndarray]] | None:
    """numpy inputs -> the family's tie evidence (``LoadedModel.at_tie``) with each output's tie margin (twice its
    noise-derived bound, as for classification ties) and the keypoint bound in px; None when the family gives none."""
    if loaded.at_tie is None:
        return None
    import torch

    from deploybridge.parity.task import TASK_BOUNDS

    margins = {n: tie_margin(t.noise_floor, t.atol) for n, t in tolerances.items()}
    px = {**TASK_BOUNDS[Task.KEYPOINTS], **(task_tolerances or {})}["max_keypoint_deviation_px"]
    return lambda inputs: loaded.at_tie(tuple(torch.from_numpy(v) for v in inputs.values()), margins, px)


def threshold_ties(outputs: Sequence[OutputSpec], ref: Mapping[str, np.ndarray], got: Mapping[str, np.ndarray],
                   threshold: float | None, margin: float) -> tuple[dict, dict, np.ndarray | None, int]:
    """Both runs without the detections that only one of them kept and whose score lies within ``margin`` of the
    model's score ``threshold``: a score that close to the cut may fall either side of it in two correct runtimes
    (torchvision's Mask R-CNN v2 at 320²: a 0.050005 detection ONNX Runtime and float64 PyTorch keep and float32
    PyTorch drops). Returns (ref, got, which reference rows were kept or None when none was left out, how many rows
    were left out). A row one side alone kept far from the threshold stays: the counts then differ and parity fails."""
    from deploybridge.parity.matching import detection_pairs, detection_rows
    from deploybridge.parity.output_names import model_name

    per_det = [o.name for o in outputs if o.per_detection]
    scores = model_name("scores", per_det)
    pairs = None if threshold is None or scores is None else detection_pairs(per_det, ref, got)
    if pairs is None:
        return dict(ref), dict(got), None, 0

    def keep(run: Mapping[str, np.ndarray], paired: list[int]) -> np.ndarray:
        kept = np.abs(np.asarray(run[scores], np.float64) - threshold) > margin
        kept[paired] = True
        return kept

    keep_ref, keep_got = keep(ref, [i for i, _ in pairs]), keep(got, [j for _, j in pairs])
    if keep_ref.all() and keep_got.all():
        return dict(ref), dict(got), None, 0
    return (detection_rows(ref, per_det, keep_ref), detection_rows(got, per_det, keep_got), keep_ref,
            int((~keep_ref).sum() + (~keep_got).sum()))
