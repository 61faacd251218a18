"""The reference's own noise floor, from which tolerances are set, and the ceiling that bounds them.

Folklore tolerances fail in both directions: seed 003's rtol=1e-3/atol=1e-6 rejects PyTorch on 1 vs 2 threads for a
realistic model, and a fixed 1e-4 is below float32's spread for a deep network with large activations. So the
reference is also run in float64 on the same inputs; the largest float32 vs float64 deviation per output is its noise
floor. A correct float32 backend sits about one noise floor from the exact result, as PyTorch does, so two correct
runtimes may differ by about two; tolerances allow NOISE_FACTOR.

A floor is a measurement and can go wrong (a model with a float64-unstable branch, float16's estimate), so the atol
it gives is capped at a fraction of the output's own scale (its largest magnitude on the verification inputs), and
every tolerance says how it was set (``Tolerance.basis``): measured, capped, or not measured and why. Nothing falls
back silently.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from typing import Callable, Collection, Mapping, Sequence

import numpy as np

from deploybridge.errors import first_line
from deploybridge.parity.tensor import compare_outputs
from deploybridge.records import LoadedModel, OutputSpec, Tolerance

NOISE_FACTOR = 5.0
# float16 rounds 2**13 times coarser than float32 (unit roundoff 2**-11 vs 2**-24)
FLOAT16_OVER_FLOAT32 = 2.0**13
# the largest atol a floor may give, as a fraction of the output's scale: float32 agrees to ~7 digits, so a floor of
# 0.1 % of the scale means the measurement went wrong; float16 (3 digits, errors accumulating) gets 5 %
CEILING = {"float32": 1e-3, "float16": 5e-2}


@dataclass
class Floor:
    """Max |float32 - float64| per output, or why it could not be measured."""

    values: dict[str, float] | None
    problem: str | None = None
    float16: bool = False  # scaled to float16's rounding (an estimate, not a measurement)
    peer: dict[str, str] | None = None  # output -> how the family's published check fares against float64
    selection_changed: int = 0  # detections kept by only one of float32 and float64: left out of the floor


def measure(loaded: LoadedModel, seeds: Sequence[int], reference: Callable[[int], tuple[dict, dict]]) -> Floor:
    """Max |float32 - float64| per output over ``seeds``."""
    import torch

    try:
        double = copy.deepcopy(loaded.module).double()
    except Exception as exc:
        return Floor(None, f"the model cannot be copied to float64 ({first_line(exc, 120)})")
    zero = {o.name: Tolerance(0.0, 0.0) for o in loaded.outputs}
    floor = {o.name: 0.0 for o in loaded.outputs}
    broken = {o.name: [0, 0] for o in loaded.outputs}  # elements outside the peer's bound, elements compared
    changed_rows = 0
    for seed in seeds:
        _, ref32 = reference(seed)
        inputs = tuple(t.double() if t.is_floating_point() else t for t in loaded.make_inputs(seed))
        try:
            with torch.no_grad():
                out = double(*inputs)
        except Exception as exc:
            return Floor(None, f"the model fails in float64 ({first_line(exc, 120)})")
        out = (out,) if isinstance(out, torch.Tensor) else tuple(out)
        ref64 = {n: t.detach().numpy() for n, t in zip(loaded.output_names, out)}
        ref64, ref32, changed = same_detections(loaded.outputs, ref64, ref32)
        changed_rows += changed
        check = compare_outputs(seed, loaded.outputs, ref64, ref32, zero)
        for c in check.outputs:
            if c.max_abs is not None:  # a detection count that differs in float64 says nothing about noise
                floor[c.name] = max(floor[c.name], c.max_abs)
                if loaded.peer_check is not None:
                    _count_outside(broken[c.name], ref32[c.name], ref64[c.name], loaded.peer_check)
    return Floor(floor, peer=_peer_notes(loaded.peer_check, broken, floor) if loaded.peer_check else None,
                 selection_changed=changed_rows)


def same_detections(outputs: Sequence[OutputSpec], ref64: Mapping, ref32: Mapping) -> tuple[dict, dict, int]:
    """The per-detection rows of both runs cut down to the detections both kept: paired as task parity pairs them
    (same label, box or mask IoU >= 0.5); and how many rows of either run had no such partner. float64 can keep
    another detection than float32 (a score at a threshold, an NMS tie); pairing rows by position or by nearest box
    then measures the distance between two objects (Mask R-CNN at 192²: 24.6 px "noise" in boxes) — a changed
    selection, not rounding, and it is left out of the floor."""
    from deploybridge.parity.matching import detection_pairs, detection_rows

    per_det = [o.name for o in outputs if o.per_detection]
    pairs = detection_pairs(per_det, ref64, ref32)
    if pairs is None:
        return dict(ref64), dict(ref32), 0
    cut64 = detection_rows(ref64, per_det, [i for i, _ in pairs])
    cut32 = detection_rows(ref32, per_det, [j for _, j in pairs])
    return cut64, cut32, len(ref64[per_det[0]]) + len(ref32[per_det[0]]) - 2 * len(pairs)


def _count_outside(tally: list, got, exact, bound: Tolerance) -> None:
    got, exact = np.asarray(got, np.float64), np.asarray(exact, np.float64)
    if got.shape == exact.shape and got.dtype.kind == "f":
        tally[0] += int((np.abs(got - exact) > bound.atol + bound.rtol * np.abs(exact)).sum())
        tally[1] += got.size


def _peer_notes(peer: Tolerance, broken: Mapping[str, list], floor: Mapping[str, float]) -> dict[str, str]:
    """Seed 003: a published check is only meaningful above the model's float32 noise. Per output, whether PyTorch in
    float32 itself passes ``peer`` against float64 on the verification inputs."""
    notes = {}
    for name, (outside, total) in broken.items():
        if not total:
            continue
        if outside:
            notes[name] = (f"{peer.basis} is below float32 noise for this model: PyTorch float32 vs float64 already"
                           f" breaks it on {outside / total:.2%} of elements (noise floor {floor[name]:.2g})")
        else:
            notes[name] = f"{peer.basis} holds for PyTorch float32 vs float64 here (noise floor {floor[name]:.2g})"
    return notes


def as_float16(floor: Floor, keep: Collection[str] = ()) -> Floor:
    """The float32 noise floor scaled to float16 arithmetic, for artifacts converted with to_fp16.

    A float16 engine cannot be held to float32's spread; its rounding is 2**13 times coarser, so the measured float32
    floor is scaled by that (an overestimate: the ceiling bounds it). Outputs in ``keep`` are not scaled: a boolean
    output's "floor" is a fraction of flipped elements, not a rounding error (scaled, 1e-4 became 0.8 and the mask
    check could not fail). Task-aware parity (same objects, classes, masks) still applies unchanged.
    """
    if floor.values is None:
        return replace(floor, float16=True)
    values = {n: v if n in keep else v * FLOAT16_OVER_FLOAT32 for n, v in floor.values.items()}
    return replace(floor, values=values, float16=True)


def output_scales(references: Sequence[Mapping[str, object]]) -> dict[str, float]:
    """Each float output's largest magnitude over the reference runs (booleans: 1, the scale of a flipped fraction)."""
    scales: dict[str, float] = {}
    for ref in references:
        for name, value in ref.items():
            a = np.asarray(value)
            size = 1.0 if a.dtype == np.bool_ else (float(np.abs(a).max()) if a.size and a.dtype.kind in "fc" else 0.0)
            scales[name] = max(scales.get(name, 0.0), size)
    return scales


