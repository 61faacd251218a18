"""`deploy debug`: where an artifact's computation first leaves PyTorch's, named by op, node, module and fix.

The model is rebuilt from the manifest (as `deploy verify` does) and run once with a forward hook on every module;
the artifact's model.onnx runs on the same input with every tensor that holds a module's output marked as an output
(debug/tensors.py); the two are paired through the exporter's scope names (debug/mapping.py) and compared, and the
first tensor in graph order beyond its tolerance is reported with what it was computed from.

On a backend other than ONNX Runtime, or for a lowered precision (``--fp16`` / ``--int8`` on a float32 artifact, or
an fp16/int8 artifact), the question is where the backend or the precision departs from the float32 graph: every
tensor of the lowered/backend run is compared with ONNX Runtime CPU float32 on the same graph, tensors named by the
module of their node all the same.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from deploybridge.parity.debug import divergence as div
from deploybridge.parity.debug.scopes import Scope

FLOAT_TYPES = {1, 10, 11, 16}  # onnx FLOAT, FLOAT16, DOUBLE, BFLOAT16


@dataclass
class DebugResult:
    folder: str
    backend: str
    reference: str  # "pytorch" or "onnxruntime-fp32"
    precision: str
    input: str
    errors: list[div.TensorError] = field(default_factory=list)
    first: div.FirstDivergence | None = None
    unmapped_nodes: int = 0  # nodes whose scope names no module of the model
    nodes: int = 0
    worst_own: list[dict] = field(default_factory=list)  # precision: the layers adding the most error
    seconds: dict = field(default_factory=dict)

    @property
    def diverged(self) -> bool:
        return self.first is not None


def inherit_scopes(model, scopes: list[Scope]) -> list[Scope]:
    """A node the exporter did not name (a graph pass's Cast, quantization's Q/DQ pair) takes the scope of the node
    producing its first input: it computes on that node's output, so it belongs to the same module."""
    producer: dict[str, int] = {}
    out = list(scopes)
    for k, node in enumerate(model.graph.node):
        if out[k].module is None and node.input:
            p = producer.get(node.input[0])
            if p is not None and out[p].module is not None:
                out[k] = Scope(out[p].module, out[p].module_type, out[p].source)
        for o in node.output:
            producer[o] = k
    return out


def node_scopes(model, modules: Mapping[str, object]) -> list[Scope]:
    from deploybridge.parity.debug.scopes import node_scope

    return inherit_scopes(model, [node_scope(n, modules) for n in model.graph.node])


def tensor_errors(model, scopes: Sequence[Scope], pairs: Mapping[str, np.ndarray], values: Mapping[str, np.ndarray],
                  rtol: float, atol: float) -> list[div.TensorError]:
    """One TensorError per tensor in both ``pairs`` (reference values) and ``values`` (the artifact's)."""
    nodes = list(model.graph.node)
    producer = {o: k for k, n in enumerate(nodes) for o in n.output}
    rows = []
    for name, ref in pairs.items():
        k = producer.get(name)
        if k is None or name not in values:
            continue
        s = scopes[k]
        m = div.measure(np.asarray(ref), np.asarray(values[name]), rtol, atol)
        rows.append(div.TensorError(name, nodes[k].name, nodes[k].op_type, s.module, s.module_type, s.source, k,
                                    list(np.shape(values[name])), **m))
    return sorted(rows, key=lambda e: e.depth)


def own_errors(model, errors: Sequence[div.TensorError], feed: Sequence[str], top: int = 10) -> list[dict]:
    """The float tensors adding the most error themselves, largest first (divergence.own_errors: what the precision
    search ranks as sensitivity). Integer tensors (indices, counts) and float tensors of another shape are not
    ranked; what is computed from them inherits their difference."""
    from deploybridge.runtime.segments import tensor_types

    floats = {t for t, kind in tensor_types(model).items() if kind in FLOAT_TYPES}
    measured = {e.tensor: (e.max_rel, e.overflow) for e in errors}
    own = div.own_errors(model, measured, {t for t in measured if t not in floats}, feed)
    rows = [{"tensor": e.tensor, "node": e.node, "op": e.op, "module": e.module, "own_error": own[e.tensor],
             "max_rel": e.max_rel, "overflow": e.overflow} for e in errors if e.tensor in own]
    rows.sort(key=lambda r: (-r["own_error"], -r["overflow"]))  # an overflow's own error is OVERFLOWED: first
    return rows[:top]


