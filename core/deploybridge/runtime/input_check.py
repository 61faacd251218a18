"""Inputs checked against what the artifact takes, before any engine sees them.

A runtime's own message for a wrong shape names an internal node ("Got invalid dimensions for input: images for the
following indices index: 2 Got: 100 Expected: 192") or, worse, a TensorRT profile; the user needs the expected shape,
which dims are free and in which range (``--dynamic``), and what to do, in one line.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

from deploybridge.errors import DeployError


def expected(manifest: Mapping[str, Any]) -> dict[str, tuple[list, list | None, list | None]]:
    """input name -> (declared dims, None where free; min shape; max shape), from the manifest's inputs and the
    ``--dynamic`` bounds recorded in its preprocessing."""
    bounds = (manifest.get("preprocessing") or {}).get("dynamic") or {}
    inputs = manifest.get("inputs") or []
    rows = {}
    for k, row in enumerate(inputs):
        dims = [d if isinstance(d, int) and d > 0 else None for d in row.get("shape") or []]
        first = k == 0 and bounds  # --dynamic applies to the single image input
        rows[row["name"]] = (dims, bounds.get("min") if first else None, bounds.get("max") if first else None)
    return rows


def _fmt(shape) -> str:
    return "x".join("?" if d is None else str(d) for d in shape)


def problem(name: str, shape: tuple, dims: list, low: list | None, high: list | None) -> str | None:
    """Why ``shape`` does not fit, or None."""
    if dims and len(shape) != len(dims):
        return f"input '{name}' has {len(shape)} dims ({_fmt(shape)}); this artifact takes {_fmt(dims)}"
    for i, (got, want) in enumerate(zip(shape, dims)):
        if want is not None and got != want:
            return f"input '{name}' has shape {_fmt(shape)}; this artifact takes {_fmt(dims)} (dim {i} is fixed at {want})"
        if low and high and not low[i] <= got <= high[i]:
            return (f"input '{name}' has shape {_fmt(shape)}; this artifact takes {_fmt(low)} to {_fmt(high)}"
                    f" (--dynamic bounds; dim {i} is {got})")
    return None


def range_problem(name: str, value, preprocessing: Mapping[str, Any]) -> str | None:
    """Why an image input is not in the value range the artifact takes, or None.

    A model that normalises inside its graph (fastreid, MMDetection, Detectron2: ``value_range`` 0-255 in the
    manifest) given an image someone already normalised computes on it a second time, and its outputs are wrong with
    no error anywhere (fast-reid#147, #177): negative values are the sign of it; values within 0-1 that of an
    image scaled for another contract."""
    import numpy as np

    if not str(preprocessing.get("value_range", "")).startswith("0-255"):
        return None
    a = np.asarray(value)
    if a.dtype.kind != "f" or not a.size:
        return None
    low, high = float(a.min()), float(a.max())
    mean, std = preprocessing.get("mean"), preprocessing.get("std")
    inside = f" (mean {mean}, std {std})" if mean and std else ""
    if low < -1.0:
        return (f"input '{name}' has values down to {low:.3g}: it looks normalised already, and this artifact normalises"
                f" inside its graph{inside}; feed 0-255 RGB pixels, not normalised ones")
    if high > 256.0:
        return f"input '{name}' has values up to {high:.4g}; this artifact takes 0-255 pixel values"
    if 0.0 < high <= 1.0:
        return (f"input '{name}' lies within 0-{high:.3g}: it looks scaled to 0-1, and this artifact takes 0-255 pixel"
                f" values (it normalises inside{inside}); do not divide by 255")
    return None


def checked(runner: Callable[[dict], dict], manifest: Mapping[str, Any]) -> Callable[[dict], dict]:
    """``runner`` that refuses, in one line, an input the artifact does not take (exit 2)."""
    rows = expected(manifest)
    if not rows:
        return runner
    pre, image = manifest.get("preprocessing") or {}, next(iter(rows))

    def run(inputs: dict) -> dict:
        unknown = [n for n in inputs if n not in rows]
        if unknown:
            raise DeployError(f"unknown input '{unknown[0]}'; this artifact takes {', '.join(rows)}")
        for name, value in inputs.items():
            why = problem(name, tuple(value.shape), *rows[name])
            if why:
                raise DeployError(f"{why}; resize the input, or re-convert with --input-shape / --dynamic")
        why = range_problem(image, inputs[image], pre) if image in inputs else None
        if why:
            raise DeployError(why)
        return runner(inputs)

    return run
