"""``--dynamic batch,height,width``: which input axes stay free in the export, the range they may take, and the
shapes verification runs at (min, opt, max).

The request lives in ``ModelSpec.dynamic`` (``{"axes": [...], "min": [...], "max": [...]}``; opt is the input
shape), so ``deploy verify`` rebuilds the same model and checks the same three shapes. It is applied to the family's
:class:`~deploybridge.records.LoadedModel` by :func:`with_dynamic`, in one place (``convert.resolve.load_model``).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Mapping, Sequence

from deploybridge.errors import DeployError
from deploybridge.records import LoadedModel, Task

AXES = {"batch": 0, "height": 2, "width": 3}
STRIDE = 32  # detector backbones downsample by 32: default spatial bounds are multiples of it
# tasks whose wrapper takes a batch of images and returns one row per image; detectors return one image's objects
BATCHED_TASKS = (Task.CLASSIFICATION, Task.SEMANTIC_SEGMENTATION, Task.EMBEDDING)
DEFAULT_MAX_BATCH = 4


def parse_axes(text: str | None) -> tuple[str, ...]:
    """``batch,height,width`` -> axis names, in that order; one-line error on an unknown one."""
    if not text:
        return ()
    names = [a.strip() for a in text.split(",") if a.strip()]
    unknown = [a for a in names if a not in AXES]
    if unknown or not names:
        raise DeployError(f"bad --dynamic '{text}'; give a comma list of {', '.join(AXES)} (e.g. --dynamic height,width)")
    return tuple(sorted(set(names), key=list(AXES).index))


def request(axes: Sequence[str], min_shape: Sequence[int] | None, max_shape: Sequence[int] | None) -> dict | None:
    """What ``ModelSpec.dynamic`` records; bounds not given are defaulted from the input shape once it is known."""
    if not axes:
        if min_shape or max_shape:
            raise DeployError("--min-shape/--max-shape need --dynamic AXES (e.g. --dynamic height,width)")
        return None
    return {"axes": list(axes), "min": list(min_shape) if min_shape else None, "max": list(max_shape) if max_shape else None}


def _default_bounds(axes: Sequence[str], opt: Sequence[int]) -> tuple[list[int], list[int]]:
    low, high = list(opt), list(opt)
    for name in axes:
        i = AXES[name]
        if name == "batch":
            low[i], high[i] = 1, max(opt[i], DEFAULT_MAX_BATCH)
        else:  # three quarters and one and a half of opt, on the stride
            low[i] = max(STRIDE, int(round(opt[i] * 0.75 / STRIDE)) * STRIDE)
            high[i] = max(low[i], int(round(opt[i] * 1.5 / STRIDE)) * STRIDE)
    return low, high


def bounds(dynamic: Mapping[str, Any], opt: Sequence[int]) -> tuple[list[int], list[int]]:
    """(min, max) shapes: the given ones, checked against opt, else the defaults."""
    axes = dynamic["axes"]
    low, high = _default_bounds(axes, opt)
    low = list(dynamic.get("min") or low)
    high = list(dynamic.get("max") or high)
    for shape, flag in ((low, "--min-shape"), (high, "--max-shape")):
        if len(shape) != len(opt):
            raise DeployError(f"{flag} {','.join(map(str, shape))} has {len(shape)} dims; the input has {len(opt)}"
                              f" ({','.join(map(str, opt))})")
    fixed = [i for i in range(len(opt)) if i not in {AXES[a] for a in axes}]
    for i in fixed:
        if low[i] != opt[i] or high[i] != opt[i]:
            raise DeployError(f"--min-shape/--max-shape change dim {i}, which --dynamic {','.join(axes)} keeps fixed at"
                              f" {opt[i]}; add its axis to --dynamic or keep it at {opt[i]}")
    if not all(lo <= o <= hi for lo, o, hi in zip(low, opt, high)):
        raise DeployError(f"the input shape {','.join(map(str, opt))} is not within --min-shape"
                          f" {','.join(map(str, low))} and --max-shape {','.join(map(str, high))}")
    return low, high


def with_dynamic(loaded: LoadedModel, dynamic: Mapping[str, Any] | None, family: str) -> LoadedModel:
    """The family's model with the requested axes free in the export and verification at min, opt and max."""
    if not dynamic:
        return loaded
    axes = dynamic["axes"]
    if loaded.make_inputs_at is None:
        raise DeployError(f"family '{family}' cannot make inputs at other shapes, so a --dynamic export could not be"
                          " verified at its bounds; drop --dynamic")
    if "batch" in axes and loaded.task not in BATCHED_TASKS:
        raise DeployError(f"--dynamic batch: this {loaded.task} model takes one image per call (its outputs are one"
                          f" image's objects); drop batch (batched tasks: {', '.join(map(str, BATCHED_TASKS))})")
    if len(loaded.input_names) != 1:
        raise DeployError(f"--dynamic applies to a single image input; this model takes {', '.join(loaded.input_names)}")
    opt = [int(d) for d in loaded.make_inputs(0)[0].shape]
    if len(opt) != 4:
        raise DeployError(f"--dynamic needs an N,C,H,W image input; this one has shape {','.join(map(str, opt))}")
    low, high = bounds(dynamic, opt)
    name = loaded.input_names[0]
    free = {AXES[a]: a for a in axes}
    merged = {k: dict(v) for k, v in (loaded.dynamic_axes or {}).items()}
    merged[name] = {**merged.get(name, {}), **free}
    for out in loaded.outputs:  # whole-image outputs follow the input's free axes (per-detection ones already vary)
        if not out.per_detection:
            follows = {0: "batch"} if "batch" in axes else {}
            if loaded.task is Task.SEMANTIC_SEGMENTATION:
                follows.update({i: a for i, a in free.items() if i in (2, 3)})
            if follows:
                merged[out.name] = {**merged.get(out.name, {}), **follows}
    # verified at opt (the main inputs) and at both bounds; the family's own extra shapes are replaced
    return replace(loaded, dynamic_axes=merged, other_shapes=[tuple(low), tuple(high)],
                   preprocessing={**loaded.preprocessing, "dynamic": {"axes": list(axes), "min": low, "opt": opt, "max": high}})
