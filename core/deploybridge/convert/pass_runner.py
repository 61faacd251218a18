"""Running graph-surgery passes after export, re-checking the model after each."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from deploybridge.errors import DeployError, first_line
from deploybridge.records import GraphPass


@dataclass
class PassContext:
    """What a pass may need to know about the conversion."""

    family: str
    backend: str
    output_names: Sequence[str]
    options: Mapping[str, Any] = field(default_factory=dict)


def select(passes: Mapping[str, GraphPass], family: str, requested: Sequence[str], backend: str) -> list[GraphPass]:
    unknown = [n for n in requested if n not in passes]
    if unknown:
        raise DeployError(f"unknown graph pass(es) {', '.join(unknown)}; `deploy rewrites` lists the passes")
    chosen = [
        p for p in passes.values()
        if p.name in requested or ((family in p.families or "*" in p.families) and (not p.backends or backend in p.backends))
    ]
    return sorted(chosen, key=lambda p: (p.order, p.name))


def run_passes(model, passes: Sequence[GraphPass], ctx: PassContext):
    """Apply ``passes`` in order to an ``onnx.ModelProto``; return the new model."""
    if not passes:
        return model
    import onnx
    import onnx_graphsurgeon as gs

    for p in passes:
        try:
            graph = p.run(gs.import_onnx(model), ctx)
            new = gs.export_onnx(graph)
            new.metadata_props.extend(model.metadata_props)
            keep_node_metadata(model, new)
            onnx.checker.check_model(new)
            # a check only: writing the inferred value_info into the model let ONNX Runtime fold Shape ops
            # with sizes inferred from the export example (RetinaNet failed on an image with no candidates)
            onnx.shape_inference.infer_shapes(new, strict_mode=True)
        except DeployError:
            raise
        except Exception as exc:
            raise DeployError(f"graph pass '{p.name}' (plugin '{p.owner}') broke the model: {first_line(exc, 200)}") from exc
        model = new
    return model


def keep_node_metadata(old, new) -> None:
    """Copy each node's metadata_props (the dynamo exporter's module scopes and stack traces, which `deploy debug`
    reads) from ``old`` to the node of the same name in ``new``: onnx-graphsurgeon drops them."""
    props = {n.name: list(n.metadata_props) for n in old.graph.node if n.name and len(n.metadata_props)}
    if not props:
        return
    for node in new.graph.node:
        if node.name in props and not len(node.metadata_props):
            node.metadata_props.extend(props[node.name])
