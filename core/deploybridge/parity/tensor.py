"""Tensor parity: one input's outputs from the reference (PyTorch) and from the backend, output by output.

Outputs are matched by name, never by position. For per-detection outputs the
number of detections is compared first; rows are then paired by matching
boxes (same label, smallest box deviation), because near-tied scores may be
ordered differently by two correct runtimes. A fixed-count top-k (DETR's 300
of queries x classes) may also keep a different row at its cut when two scores
there are closer than the runtimes' noise: such rows, both within twice the
score tolerance of the lowest kept score and at most 1% of the rows, are
reported as boundary swaps and left out of the comparison, never silently. Elements the family shows the reference
chose at a tie (``LoadedModel.at_tie``: a keypoint heatmap's two peaks within the tie margin) are left out and
counted the same way.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from deploybridge.parity.output_names import model_name
from deploybridge.records import OutputSpec, Tolerance

DEFAULT_TOLERANCE = Tolerance(atol=1e-4, rtol=1e-3)


@dataclass
class OutputCheck:
    name: str
    ref_shape: list
    got_shape: list
    max_abs: float | None
    max_rel: float | None
    atol: float
    rtol: float
    passed: bool
    note: str = ""


@dataclass
class InputCheck:
    seed: int | str  # a seeded synthetic input, or the path of an --inputs image
    passed: bool
    detections_ref: int | None = None
    detections_got: int | None = None
    reordered: int = 0
    boundary_swaps: int = 0  # rows at a top-k cut kept by one side only (see boundary_swaps), not compared
    threshold_ties: int = 0  # rows at the model's score threshold kept by one side only (parity.ties), not compared
    outputs: list[OutputCheck] = field(default_factory=list)
    task: dict | None = None  # task-aware parity (deploybridge.parity.task.TaskCheck as a dict)
    input_shape: list | None = None  # set when the input is not at the export size (dynamic-shape checks)
    nothing_compared: str | None = None  # why this input's check compared nothing (parity.conclusive), if it did not


def tolerances_for(outputs: Sequence[OutputSpec], override: Tolerance | None = None) -> dict[str, Tolerance]:
    return {o.name: override or o.tolerance or DEFAULT_TOLERANCE for o in outputs}


def _greedy_pairs(cost: np.ndarray) -> np.ndarray:
    """Permutation ``p`` pairing row i with column p[i], cheapest pairs first."""
    n = len(cost)
    perm = np.full(n, -1)
    used = np.zeros(n, bool)
    for flat in np.argsort(cost, axis=None, kind="stable"):
        i, j = divmod(int(flat), n)
        if perm[i] < 0 and not used[j]:
            perm[i], used[j] = j, True
    return perm


def _label_cost(ref_labels, got_labels) -> float | np.ndarray:
    if ref_labels is None or got_labels is None:
        return 0.0
    return 1e9 * (ref_labels[:, None] != got_labels[None, :])


def match_rows(ref_boxes: np.ndarray, got_boxes: np.ndarray, ref_labels=None, got_labels=None) -> np.ndarray:
    """Permutation ``p`` so that ``got[p[i]]`` pairs with ``ref[i]`` (greedy on box deviation)."""
    cost = np.abs(ref_boxes[:, None, :] - got_boxes[None, :, :]).max(-1)
    return _greedy_pairs(cost + _label_cost(ref_labels, got_labels))


def match_masks(ref_masks: np.ndarray, got_masks: np.ndarray, ref_labels=None, got_labels=None) -> np.ndarray:
    """The same for mask-only outputs (SOLO): greedy on 1 - mask IoU."""
    from deploybridge.parity.matching import mask_iou

    return _greedy_pairs(1.0 - mask_iou(ref_masks, got_masks) + _label_cost(ref_labels, got_labels))


MAX_SWAP_FRACTION = 0.01  # of the rows; at least one row


def boundary_swaps(ref: Mapping[str, np.ndarray], got: Mapping[str, np.ndarray], perm: np.ndarray,
                   tolerances: Mapping[str, Tolerance]) -> np.ndarray:
    """Rows ``i`` where ``ref[i]`` and ``got[perm[i]]`` are different detections that each side kept at its top-k
    cut: the pair's boxes (or labels) disagree beyond tolerance and both scores lie within twice the score tolerance
    of their side's lowest kept score (a row one runtime ranks just above the cut and the other just below). Empty
    when there are more such rows than MAX_SWAP_FRACTION allows: then the disagreement is not at the cut."""
    none = np.zeros(len(perm), bool)
    if "scores" not in ref or "boxes" not in ref or not len(perm):
        return none
    rb, gb = ref["boxes"].astype(np.float64), got["boxes"][perm].astype(np.float64)
    tb = tolerances["boxes"]
    apart = np.any(np.abs(rb - gb) > tb.atol + tb.rtol * np.abs(rb), axis=-1)
    if "labels" in ref and "labels" in got:
        apart |= ref["labels"] != got["labels"][perm]
    rs, gs = ref["scores"].astype(np.float64), got["scores"][perm].astype(np.float64)
    ts = tolerances["scores"]
    near = lambda s, cut: s - cut <= 2 * (ts.atol + ts.rtol * abs(cut))  # noqa: E731
    swapped = apart & near(rs, rs.min()) & near(gs, gs.min())
    if not swapped.any() or swapped.sum() > max(1, int(MAX_SWAP_FRACTION * len(perm))) or swapped.sum() < apart.sum():
        return none
    return swapped


def compare_tensor(name: str, ref: np.ndarray, got: np.ndarray, tol: Tolerance) -> OutputCheck:
    base = dict(name=name, ref_shape=list(ref.shape), got_shape=list(got.shape), atol=tol.atol, rtol=tol.rtol)
    if ref.shape != got.shape:
        return OutputCheck(**base, max_abs=None, max_rel=None, passed=False, note="shape differs")
    if ref.size == 0:
        return OutputCheck(**base, max_abs=0.0, max_rel=0.0, passed=True, note="empty")
    if ref.dtype == np.bool_:
        # thresholded outputs (masks): an absolute error is 0 or 1, so atol would be all or nothing; the fraction of
        # flipped elements is compared instead (a probability on the threshold may flip between runtimes)
        flipped = int(np.count_nonzero(ref != got.astype(bool)))
        fraction = flipped / ref.size
        return OutputCheck(**base, max_abs=fraction, max_rel=fraction, passed=fraction <= tol.atol,
                           note=f"{flipped} of {ref.size} elements differ (bool: atol is the fraction allowed)")
    r, g = ref.astype(np.float64), got.astype(np.float64)
    if np.isnan(g).any() and not np.isnan(r).any():
        return OutputCheck(**base, max_abs=None, max_rel=None, passed=False, note="backend produced NaN")
    diff = np.abs(r - g)
    ok = bool(np.all(diff <= tol.atol + tol.rtol * np.abs(r)))
    # atol in the denominator: exact zeros (clipped boxes) give a finite relative error
    max_rel = float(np.max(diff / (np.abs(r) + max(tol.atol, float(np.finfo(np.float32).tiny)))))
    return OutputCheck(**base, max_abs=float(diff.max()), max_rel=max_rel, passed=ok)


def _tied(ties: Mapping[str, np.ndarray] | None, name: str, shape: tuple, swapped: np.ndarray | None) -> np.ndarray | None:
    """The output's tie mask, cut like its rows (boundary swaps out); None when there is none or it does not fit."""
    mask = None if ties is None else ties.get(name)
    if mask is None:
        return None
    mask = np.asarray(mask, bool)
    mask = mask[~swapped] if swapped is not None else mask
    return mask if mask.shape == tuple(shape[:mask.ndim]) else None


