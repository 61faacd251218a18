"""The reference's own noise floor, from which tolerances are set.

Folklore tolerances fail in both directions: seed 003's rtol=1e-3/atol=1e-6
rejects PyTorch on 1 vs 2 threads for a realistic model, and a fixed 1e-4 is
below float32's spread for a deep network with large activations. So the
reference is also run in float64 on the same inputs; the largest float32 vs
float64 deviation per output is its noise floor. A correct float32 backend
sits about one noise floor from the exact result, as PyTorch does, so two
correct runtimes may differ by about two; tolerances allow NOISE_FACTOR.
"""
from __future__ import annotations

import copy
from dataclasses import replace
from typing import Callable, Collection, Mapping, Sequence

from deploybridge.records import LoadedModel, OutputSpec, Tolerance
from deploybridge.parity.tensor import compare_outputs

NOISE_FACTOR = 5.0
# float16 rounds 2**13 times coarser than float32 (unit roundoff 2**-11 vs 2**-24)
FLOAT16_OVER_FLOAT32 = 2.0**13


def measure(loaded: LoadedModel, seeds: Sequence[int], reference: Callable[[int], tuple[dict, dict]]) -> dict[str, float] | None:
    """Max |float32 - float64| per output over ``seeds``; None when the model cannot run in float64."""
    import torch

    try:
        double = copy.deepcopy(loaded.module).double()
    except Exception:
        return None
    zero = {o.name: Tolerance(0.0, 0.0) for o in loaded.outputs}
    floor = {o.name: 0.0 for o in loaded.outputs}
    for seed in seeds:
        _, ref32 = reference(seed)
        inputs = tuple(t.double() if t.is_floating_point() else t for t in loaded.make_inputs(seed))
        try:
            with torch.no_grad():
                out = double(*inputs)
        except Exception:
            return None
        out = (out,) if isinstance(out, torch.Tensor) else tuple(out)
        ref64 = {n: t.detach().numpy() for n, t in zip(loaded.output_names, out)}
        check = compare_outputs(seed, loaded.outputs, ref64, ref32, zero)
        for c in check.outputs:
            if c.max_abs is not None:  # a detection count that differs in float64 says nothing about noise
                floor[c.name] = max(floor[c.name], c.max_abs)
    return floor


def tolerances_from_floor(outputs: Sequence[OutputSpec], floor: Mapping[str, float] | None, base: Mapping[str, Tolerance]) -> dict[str, Tolerance]:
    """Widen each output's atol to NOISE_FACTOR x its noise floor where that is larger; never narrow it."""
    if floor is None:
        return dict(base)
    return {
        o.name: replace(base[o.name], atol=max(base[o.name].atol, NOISE_FACTOR * floor[o.name]), noise_floor=floor[o.name])
        for o in outputs
    }


def as_float16(floor: Mapping[str, float] | None, keep: Collection[str] = ()) -> dict[str, float] | None:
    """The float32 noise floor scaled to float16 arithmetic, for artifacts converted with to_fp16.

    A float16 engine cannot be held to float32's spread; its rounding is 2**13 times coarser, so the measured float32
    floor is scaled by that. Outputs in ``keep`` are not scaled: a boolean output's "floor" is a fraction of flipped
    elements, not a rounding error (scaled, 1e-4 became 0.8 and the mask check could not fail). Task-aware parity
    (same objects, classes, masks) still applies unchanged.
    """
    if floor is None:
        return None
    return {name: value if name in keep else value * FLOAT16_OVER_FLOAT32 for name, value in floor.items()}


def bool_outputs(reference: Mapping[str, object]) -> set[str]:
    """The outputs that are booleans (thresholded masks) in one reference run."""
    return {name for name, value in reference.items() if getattr(value, "dtype", None) == bool}
