"""``linspace``: torch.linspace as arange arithmetic that keeps torch's exact endpoints and steps == 1.

Measured on torch 2.14 (tests/rewrites/test_linspace.py):
* legacy exporter, every opset: ``(end - start) / (steps - 1)`` times ``Range``;
  with a dynamic size of 1 that is 0 * inf = NaN where PyTorch gives ``[start]``,
  and the last element is one float32 step short of ``end`` (7.0999994 for 7.1);
* legacy exporter, opsets 7-8: ``ConstantOfShape`` does not exist yet; ONNX
  Runtime rejects the model;
* dynamo exporter with a dynamic size: the grid is baked to the export size and
  the input dimension silently becomes static (SOLO's CoordConv, seed 001).

The stand-in computes what torch's CPU kernel computes: the first half
counts up from ``start``, the second half counts down from ``end``, so both
endpoints are exact, and ``steps == 1`` gives ``start``.
"""
from __future__ import annotations

from deploybridge.records import Rewrite


def _as_tensor(value, dtype):
    import torch

    # torch.full, not torch.tensor: the tracer warns that torch.tensor results become constants
    return value.to(dtype) if isinstance(value, torch.Tensor) else torch.full((), float(value), dtype=dtype)


def exact_linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False):
    """torch.linspace for floating dtypes, from arange arithmetic that every exporter handles."""
    import torch

    dtype = dtype or torch.get_default_dtype()
    idx = torch.arange(steps, dtype=dtype, device=device)
    first, last = _as_tensor(start, dtype), _as_tensor(end, dtype)
    spans = steps - 1
    spans = spans.clamp(min=1) if isinstance(spans, torch.Tensor) else max(spans, 1)
    step = (last - first) / spans
    halfway = steps // 2
    halfway = halfway.clamp(min=1) if isinstance(halfway, torch.Tensor) else max(halfway, 1)  # steps == 1 -> [start]
    values = torch.where(idx < halfway, first + step * idx, last - step * (steps - 1 - idx))
    return values.requires_grad_(requires_grad)


def make_stand_in(original):
    def linspace(start, end, steps, *, out=None, dtype=None, layout=None, device=None, requires_grad=False):
        import torch

        if out is not None or not (dtype or torch.get_default_dtype()).is_floating_point:
            # integer linspace truncates as torch does; out= cannot be traced anyway
            return original(start, end, steps, out=out, dtype=dtype, layout=layout, device=device, requires_grad=requires_grad)
        return exact_linspace(start, end, steps, dtype=dtype, device=device, requires_grad=requires_grad)

    return linspace


REWRITE = Rewrite(
    name="linspace",
    kind="function",
    target="torch.linspace",
    replacement=make_stand_in,
    wrap=True,
    why="exported linspace is NaN for a size of 1, misses the end point by a step rounding, is invalid below"
        " opset 9 and baked to the export size by dynamo; arange arithmetic as torch computes it",
    exporters=("legacy", "dynamo"),
    opsets=(9, 99),
)
