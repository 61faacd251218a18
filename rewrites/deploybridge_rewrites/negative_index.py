"""``negative_index``: advanced indexing with several index tensors, indices made non-negative first.

The legacy exporter writes ``x[i, j]`` (two or more index tensors) as one
Gather over the flattened dimensions, ``i * size(1) + j``: a negative ``j``
lands in the previous row, silently (the exporter only warns "If indices
include negative values, the exported graph will produce incorrect results",
seed 000). Measured on torch 2.14: max abs error 0.64 at opsets 9, 11, 13, 17
(tests/rewrites/test_negative_index.py). A single index tensor (``x[:, j]``) is
exported as Gather, which accepts negative indices, and is left alone.

Assignment (``x[i, j] = v``) is exported as ScatterND, which accepts negative
indices (measured: exact at opsets 11 and 17), and the dynamo exporter gets
both right, so neither is rewritten.

The stand-in for ``Tensor.__getitem__`` adds the dimension's
size to negative entries of every integer index tensor (``where(i < 0, i + n, i)``,
traced with the dynamic size) when two or more index tensors are present.
"""
from __future__ import annotations

from deploybridge.records import Rewrite

WARNING = r"Exporting aten::index(_put)? operator of advanced indexing .*negative values"


def _consumed(item) -> int:
    """How many dimensions of the indexed tensor one index item consumes."""
    import torch

    if item is None:
        return 0
    if isinstance(item, torch.Tensor) and item.dtype in (torch.bool, torch.uint8):
        return item.dim()
    return 1


def _is_index_tensor(item) -> bool:
    import torch

    return isinstance(item, torch.Tensor) and not item.dtype.is_floating_point and item.dtype not in (torch.bool, torch.uint8)


def normalise_indices(x, index):
    """``index`` with negative entries of its integer index tensors wrapped into [0, size)."""
    import torch

    items = list(index) if isinstance(index, tuple) else [index]
    items = [torch.as_tensor(it) if isinstance(it, list) and all(isinstance(v, int) for v in it) else it for it in items]
    if sum(_is_index_tensor(it) for it in items) < 2:
        return index
    explicit = sum(_consumed(it) for it in items if it is not Ellipsis)
    out, dim = [], 0
    for item in items:
        if item is Ellipsis:
            dim += x.dim() - explicit
        elif _is_index_tensor(item):
            size = x.shape[dim]
            item = torch.where(item < 0, item + size, item)
        dim += 0 if item is Ellipsis else _consumed(item)
        out.append(item)
    return tuple(out)


def make_getitem(original):
    def __getitem__(self, index):
        return original(self, normalise_indices(self, index))

    return __getitem__


REWRITE = Rewrite(
    name="negative_index",
    kind="function",
    target="torch.Tensor.__getitem__",
    replacement=make_getitem,
    wrap=True,
    why="x[i, j] with several index tensors is exported as one flattened Gather that puts negative indices in the"
        " wrong row; indices are wrapped to [0, size) first",
    exporters=("legacy",),  # the dynamo exporter gets it right (measured, max abs error 0.0)
    opsets=(9, 99),
    fixes=(WARNING,),
)
