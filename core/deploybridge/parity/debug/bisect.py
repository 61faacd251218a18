"""Large graphs read in passes: a sample of the tensors first, then the tensors the first diverging sample is
computed from, back to the samples that agree. A graph of thousands of tensors (a full-size detector against float32
ONNX Runtime) is never held in memory at once, and the earliest diverging tensor the first diverging sample depends
on is found exactly (a window larger than one pass is searched the same way)."""
from __future__ import annotations

import math
from typing import Callable, Sequence

from deploybridge.parity.debug.divergence import TensorError, first

MAX_TENSORS = 1500  # read in one pass up to this many; above it, passes of about half as many each


def two_pass(names: Sequence[str], compare: Callable[[list[str]], list[TensorError]],
             upstream: Callable[[str, set[str]], list[str]], limit: int = MAX_TENSORS) -> list[TensorError]:
    """``compare`` (tensor names -> their errors) on ``names`` (in graph order): in one pass when they are at most
    ``limit``; else on every ``step``-th one, then on ``upstream(first diverging sample, agreeing samples)`` (the
    tensors it is computed from, back to those samples)."""
    names = list(names)
    if len(names) <= limit:
        return compare(names)
    step = math.ceil(len(names) / max(limit // 2, 1))
    sample = names[::step] + ([names[-1]] if (len(names) - 1) % step else [])
    errors = compare(sample)
    found = first(errors)
    if found is None:
        return errors
    agree = {e.tensor for e in errors if not e.diverged}
    known, wanted = set(sample), set(names)
    window = [n for n in upstream(found.tensor, agree) if n in wanted and n not in known]
    if len(window) >= len(names):  # cannot narrow (should not happen): one pass of what is left
        return sorted(errors + compare(window[:limit]), key=lambda e: e.depth)
    return sorted(errors + two_pass(window, compare, upstream, limit), key=lambda e: e.depth)


def upstream_of(model, feed: Sequence[str]) -> Callable[[str, set[str]], list[str]]:
    """(tensor, stop) -> the tensors ``tensor`` is computed from, not through ``stop`` or graph inputs, in graph order."""
    from deploybridge.parity.debug.divergence import trace_back

    nodes = list(model.graph.node)

    def upstream(tensor: str, stop: set[str]) -> list[str]:
        _, between = trace_back(model, tensor, stop, feed)
        return [o for k in between for o in nodes[k].output if o]

    return upstream