def compare_outputs(
    seed: int, outputs: Sequence[OutputSpec], ref: Mapping[str, np.ndarray], got: Mapping[str, np.ndarray],
    tolerances: Mapping[str, Tolerance], ties: Mapping[str, np.ndarray] | None = None,
) -> InputCheck:
    """``ties``: output name -> boolean mask over the reference's leading dims, elements not to compare (at a tie)."""
    check = InputCheck(seed=seed, passed=True)
    missing = [o.name for o in outputs if o.name not in got]
    if missing:
        check.passed = False
        check.outputs = [
            OutputCheck(n, list(ref[n].shape), [], None, None, tolerances[n].atol, tolerances[n].rtol, False,
                        f"backend has no output '{n}' (it has: {', '.join(got)})") for n in missing
        ]
        return check
    per_det = [o.name for o in outputs if o.per_detection]
    perm = None
    if per_det:
        check.detections_ref, check.detections_got = len(ref[per_det[0]]), len(got[per_det[0]])
        if check.detections_ref != check.detections_got:
            check.passed = False
        elif "boxes" in per_det or "masks" in per_det:
            name = model_name("labels", per_det)  # the model's name for its labels ("classes" in Detectron2)
            labels = name is not None and (ref[name], got[name])
            key, match = ("boxes", match_rows) if "boxes" in per_det else ("masks", match_masks)
            perm = match(ref[key], got[key], *(labels or (None, None)))
            check.reordered = int(np.sum(perm != np.arange(len(perm))))
    swapped = boundary_swaps(ref, got, perm, tolerances) if perm is not None else None
    if swapped is not None and swapped.any():
        check.boundary_swaps = int(swapped.sum())
    for o in outputs:
        r, g = ref[o.name], got[o.name]
        if o.per_detection and check.detections_ref != check.detections_got:
            c = OutputCheck(o.name, list(r.shape), list(g.shape), None, None, tolerances[o.name].atol, tolerances[o.name].rtol,
                            False, f"detection count differs: reference {check.detections_ref}, backend {check.detections_got}")
        else:
            if o.per_detection and perm is not None:
                g = g[perm]
                if check.boundary_swaps:
                    r, g = r[~swapped], g[~swapped]
            tied = _tied(ties, o.name, r.shape, swapped if check.boundary_swaps else None)
            if tied is not None:
                r, g = r[~tied], g[~tied]
            c = compare_tensor(o.name, r, g, tolerances[o.name])
            if o.per_detection and check.boundary_swaps:
                c.note = (f"{check.boundary_swaps} row(s) at the top-k cut kept by one side only (scores within twice"
                          " the tolerance of the lowest kept score): not compared")
            if tied is not None and tied.any():
                c.note = (c.note + "; " if c.note else "") + (
                    f"{int(tied.sum())} element(s) the reference chose at a tie (another candidate within the tie"
                    " margin): not compared")
        check.outputs.append(c)
        check.passed &= c.passed
    return check
