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


def checked(runner: Callable[[dict], dict], manifest: Mapping[str, Any]) -> Callable[[dict], dict]:
    """``runner`` that refuses, in one line, an input the artifact does not take (exit 2)."""
    rows = expected(manifest)
    if not rows:
        return runner

    def run(inputs: dict) -> dict:
        unknown = [n for n in inputs if n not in rows]
        if unknown:
            raise DeployError(f"unknown input '{unknown[0]}'; this artifact takes {', '.join(rows)}")
        for name, value in inputs.items():
            why = problem(name, tuple(value.shape), *rows[name])
            if why:
                raise DeployError(f"{why}; resize the input, or re-convert with --input-shape / --dynamic")
        return runner(inputs)

    return run
