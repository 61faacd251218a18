"""Command-line values parsed into what the pipeline takes: shapes, --option pairs, tolerances, backend options.

Each bad value is a one-line error (exit 2) that shows the expected form."""
from __future__ import annotations

import json
from typing import Any, Sequence

from deploybridge.errors import DeployError
from deploybridge.records import Tolerance


def parse_shape(text: str | None, flag: str = "--input-shape") -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        dims = tuple(int(p) for p in text.replace("x", ",").split(","))
    except ValueError:
        dims = ()
    if not dims or any(d <= 0 for d in dims) or not 2 <= len(dims) <= 5:
        raise DeployError(f"malformed {flag} '{text}'; expected 2-5 positive integers such as 1,3,320,320")
    return dims


def parse_options(pairs: Sequence[str]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise DeployError(f"malformed --option '{pair}'; expected KEY=VALUE such as num_classes=5")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


def tolerance_override(atol: float | None, rtol: float | None) -> Tolerance | None:
    if atol is None and rtol is None:
        return None
    default = Tolerance()
    given = " and ".join(f"--{k} {v:g}" for k, v in (("atol", atol), ("rtol", rtol)) if v is not None)
    return Tolerance(atol=default.atol if atol is None else atol, rtol=default.rtol if rtol is None else rtol,
                     basis=f"given with {given} (no noise floor, no ceiling)")


def task_tolerances(pairs) -> dict[str, float]:
    from deploybridge.parity.task import DEFAULT_TASK_TOLERANCES

    values = parse_options(pairs)
    unknown = [k for k in values if k not in DEFAULT_TASK_TOLERANCES]
    if unknown or not all(isinstance(v, (int, float)) for v in values.values()):
        raise DeployError(f"bad --task-tolerance {', '.join(pairs)}; keys: {', '.join(DEFAULT_TASK_TOLERANCES)}, values numbers")
    return {k: float(v) for k, v in values.items()}


def backend_options(threads: int | None, providers: Sequence[str]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if threads:
        options["threads"] = threads
    if providers:
        options["providers"] = list(providers)
    return options


def dynamic_request(axes: str | None, min_shape: str | None, max_shape: str | None) -> dict | None:
    """--dynamic AXES [--min-shape S] [--max-shape S] -> ModelSpec.dynamic (deploybridge.convert.dynamic)."""
    from deploybridge.convert import dynamic

    return dynamic.request(dynamic.parse_axes(axes), parse_shape(min_shape, "--min-shape"), parse_shape(max_shape, "--max-shape"))
