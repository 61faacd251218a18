"""Tensor parity: the reference (PyTorch) and the backend on the same inputs.

Outputs are matched by name, never by position. For per-detection outputs the
number of detections is compared first; rows are then paired by matching
boxes (same label, smallest box deviation), because near-tied scores may be
ordered differently by two correct runtimes.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np

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
    seed: int
    passed: bool
    detections_ref: int | None = None
    detections_got: int | None = None
    reordered: int = 0
    outputs: list[OutputCheck] = field(default_factory=list)
    task: dict | None = None  # task-aware parity (deploybridge.parity.task.TaskCheck as a dict)
    input_shape: list | None = None  # set when the input is not at the export size (dynamic-shape checks)


@dataclass
class Verification:
    backend: str
    passed: bool
    inputs: list[InputCheck]
    tolerances: dict[str, dict]
    task_tolerances: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        bad = [c for i in self.inputs for c in i.outputs if not c.passed]
        worst = max((c.max_abs or 0.0 for i in self.inputs for c in i.outputs), default=0.0)
        state = "PASSED" if self.passed else "FAILED"
        text = f"{state}: {len(self.inputs)} inputs, max abs error {worst:.3g}, {len(bad)} output check(s) out of tolerance"
        tasks = [i.task for i in self.inputs if i.task]
        if tasks:
            failed = sum(not t["passed"] for t in tasks)
            text += f", {tasks[0]['task']} parity failed on {failed} of {len(tasks)} inputs" if failed else f", {tasks[0]['task']} parity ok"
        return text


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
    from deploybridge.parity.task import mask_iou

    return _greedy_pairs(1.0 - mask_iou(ref_masks, got_masks) + _label_cost(ref_labels, got_labels))


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


def compare_outputs(
    seed: int, outputs: Sequence[OutputSpec], ref: Mapping[str, np.ndarray], got: Mapping[str, np.ndarray],
    tolerances: Mapping[str, Tolerance],
) -> InputCheck:
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
            labels = ("labels" in per_det) and (ref["labels"], got["labels"])
            key, match = ("boxes", match_rows) if "boxes" in per_det else ("masks", match_masks)
            perm = match(ref[key], got[key], *(labels or (None, None)))
            check.reordered = int(np.sum(perm != np.arange(len(perm))))
    for o in outputs:
        r, g = ref[o.name], got[o.name]
        if o.per_detection and check.detections_ref != check.detections_got:
            c = OutputCheck(o.name, list(r.shape), list(g.shape), None, None, tolerances[o.name].atol, tolerances[o.name].rtol,
                            False, f"detection count differs: reference {check.detections_ref}, backend {check.detections_got}")
        else:
            if o.per_detection and perm is not None:
                g = g[perm]
            c = compare_tensor(o.name, r, g, tolerances[o.name])
        check.outputs.append(c)
        check.passed &= c.passed
    return check


def _backend_failed(seed: int, outputs: Sequence[OutputSpec], ref: Mapping[str, np.ndarray],
                    tolerances: Mapping[str, Tolerance], exc: Exception) -> InputCheck:
    lines = [ln for ln in str(exc).strip().splitlines() if ln.strip()]
    note = f"backend failed on this input: {type(exc).__name__}: {(lines[0] if lines else '')[:240]}"
    return InputCheck(seed=seed, passed=False, outputs=[
        OutputCheck(o.name, list(ref[o.name].shape), [], None, None, tolerances[o.name].atol, tolerances[o.name].rtol,
                    False, note) for o in outputs])


def verify(
    backend: str, outputs: Sequence[OutputSpec], seeds: Sequence[int],
    reference: Callable[[int], tuple[dict, dict]], run_backend: Callable[[dict], dict],
    tolerances: Mapping[str, Tolerance], on_input: Callable[[int], None] | None = None,
    task: str | None = None, task_tolerances: Mapping[str, float] | None = None,
) -> Verification:
    """``reference(seed)`` returns (inputs, reference outputs) as numpy dicts.

    Both checks must pass: tensor parity (every output within tolerance) and,
    for a known ``task``, task-aware parity (same objects, classes, pixels).
    """
    from deploybridge.parity.task import DEFAULT_TASK_TOLERANCES, task_parity

    task_tol = {**DEFAULT_TASK_TOLERANCES, **(task_tolerances or {})}
    checks = []
    for k, seed in enumerate(seeds):
        inputs, ref = reference(seed)
        try:
            got = run_backend(inputs)
        except Exception as exc:  # an artifact that crashes on a valid input fails verification, loudly
            checks.append(_backend_failed(seed, outputs, ref, tolerances, exc))
            if on_input:
                on_input(k)
            continue
        check = compare_outputs(seed, outputs, ref, got, tolerances)
        first = next(iter(ref), None)
        task_check = task_parity(task, ref, got, task_tol, tolerances[first].atol if first in tolerances else 0.0)
        if task_check is not None:
            check.task = task_check.to_json()
            check.passed &= task_check.passed
        checks.append(check)
        if on_input:
            on_input(k)
    return Verification(
        backend=backend,
        passed=all(c.passed for c in checks),
        inputs=checks,
        tolerances={n: asdict(t) for n, t in tolerances.items()},
        task_tolerances=task_tol if task else {},
    )
