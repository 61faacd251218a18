"""PyTorch module calls paired with the ONNX tensors that hold their outputs.

A module's nodes are those whose scope is the module or lies under it (debug/scopes.py); its *exit* tensors are the
ones those nodes produce and something outside them reads (or the graph returns). Each call's output tensors take,
in call order, the first unused exit with the same shape and kind (float / integer / bool): a head shared by five
pyramid levels gives five calls and five sets of exits, in the order the trace recorded them. A tensor that is the
exit of nested modules (a Conv that ends its block) is paired with the innermost one. Module outputs with no such
exit (folded into constants, passed through unchanged, or a shape the graph does not hold) stay unpaired.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from deploybridge.parity.debug.capture import Call
from deploybridge.parity.debug.scopes import Scope


@dataclass
class Paired:
    tensor: str  # the ONNX tensor
    module: str  # the innermost module whose call's output it holds
    call: int  # which call of that module
    position: int  # which of that call's output tensors
    reference: np.ndarray  # PyTorch's value


def _inside(module: str, scope: str | None) -> bool:
    return scope is not None and (module == "" or scope == module or scope.startswith(module + "."))


def exits(model, scopes: Sequence[Scope], module: str, reads: Sequence[set[str]] | None = None) -> list[str]:
    """The tensors ``module``'s nodes produce that other nodes read or the graph returns, in node order (``reads``:
    each node's consumed names, when the caller has them)."""
    from deploybridge.runtime.segments import _consumed

    nodes = list(model.graph.node)
    reads = reads if reads is not None else [_consumed(n) for n in nodes]
    inside = [_inside(module, s.module) for s in scopes]
    read_outside = {t for k in range(len(nodes)) if not inside[k] for t in reads[k]}
    read_outside |= {o.name for o in model.graph.output}
    return [o for k, n in enumerate(nodes) if inside[k] for o in n.output if o in read_outside]


def _kind(dtype) -> str:
    dtype = np.dtype(dtype)
    return "bool" if dtype == np.bool_ else "float" if np.issubdtype(dtype, np.floating) else "int"


def candidates(model, scopes: Sequence[Scope], calls: Sequence[Call]) -> dict[str, list[str]]:
    """Module -> its exit tensors, for every module that was called (what has to be read out of the graph)."""
    from deploybridge.runtime.segments import _consumed

    reads = [_consumed(n) for n in model.graph.node]
    return {m: exits(model, scopes, m, reads) for m in dict.fromkeys(c.module for c in calls) if m}


def pair(calls: Sequence[Call], exits_of: Mapping[str, list[str]], values: Mapping[str, np.ndarray]) -> list[Paired]:
    """Each call's output tensors paired with exits of its module, by shape and kind (``values``: the graph's)."""
    used: dict[str, set[str]] = {}
    paired: dict[str, Paired] = {}
    for call in sorted(calls, key=lambda c: c.order):  # children complete first: the innermost module keeps a tensor
        taken = used.setdefault(call.module, set())
        for position, ref in enumerate(call.tensors):
            for name in exits_of.get(call.module, ()):
                got = values.get(name)
                if name in taken or got is None or got.shape != ref.shape or _kind(got.dtype) != _kind(ref.dtype):
                    continue
                taken.add(name)
                paired.setdefault(name, Paired(name, call.module, call.index, position, ref))
                break
    return list(_absorb_fused(calls, exits_of, paired).values())


def _absorb_fused(calls: Sequence[Call], exits_of: Mapping[str, list[str]], paired: dict[str, Paired]) -> dict[str, Paired]:
    """A BatchNorm with no node of its own that was fed another call's output was folded into it by the legacy
    exporter (into the Conv before it): the tensor paired with that output holds the BatchNorm's output instead. Only
    BatchNorm: the dynamo exporter folds the other way (the Conv has no node, the fused Conv node is in the
    BatchNorm's scope), and a nodeless Conv fed a block's output must not take that block's tensor."""
    holder = {(p.module, p.call, p.position): name for name, p in paired.items()}
    produced_by = {oid: (c.module, c.index, k) for c in calls for k, oid in enumerate(c.output_ids)}
    for call in sorted(calls, key=lambda c: c.order):
        if "BatchNorm" not in call.kind or exits_of.get(call.module) or len(call.tensors) != 1 or not call.input_ids:
            continue
        source = produced_by.get(call.input_ids[0])
        name = holder.get(source) if source else None
        if name is None or paired[name].reference.shape != call.tensors[0].shape:
            continue
        paired[name] = Paired(name, call.module, call.index, 0, call.tensors[0])
        holder[(call.module, call.index, 0)] = name
    return paired
