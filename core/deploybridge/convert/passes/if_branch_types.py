"""``fix_if_branch_types``: make both branches of every ``If`` return the same element type.

Detectron2's ``paste_masks_in_image`` returns uint8 in its no-detection branch
and bool in the other; the exporter writes an ``If`` whose branches disagree
and ONNX Runtime refuses to load the model ("Type Error: ... inferred bool,
declared uint8", detectron2#4907). The branch whose type differs from the
preferred one gets a ``Cast`` on its output. Nested ``If``/``Loop`` bodies are
visited too.
"""
from __future__ import annotations

import numpy as np

# bool/uint8: masks (bool is what the non-empty branch computes); integers: widest; floats: float32 (the model's)
_PREFERRED = [np.dtype(bool), np.dtype(np.int64), np.dtype(np.int32), np.dtype(np.float32), np.dtype(np.float16),
              np.dtype(np.float64), np.dtype(np.uint8)]


def _rank(dtype) -> int:
    dtype = np.dtype(dtype)
    return _PREFERRED.index(dtype) if dtype in _PREFERRED else len(_PREFERRED)


def _cast_output(branch, index: int, dtype) -> None:
    import onnx
    import onnx_graphsurgeon as gs

    out = branch.outputs[index]
    cast = gs.Variable(f"{out.name}_as_{np.dtype(dtype).name}", dtype=dtype, shape=out.shape)
    branch.nodes.append(gs.Node("Cast", inputs=[out], outputs=[cast], attrs={"to": onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))}))
    branch.outputs[index] = cast


def _subgraphs(node):
    import onnx_graphsurgeon as gs

    return [v for v in node.attrs.values() if isinstance(v, gs.Graph)]


def fix_if_branch_types(graph, ctx=None):
    """Cast ``If`` branch outputs to one element type; returns the graph (changed in place)."""
    for node in graph.nodes:
        for sub in _subgraphs(node):
            fix_if_branch_types(sub, ctx)
        if node.op != "If":
            continue
        then, other = node.attrs["then_branch"], node.attrs["else_branch"]
        for i, (a, b) in enumerate(zip(then.outputs, other.outputs)):
            if a.dtype is None or b.dtype is None or np.dtype(a.dtype) == np.dtype(b.dtype):
                continue
            target = min((a.dtype, b.dtype), key=_rank)
            _cast_output(then if np.dtype(a.dtype) != np.dtype(target) else other, i, target)
            node.outputs[i].dtype = target
    return graph