def tolerances_from_floor(outputs: Sequence[OutputSpec], floor: Floor, base: Mapping[str, Tolerance],
                          scales: Mapping[str, float] | None = None) -> dict[str, Tolerance]:
    """Each output's atol widened to NOISE_FACTOR x its noise floor where that is larger (never narrowed), capped at
    the ceiling times the output's scale; ``basis`` says which of these set it."""
    if floor.values is None:
        return {o.name: replace(base[o.name], basis=f"default, noise floor not measured: {floor.problem}") for o in outputs}
    fraction = CEILING["float16" if floor.float16 else "float32"]
    estimate = " (float32 floor x 2^13, float16 estimate)" if floor.float16 else ""
    tolerances = {}
    for o in outputs:
        value, tol = floor.values[o.name], base[o.name]
        wanted = NOISE_FACTOR * value
        ceiling = fraction * (scales or {}).get(o.name, 0.0)
        if wanted <= tol.atol:
            atol, basis = tol.atol, f"default {tol.atol:g}, above {NOISE_FACTOR:g} x noise floor{estimate}"
        elif ceiling and wanted > max(ceiling, tol.atol):
            atol = max(ceiling, tol.atol)
            basis = (f"capped at {fraction:.1%} of the output's scale {scales[o.name]:.3g}: {NOISE_FACTOR:g} x noise floor"
                     f"{estimate} would be {wanted:.3g}")
        else:
            atol, basis = wanted, f"{NOISE_FACTOR:g} x noise floor{estimate}"
        if o.per_detection and floor.selection_changed:
            basis += f" ({floor.selection_changed} detection(s) kept by only one of float32 and float64: left out)"
        tolerances[o.name] = replace(tol, atol=atol, noise_floor=value, basis=basis, peer=(floor.peer or {}).get(o.name, ""))
    return tolerances


def bool_outputs(reference: Mapping[str, object]) -> set[str]:
    """The outputs that are booleans (thresholded masks) in one reference run."""
    return {name for name, value in reference.items() if getattr(value, "dtype", None) == bool}


def verification_tolerances(loaded: LoadedModel, seeds: Sequence[int], reference: Callable[[int], tuple[dict, dict]],
                            base: Mapping[str, Tolerance], float16: bool) -> dict[str, Tolerance]:
    """The tolerances convert verifies with when the user gave none: from the measured floor (scaled for a float16
    artifact), capped by the output scales on the verification inputs."""
    refs = [reference(seed)[1] for seed in seeds]
    floor = measure(loaded, seeds, reference)
    if float16:
        floor = as_float16(floor, bool_outputs(refs[0]))
    return tolerances_from_floor(loaded.outputs, floor, base, output_scales(refs))
