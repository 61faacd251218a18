"""Errors of compared tensors, and the first one, in graph order, beyond its tolerance.

Errors are measured against the tensor's scale (its largest reference magnitude): a tensor *diverges* when its max
abs error exceeds ``rtol * scale + atol``, when an integer/bool tensor differs anywhere, or when its shape differs.
``rtol`` defaults to 1e-3: float32 noise between PyTorch and ONNX Runtime stays near 1e-5 of the scale through a
ResNet-50 detector, and one planted 1% error is ten times the bound (docs/debugging.md).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Container, Mapping, Sequence

import numpy as np

RTOL = 1e-3
ATOL = 1e-6
CREATED = 10.0  # output error this many times its inputs' error: the node made the error, it did not inherit it


@dataclass
class TensorError:
    tensor: str
    node: str
    op: str
    module: str | None  # the PyTorch module (qualified name), None when the node names none
    module_type: str
    source: str
    depth: int  # the producing node's position in the graph
    shape: list
    max_abs: float
    max_rel: float  # max abs error / the reference's largest magnitude
    cosine: float | None  # None for integer tensors and constant ones
    tolerance: float
    diverged: bool
    note: str = ""
    overflow: int = 0  # values that are inf/NaN in the artifact and finite in the reference

    def to_json(self) -> dict:
        # an error that is not a number (shape differs, overflow) is null: JSON has no Infinity
        return {k: ((round(v, 9) if math.isfinite(v) else None) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def measure(ref: np.ndarray, got: np.ndarray, rtol: float = RTOL, atol: float = ATOL) -> dict:
    """max_abs, max_rel, cosine, tolerance, diverged, note, overflow of ``got`` against ``ref``."""
    if ref.shape != got.shape:
        return dict(max_abs=float("inf"), max_rel=float("inf"), cosine=None, tolerance=0.0, diverged=True,
                    note=f"shape {list(got.shape)}, reference {list(ref.shape)}", overflow=0)
    if ref.size == 0:
        return dict(max_abs=0.0, max_rel=0.0, cosine=None, tolerance=0.0, diverged=False, note="empty", overflow=0)
    if not np.issubdtype(ref.dtype, np.floating):
        wrong = int(np.count_nonzero(ref != got.astype(ref.dtype)))
        diff = float(np.abs(ref.astype(np.float64) - got.astype(np.float64)).max())
        # the same values in another order: indices of tied scores (an NMS or a sort) listed the other way round
        reordered = wrong > 0 and np.array_equal(np.sort(ref.ravel()), np.sort(got.astype(ref.dtype).ravel()))
        note = (f"{wrong} of {ref.size} in another order (the same values: ties)" if reordered
                else f"{wrong} of {ref.size} differ" if wrong else "")
        return dict(max_abs=diff, max_rel=diff / (float(np.abs(ref).max()) or 1.0), cosine=None, tolerance=0.0,
                    diverged=wrong > 0 and not reordered, note=note, overflow=0)
    a, b = ref.astype(np.float64).ravel(), got.astype(np.float64).ravel()
    finite = np.isfinite(a)
    overflow = int(np.count_nonzero(finite & ~np.isfinite(b)))
    both = finite & np.isfinite(b)
    scale = float(np.abs(a[finite]).max()) if finite.any() else 0.0
    diff = float(np.abs(a[both] - b[both]).max()) if both.any() else 0.0
    norms = float(np.linalg.norm(a[both]) * np.linalg.norm(b[both]))
    cosine = float(np.dot(a[both], b[both]) / norms) if norms > 0 else None
    tolerance = rtol * scale + atol
    note = f"{overflow} value(s) overflow to inf/NaN" if overflow else ""
    return dict(max_abs=diff if not overflow else float("inf"), max_rel=diff / (scale or 1.0) if not overflow else float("inf"),
                cosine=cosine, tolerance=tolerance, diverged=overflow > 0 or diff > tolerance, note=note, overflow=overflow)


OVERFLOWED = 1e30  # an overflow's error in an own error: above any finite one, and finite to subtract


def layer_error(max_rel: float, overflow: int) -> float | None:
    """A float tensor's ``max_rel`` as own errors rank it: an overflow to inf/NaN as :data:`OVERFLOWED`; None for a
    shape that differs (another detection count after an NMS upstream: not this layer's arithmetic)."""
    if np.isfinite(max_rel):
        return max_rel
    return OVERFLOWED if overflow else None


def passed_on(max_rel: float, overflow: int, integer: bool) -> float:
    """The error a tensor hands to what is computed from it. Another selection (integer indices or counts that differ
    anywhere, ties in another order included, or a float shape that differs) hands on :data:`OVERFLOWED`: a Gather or
    Reshape after it compares other rows with other rows, and that error is not its own."""
    if integer:
        return OVERFLOWED if max_rel > 0 else 0.0
    error = layer_error(max_rel, overflow)
    return OVERFLOWED if error is None else error


def own_errors(model, measured: Mapping[str, tuple[float, int]], integer: Container[str],
               feed: Sequence[str]) -> dict[str, float]:
    """What each measured float tensor adds to the error itself ((max_rel, overflow) by name, in ``model``): its
    :func:`layer_error` minus the largest error handed on by the measured tensors it is computed from
    (:func:`trace_back`); one computed from another selection or an overflow hands that on in turn. `deploy debug`
    ranks layers by it at a lowered precision; the precision search keeps the worst in float32
    (convert/precision_groups.sensitivity)."""
    order = {o: k for k, n in enumerate(model.graph.node) for o in n.output}
    handed: dict[str, float] = {}
    own: dict[str, float] = {}
    for t in sorted(measured, key=lambda name: order.get(name, -1)):
        max_rel, overflow = measured[t]
        frontier, _ = trace_back(model, t, measured, feed)
        inherited = max((handed.get(f, 0.0) for f in frontier), default=0.0)
        handed[t] = OVERFLOWED if inherited >= OVERFLOWED else passed_on(max_rel, overflow, t in integer)
        error = None if t in integer else layer_error(max_rel, overflow)
        if error is not None:
            own[t] = error - inherited
    return own


@dataclass
class FirstDivergence:
    error: TensorError
    input_error: float | None  # the largest max_rel among the compared tensors it is computed from
    inputs: list[str] = field(default_factory=list)  # those tensors
    between: list[dict] = field(default_factory=list)  # the uncompared nodes from them to it: {node, op, module}
    created: bool = True  # the error starts here (output error >= CREATED x input error)
    fixes: list[dict] = field(default_factory=list)
    body_modules: list[str] = field(default_factory=list)  # an If/Loop/Scan: the modules of the nodes in its bodies

    def to_json(self) -> dict:
        return {"error": self.error.to_json(), "input_error": self.input_error, "inputs": self.inputs,
                "between": self.between, "created": self.created, "fixes": self.fixes, "body_modules": self.body_modules}


def first(errors: Sequence[TensorError]) -> TensorError | None:
    diverged = [e for e in errors if e.diverged]
    return min(diverged, key=lambda e: e.depth) if diverged else None


def trace_back(model, tensor: str, compared: Mapping[str, TensorError], feed: Sequence[str]) -> tuple[list[str], list[int]]:
    """(compared tensors or graph inputs ``tensor`` is computed from, with nothing compared between; the indices of
    the nodes between them and it, in graph order)."""
    from deploybridge.runtime.segments import _consumed

    nodes = list(model.graph.node)
    producer = {o: k for k, n in enumerate(nodes) for o in n.output}
    frontier, between, stack, seen = [], set(), [tensor], set()
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        if name != tensor and (name in compared or name in feed):
            frontier.append(name)
            continue
        k = producer.get(name)
        if k is None:
            continue  # an initializer or a constant
        between.add(k)
        stack += list(_consumed(nodes[k]))
    return sorted(frontier), sorted(between)


def locate(model, errors: Sequence[TensorError], feed: Sequence[str]) -> FirstDivergence | None:
    """The first divergence with what it was computed from: did its node create the error or inherit it?"""
    found = first(errors)
    if found is None:
        return None
    compared = {e.tensor: e for e in errors}
    frontier, between = trace_back(model, found.tensor, compared, feed)
    known = [compared[t].max_rel for t in frontier if t in compared]
    input_error = max(known) if known else (0.0 if frontier else None)
    created = input_error is None or found.max_rel >= CREATED * max(input_error, 1e-12)
    nodes = list(model.graph.node)
    rows = [{"node": nodes[k].name, "op": nodes[k].op_type} for k in between if nodes[k].op_type != "Constant"]
    return FirstDivergence(found, input_error, frontier, rows, created)
