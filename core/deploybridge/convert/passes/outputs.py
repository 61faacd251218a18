"""``name_outputs`` and ``order_outputs``: the graph's outputs carry the family's declared names, in its order.

Exporters name outputs after internal values (Detectron2's TracingAdapter gives
``boxes.35``) and a backend may list them in another order than the ONNX file
(seed 001: TensorRT's order differed from ONNX). Verification and
``deploy run`` look outputs up by name; these passes make the names and the
order the declared ones on every backend.
"""
from __future__ import annotations

from deploybridge.errors import DeployError


def name_outputs(graph, ctx):
    """Rename outputs to ``ctx.output_names`` by position, where the names are not already the declared ones."""
    declared = list(ctx.output_names)
    names = [o.name for o in graph.outputs]
    if sorted(names) == sorted(declared):
        return graph  # already named; order_outputs puts them in order
    if len(names) != len(declared):
        raise DeployError(f"name_outputs: the graph has {len(names)} outputs ({', '.join(names)}) but the family declares"
                          f" {len(declared)} ({', '.join(declared)}); the export is not the declared model")
    taken = {t for t in graph.tensors() if t not in names}
    clash = [n for n in declared if n in taken]
    if clash:
        raise DeployError(f"name_outputs: declared output name(s) {', '.join(clash)} already name inner tensors of the graph")
    for tensor, name in zip(graph.outputs, declared):
        tensor.name = name
    return graph


def order_outputs(graph, ctx):
    """Put the outputs in the declared order; fail naming what is missing or extra."""
    declared = list(ctx.output_names)
    by_name = {o.name: o for o in graph.outputs}
    missing = [n for n in declared if n not in by_name]
    extra = [n for n in by_name if n not in declared]
    if missing or extra:
        raise DeployError(f"order_outputs: graph outputs {list(by_name)} are not the declared {declared}"
                          f" (missing: {', '.join(missing) or 'none'}; extra: {', '.join(extra) or 'none'})")
    graph.outputs = [by_name[n] for n in declared]
    return graph