def compare_with_pytorch(model, loaded, torch_inputs, feed: Mapping[str, np.ndarray], host_ops, engine,
                         rtol: float, atol: float, on_step: Callable[[str], None] | None = None):
    """(errors, scopes) of the artifact's graph against PyTorch's module outputs on one input."""
    from deploybridge.parity.debug import capture, mapping, tensors

    calls, _ = capture.module_calls(loaded.module, torch_inputs)
    if on_step:
        on_step(f"PyTorch: {len(calls)} module calls captured")
    modules = dict(loaded.module.named_modules())
    scopes = node_scopes(model, modules)
    exits_of = mapping.candidates(model, scopes, calls)
    wanted = {t for names in exits_of.values() for t in names}
    values = tensors.read_out(model, feed, wanted, host_ops, engine, on_step)
    paired = mapping.pair(calls, exits_of, values)
    pairs = {p.tensor: p.reference for p in paired}
    # the declared outputs against the model's own outputs, whatever the scopes say
    root = [c for c in calls if c.module == ""]
    if root:
        for name, ref in zip(loaded.output_names, root[-1].tensors):
            pairs.setdefault(name, ref)
    return tensor_errors(model, scopes, pairs, values, rtol, atol), scopes


def compare_with_fp32(model, fp32_model, modules: Mapping[str, object], feed: Mapping[str, np.ndarray], host_ops,
                      engine, rtol: float, atol: float, on_step: Callable[[str], None] | None = None):
    """(errors, scopes) of ``model`` run by ``engine`` against ``fp32_model`` on ONNX Runtime CPU, tensor by tensor
    (the names both graphs share: a lowered graph keeps its float32 graph's tensor names, or holds a float16 chain's
    tensors as ``<name>_fp16``: tensors.held_in)."""
    from deploybridge.parity.debug import tensors
    from deploybridge.parity.debug.bisect import two_pass, upstream_of
    from deploybridge.runtime.segments import tensor_types

    scopes = node_scopes(model, modules)
    typed = tensor_types(fp32_model)
    origin = {held: name for name, held in tensors.held_in(model, [t for t, kind in typed.items() if kind]).items()}
    names = [o for n in model.graph.node for o in n.output if o in origin]  # the lowered graph's names, graph order

    def compare(subset: list[str]) -> list[div.TensorError]:
        ref = tensors.read_out(fp32_model, feed, [origin[t] for t in subset], host_ops, None, on_step)
        held = [t for t in subset if origin[t] in ref]
        values = tensors.read_out(model, feed, held, host_ops, engine, on_step)
        return tensor_errors(model, scopes, {t: ref[origin[t]] for t in held}, values, rtol, atol)

    return two_pass(names, compare, upstream_of(model, list(feed))), scopes


def backend_engine(backend, options: Mapping[str, Any]) -> Callable[[Path, dict], dict] | None:
    """Runs one segment file on ``backend`` (built as the artifact was); None for ONNX Runtime (tensors.py's)."""
    if backend.name == "onnxruntime" and not options.get("providers"):
        return None

    def run(path: Path, feed: dict) -> dict:
        with tempfile.TemporaryDirectory(prefix="deploybridge-debug-engine-") as tmp:
            folder = Path(tmp)
            (folder / "model.onnx").write_bytes(Path(path).read_bytes())
            backend.build(folder / "model.onnx", folder, dict(options))
            return dict(backend.load(folder, {}, dict(options))(feed))

    return run
