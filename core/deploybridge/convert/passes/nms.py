"""``truncate_before_nms``: NonMaxSuppression leaves the engine and runs on the host.

Every ``NonMaxSuppression`` node, including those inside ``If`` branches as
torchvision and Detectron2 emit them (``if boxes.numel() == 0: return empty``),
becomes a ``deploybridge::HostNonMaxSuppression`` node with the same inputs,
outputs and attributes. At build time the artifact's graph is cut at those
nodes into engine segments (``deploybridge.runtime.segments``); the host runs NMS in
NumPy (``deploybridge.runtime.host_nms``) between them. The engine therefore sees the
pre-NMS boxes and scores as outputs, and whatever the model does after NMS
(top-k, box rescaling, the mask head) runs in a later segment, unchanged.

An ``If`` whose one branch only returns constants (the empty case) is replaced
by its NMS branch: that branch also gives the empty answer for empty inputs
(ReduceMax of nothing is -inf in ONNX Runtime, NMS of nothing is nothing), and
verification runs the result. An NMS in any other control flow fails the pass
by name: cutting there would change what the model computes.
"""
from __future__ import annotations

from typing import Iterator

from deploybridge.errors import DeployError

HOST_DOMAIN = "deploybridge"
HOST_NMS = "HostNonMaxSuppression"


def _subgraphs(node) -> Iterator:
    for attr in node.attribute:
        if attr.HasField("g"):
            yield attr.g
        yield from attr.graphs


def contains_nms(graph) -> bool:
    return any(n.op_type == "NonMaxSuppression" and n.domain in ("", "ai.onnx") or any(contains_nms(s) for s in _subgraphs(n))
               for n in graph.node)


def _only_constants(graph) -> bool:
    return all(n.op_type in ("Constant", "Identity") for n in graph.node)


def _inline_nms_branches(graph) -> None:
    """Replace ``If(cond, then=constants, else=... NMS ...)`` (or mirrored) by the NMS branch's nodes."""
    from onnx import helper

    out = []
    for node in graph.node:
        if node.op_type == "If":
            branches = {a.name: a.g for a in node.attribute}
            then, other = branches["then_branch"], branches["else_branch"]
            chosen = other if contains_nms(other) and _only_constants(then) else then if contains_nms(then) and _only_constants(other) else None
            if chosen is not None:
                _inline_nms_branches(chosen)
                out.extend(chosen.node)
                out.extend(helper.make_node("Identity", [b.name], [o], name=f"{node.name or o}_inlined_{k}")
                           for k, (b, o) in enumerate(zip(chosen.output, node.output)))
                continue
        for sub in _subgraphs(node):
            _inline_nms_branches(sub)
        out.append(node)
    graph.ClearField("node")
    graph.node.extend(out)


def _to_host(graph) -> int:
    count = 0
    for node in graph.node:
        if node.op_type == "NonMaxSuppression" and node.domain in ("", "ai.onnx"):
            node.op_type, node.domain = HOST_NMS, HOST_DOMAIN
            count += 1
        for sub in _subgraphs(node):
            if contains_nms(sub):
                raise DeployError(f"truncate_before_nms: NonMaxSuppression inside {node.op_type} '{node.name}' cannot be cut"
                                  " (its other branch is not a constant); convert without --truncate-nms")
    return count


def truncate_before_nms(graph, ctx=None):
    import onnx_graphsurgeon as gs
    from onnx import helper

    model = gs.export_onnx(graph)
    _inline_nms_branches(model.graph)
    if _to_host(model.graph) == 0:
        raise DeployError("truncate_before_nms: the graph has no NonMaxSuppression node; convert without --truncate-nms")
    if not any(o.domain == HOST_DOMAIN for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid(HOST_DOMAIN, 1))
    return gs.import_onnx(model)
