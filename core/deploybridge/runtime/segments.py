"""Artifacts whose graph has host steps (``deploybridge::<HostOp>`` nodes): cut into engine segments.

``model.onnx`` keeps the whole computation (inspectable, one file to verify
against). At build time it is cut at the host nodes: every node gets a stage,
the largest stage of its inputs' producers, plus one after a host node; the
nodes of one stage form an engine segment (``segments/<k>/model.onnx``, built
by the backend like any model), and host nodes of stage k run after segment k,
each by the :class:`~deploybridge.records.HostOp` registered under its op type
(``HostNonMaxSuppression`` is built in; family plugins add their own, e.g. the
solo plugin's post-processing).
The runner keeps every produced tensor by name, feeds each step what it needs
and returns the declared outputs, so callers see one ``dict -> dict`` runner.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from deploybridge.errors import DeployError
from deploybridge.convert.passes.nms import HOST_DOMAIN, HOST_NMS

SEGMENTS = "segments"


@dataclass
class Step:
    stage: int
    host: Any = None  # the host NodeProto, or None for an engine segment
    nodes: list = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)


def has_host_steps(model) -> bool:
    return any(n.domain == HOST_DOMAIN for n in model.graph.node)


def _consumed(node) -> set[str]:
    """Tensor names a node reads, including outer-scope names its subgraphs use."""
    names = {i for i in node.input if i}
    for attr in node.attribute:
        for sub in ([attr.g] if attr.HasField("g") else []) + list(attr.graphs):
            names |= _free_names(sub)
    return names


def _free_names(graph) -> set[str]:
    defined = {i.name for i in graph.input} | {i.name for i in graph.initializer}
    free: set[str] = set()
    for node in graph.node:
        free |= {n for n in _consumed(node) if n not in defined}
        defined |= set(node.output)
    return free


def plan(model) -> list[Step]:
    """Engine segments and host steps in execution order."""
    graph = model.graph
    # Constant nodes are copied into each segment that reads them rather than passed between segments
    constants = _constant_nodes(graph)
    producer_stage: dict[str, int] = {}
    after_host: set[str] = set()
    stages: list[tuple[int, Any]] = []
    for node in graph.node:
        if node.output[0] in constants:
            continue
        reads = _consumed(node)
        stage = max([producer_stage[t] + (t in after_host) for t in reads if t in producer_stage], default=0)
        stages.append((stage, node))
        for out in node.output:
            producer_stage[out] = stage
            if node.domain == HOST_DOMAIN:
                after_host.add(out)
    steps: list[Step] = []
    for stage in range(max(s for s, _ in stages) + 1):
        engine = Step(stage, nodes=[n for s, n in stages if s == stage and n.domain != HOST_DOMAIN])
        if engine.nodes:
            steps.append(engine)
        steps.extend(Step(stage, host=n, inputs=[i for i in n.input], outputs=list(n.output))
                     for s, n in stages if s == stage and n.domain == HOST_DOMAIN)
    _wire(steps, graph)
    return steps


def _constant_nodes(graph) -> dict:
    return {n.output[0]: n for n in graph.node if n.op_type == "Constant" and n.domain in ("", "ai.onnx")}


def _wire(steps: list[Step], graph) -> None:
    """Inputs and outputs of each engine segment: what it reads from earlier steps, what later steps or the caller need."""
    initializers = {i.name for i in graph.initializer} | set(_constant_nodes(graph))
    declared = [o.name for o in graph.output]
    needed_later: set[str] = set(declared)
    for step in reversed(steps):
        if step.host is not None:
            needed_later |= {i for i in step.inputs if i}
            continue
        produced = {o for n in step.nodes for o in n.output}
        reads = set().union(*(_consumed(n) for n in step.nodes)) - produced - initializers
        step.inputs = sorted(reads)
        mine = produced & needed_later  # the model's outputs first, in their declared order
        step.outputs = [n for n in declared if n in mine] + sorted(mine - set(declared))
        needed_later = (needed_later - produced) | reads


def describe(model, host_ops: Mapping[str, Any] | None = None) -> list[dict] | None:
    """The execution plan for the manifest: engine segments (file, tensor counts) and host steps; None without host steps."""
    if not has_host_steps(model):
        return None
    rows, k = [], 0
    for step in plan(model):
        if step.host is None:
            rows.append({"kind": "engine", "file": f"{SEGMENTS}/{k}/model.onnx", "nodes": len(step.nodes),
                         "inputs": step.inputs, "outputs": step.outputs})
            k += 1
        else:
            op = (host_ops or {}).get(step.host.op_type)
            rows.append({"kind": "host", "op": step.host.op_type, "node": step.host.name, "inputs": step.inputs,
                         "outputs": step.outputs, "owner": op.owner if op else None,
                         "implementation": op.description if op else None})
    return rows


def segment_model(model, step: Step, types: Mapping[str, int], ranks: Mapping[str, int | None] | None = None):
    from onnx import helper

    used = set().union(*(_consumed(n) for n in step.nodes))
    constants = [n for name, n in _constant_nodes(model.graph).items() if name in used]
    untyped = [n for n in step.inputs + step.outputs if n not in types]
    if untyped:
        raise DeployError(f"cannot build engine segment {step.stage}: no element type for {', '.join(untyped[:3])}"
                          " (a host op's output?); a host op's symbolic must set its outputs' types (setType)")
    graph = helper.make_graph(
        constants + step.nodes, f"segment_{step.stage}",
        [_input_info(model, n, types[n], (ranks or {}).get(n)) for n in step.inputs],
        [helper.make_tensor_value_info(n, types[n], None) for n in step.outputs],
        initializer=[i for i in model.graph.initializer if i.name in used],
    )
    opsets = [o for o in model.opset_import if o.domain != HOST_DOMAIN]
    return helper.make_model(graph, opset_imports=opsets, ir_version=model.ir_version)


def _input_info(model, name: str, elem_type: int, rank: int | None):
    """A segment input: the graph input's own type, else the inferred rank with every dim unknown. OpenVINO's ONNX
    frontend refuses a Conv whose input rank is unknown; dims stay open, a count after a host step is data-dependent."""
    from onnx import helper

    declared = {i.name: i for i in model.graph.input}
    if name in declared:
        return declared[name]
    return helper.make_tensor_value_info(name, elem_type, None if rank is None else [None] * rank)


def tensor_types(model) -> dict[str, int]:
    """Element type of every tensor, inferred with the host nodes read as the ONNX ops they stand for."""
    return {name: elem_type for name, (elem_type, _) in tensor_signatures(model).items()}


def tensor_signatures(model) -> dict[str, tuple[int, int | None]]:
    """(element type, rank or None) of every tensor, inferred with the host nodes read as the ONNX ops they stand for."""
    import onnx

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    for node in probe.graph.node:
        if node.domain == HOST_DOMAIN and node.op_type == HOST_NMS:
            node.op_type, node.domain = "NonMaxSuppression", ""
    inferred = onnx.shape_inference.infer_shapes(probe)
    values = list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output)
    return {v.name: (v.type.tensor_type.elem_type,
                     len(v.type.tensor_type.shape.dim) if v.type.tensor_type.HasField("shape") else None) for v in values}


def build(backend, onnx_path: Path, out_dir: Path, options: Mapping[str, Any]) -> list[str]:
    """Build ``onnx_path`` with ``backend``; a graph with host steps is cut and each segment built in its own folder."""
    import onnx

    model = onnx.load(str(onnx_path))
    if not has_host_steps(model):
        return backend.build(onnx_path, out_dir, options)
    signatures = tensor_signatures(model)
    types = {name: elem_type for name, (elem_type, _) in signatures.items()}
    ranks = {name: rank for name, (_, rank) in signatures.items()}
    files: list[str] = []
    engines = [s for s in plan(model) if s.host is None]
    for k, step in enumerate(engines):
        folder = out_dir / SEGMENTS / str(k)
        folder.mkdir(parents=True)
        onnx.save(segment_model(model, step, types, ranks), str(folder / "model.onnx"))
        files.append(f"{SEGMENTS}/{k}/model.onnx")
        files += [f"{SEGMENTS}/{k}/{f}" for f in backend.build(folder / "model.onnx", folder, options)]
    return files


def _attributes(node) -> dict:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def host_op_for(node, host_ops: Mapping[str, Any]):
    if node.op_type in host_ops:
        return host_ops[node.op_type]
    raise DeployError(f"the artifact needs host op '{node.op_type}', which no loaded plugin provides; install the plugin"
                      f" that made the artifact (manifest 'plugin') and check `deploy plugins`")


def load(backend, folder: Path, manifest: Mapping[str, Any], options: Mapping[str, Any],
         host_ops: Mapping[str, Any] | None = None) -> Callable[[dict], dict]:
    """A ``dict -> dict`` runner for the artifact in ``folder``, host steps included (``host_ops``: by op type;
    default the built-in ones); an input the manifest says it does not take is refused in one line."""
    from deploybridge.runtime.input_check import checked

    return checked(_engines_and_host_steps(backend, folder, manifest, options, host_ops), manifest)


def default_host_ops(host_ops: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """``host_ops``, or the built-in ones (host NMS) when the caller has none."""
    if host_ops is not None:
        return host_ops
    from deploybridge.runtime.host_nms import HOST_OP

    return {HOST_OP.name: HOST_OP}


def constant_values(model) -> dict:
    """Initializers and Constant nodes' values by name: what a step-by-step run starts from."""
    from onnx import numpy_helper

    values = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    values.update({name: numpy_helper.to_array(n.attribute[0].t) for name, n in _constant_nodes(model.graph).items()
                   if n.attribute and n.attribute[0].name == "value"})
    return values


