"""PyTorch's own intermediate values: every module call's output tensors, captured with forward hooks.

A module called several times (a head shared by the pyramid levels) gives one :class:`Call` per call, in call order;
a call's outputs are its tensors in the order ``tuple``/``list``/``dict``/dataclass-like containers hold them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np


@dataclass
class Call:
    module: str  # qualified name, "" for the model itself
    index: int  # which call of this module (0 for the first)
    order: int  # position among all calls' completions (a child finishes before its parent)
    tensors: list[np.ndarray] = field(default_factory=list)
    input_ids: list[int] = field(default_factory=list)  # id() of its input tensors, to tell what it was fed
    output_ids: list[int] = field(default_factory=list)
    kind: str = ""  # the module's class name


def flatten(value: Any, limit: int = 64) -> list:
    """The tensors in a module's output, depth first, at most ``limit`` of them."""
    import torch

    found: list = []

    # depth 6: Detectron2's RPN returns ([Instances], losses) and a box is 5 levels down
    # (tuple, list, Instances, its _fields dict, Boxes, .tensor); at 4 the proposals were never compared
    def walk(v: Any, depth: int) -> None:
        if len(found) >= limit or depth > 6:
            return
        if isinstance(v, torch.Tensor):
            found.append(v)
        elif isinstance(v, (list, tuple)):
            for item in v:
                walk(item, depth + 1)
        elif isinstance(v, dict):
            for item in v.values():
                walk(item, depth + 1)
        elif hasattr(v, "__dict__") and not isinstance(v, torch.nn.Module):  # Instances, ImageList, ...
            for item in vars(v).values():
                walk(item, depth + 1)

    walk(value, 0)
    return found


def module_calls(module, inputs: Sequence) -> tuple[list[Call], Any]:
    """Run ``module`` on ``inputs`` once with a forward hook on every submodule; (the calls, the model's output)."""
    import torch

    calls: list[Call] = []
    counts: dict[str, int] = {}
    names = {id(m): n for n, m in module.named_modules()}

    alive: list = []  # every tensor seen stays referenced until the run ends, so no two share an id()

    def hook(mod, args, output) -> None:
        name = names.get(id(mod))
        if name is None:
            return
        index = counts.get(name, 0)
        counts[name] = index + 1
        outputs, inputs = flatten(output), flatten(list(args))
        alive.extend(outputs + inputs)
        tensors = [t.detach().cpu().numpy().copy() for t in outputs]
        calls.append(Call(name, index, len(calls), tensors, [id(t) for t in inputs], [id(t) for t in outputs],
                          type(mod).__name__))

    handles = [m.register_forward_hook(hook) for m in module.modules()]
    try:
        with torch.no_grad():
            output = module(*inputs)
    finally:
        for h in handles:
            h.remove()
    return calls, output
