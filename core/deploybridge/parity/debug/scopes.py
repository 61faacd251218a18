"""Which PyTorch module an ONNX node came from, read from what the exporter left in the graph.

* the legacy (TorchScript) exporter names each node after its module scopes, ``/backbone/body/layer1/layer1.0/conv1/Conv``:
  every part but the last is a scope, written either as the attribute name under its parent or as the module's full
  qualified name (torch writes both forms, depending on nesting); :func:`module_of_parts` accepts either;
* the dynamo exporter keeps ``pkg.torch.onnx.name_scopes`` (the qualified names, outermost first) and
  ``pkg.torch.onnx.stack_trace`` (the source lines) as node metadata.

A node whose scope names no module of the model (a graph pass's node, constant folding's, a host step) is reported
as unmapped: the debugger says so instead of guessing.
"""
from __future__ import annotations

import ast
import inspect
import re
from dataclasses import dataclass
from typing import Mapping

NAME_SCOPES = "pkg.torch.onnx.name_scopes"
STACK_TRACE = "pkg.torch.onnx.stack_trace"


@dataclass(frozen=True)
class Scope:
    module: str | None  # qualified name ("" is the model itself), None when the node names no module
    module_type: str = ""  # the module's class, e.g. torch.nn.modules.conv.Conv2d
    source: str = ""  # file:line of the exporter's stack trace, else of the module's forward


def module_of_parts(parts: list[str], modules: Mapping[str, object]) -> str | None:
    """The qualified name the scope parts of a legacy node name lead to, or None when a part is no module.

    torch writes a part relative to some enclosing module, not always the innermost one
    (``/model/backbone/stages.3/stages.3.0/Relu`` for ``model.backbone.stages.3.0``): each part is tried under the
    current module and then under each of its ancestors, and must lead below the current module. A module's later
    calls are written with a suffix (``/head_1/Relu``, ``/head/conv_1/Conv`` in a shared head's second call): a part
    that is no module is tried without it."""
    current = ""
    for part in parts:
        if not part:
            continue
        ancestors = current.split(".") if current else []
        found = None
        for name in dict.fromkeys([part, re.sub(r"_\d+$", "", part)]):
            for k in range(len(ancestors), -1, -1):
                candidate = ".".join([*ancestors[:k], name])
                if candidate in modules and (not current or candidate.startswith(current + ".")):
                    found = candidate
                    break
            if found is not None:
                break
        if found is None:
            return None
        current = found
    return current


def _metadata(node) -> dict[str, str]:
    return {p.key: p.value for p in getattr(node, "metadata_props", [])}


def _dynamo_module(node, modules: Mapping[str, object]) -> str | None:
    raw = _metadata(node).get(NAME_SCOPES)
    if not raw:
        return None
    try:
        names = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return None
    # outermost first, the model itself ("") first and the op's own name last; each a module's qualified name or its
    # name relative to an enclosing one, as in legacy node names
    return module_of_parts([n for n in names[:-1] if n], modules)


def _trace_line(node) -> str:
    """The innermost frame of the node's recorded stack trace ("file:line"), if the exporter kept one."""
    text = _metadata(node).get(STACK_TRACE) or node.doc_string or ""
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("File "):  # dynamo: File "path", line N, in fn
            try:
                path, rest = line[5:].split(", line ", 1)
                return f"{path.strip(chr(34))}:{rest.split(',', 1)[0]}"
            except ValueError:
                continue
        if "(" in line and "):" in line:  # legacy: path(N): fn
            path, rest = line.split("(", 1)
            return f"{path}:{rest.split(')', 1)[0]}"
    return ""


def forward_source(module: object) -> str:
    """file:line of the module class's forward, the best the legacy exporter's names allow."""
    forward = getattr(type(module), "forward", None)
    try:
        return f"{inspect.getsourcefile(forward)}:{inspect.getsourcelines(forward)[1]}"
    except (TypeError, OSError):
        return ""


def node_scope(node, modules: Mapping[str, object]) -> Scope:
    """The module ``node`` was exported from (``modules``: ``dict(model.named_modules())``)."""
    name = _dynamo_module(node, modules)
    if name is None and node.name.startswith("/"):
        name = module_of_parts(node.name.split("/")[1:-1], modules)
    if name is None:
        return Scope(None, source=_trace_line(node))
    module = modules[name]
    kind = f"{type(module).__module__}.{type(module).__qualname__}"
    return Scope(name, kind, _trace_line(node) or forward_source(module))


def body_nodes(model) -> list[tuple[object, str]]:
    """(node, name of the top-level If/Loop/Scan node whose body holds it), for every node inside a body: tensors
    inside a body cannot be read out, so its nodes are reported at their parent."""
    from deploybridge.convert.onnx_io import iter_nodes

    return [(node, top.name) for top in model.graph.node for attr in top.attribute
            for sub in ([attr.g] if attr.HasField("g") else []) + list(attr.graphs) for node in iter_nodes(sub)]


def subgraph_parents(model) -> dict[str, str]:
    """Node name -> the top-level If/Loop/Scan node holding it in a body (see :func:`body_nodes`)."""
    return {node.name: parent for node, parent in body_nodes(model)}