def _engines_and_host_steps(backend, folder: Path, manifest: Mapping[str, Any], options: Mapping[str, Any],
                            host_ops: Mapping[str, Any] | None) -> Callable[[dict], dict]:
    import onnx

    host_ops = default_host_ops(host_ops)
    folder = Path(folder)
    if not (folder / SEGMENTS).is_dir():
        return backend.load(folder, manifest, options)
    model = onnx.load(str(folder / "model.onnx"))
    constants = constant_values(model)
    steps = plan(model)
    engines = [s for s in steps if s.host is None]  # built into segments/0, segments/1, ... in this order
    runners = {id(s): backend.load(folder / SEGMENTS / str(k), manifest, options) for k, s in enumerate(engines)}
    final = [o.name for o in model.graph.output]
    hosted = {id(s): (host_op_for(s.host, host_ops), _attributes(s.host)) for s in steps if s.host is not None}

    def run(inputs: dict) -> dict:
        env = {**constants, **inputs}
        for step in steps:
            if step.host is None:
                env.update(runners[id(step)]({n: env[n] for n in step.inputs}))
            else:
                op, attributes = hosted[id(step)]
                results = op.run([env[n] if n else None for n in step.inputs], attributes)
                env.update(zip(step.outputs, results))
        return {n: env[n] for n in final}

    return run
