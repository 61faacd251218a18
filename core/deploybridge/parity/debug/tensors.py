"""Intermediate tensors of an ONNX graph, read out by marking them as outputs; host steps included.

One mechanism for `deploy debug` (every compared tensor) and the precision search (each lowered node's own error,
convert/precision_groups.py). A graph with host steps (``--truncate-nms``) runs step by step as its artifact does
(runtime/segments.py): each engine segment in its own ONNX Runtime session with the wanted tensors it produces
added to its outputs, each host step by its registered host op. Tensors inside an If/Loop body cannot be marked as
outputs: their parent node's outputs stand for them.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import numpy as np


def session_runner(options: Mapping[str, Any] | None = None) -> Callable[[Path, dict], dict]:
    """(segment path, feed) -> every output of the segment, by ONNX Runtime on the CPU (the reference engine)."""
    from deploybridge.convert.precision_groups import as_session_types
    from deploybridge.runtime.backends.onnxruntime import make_session

    def run(path: Path, feed: dict) -> dict:
        session = make_session(path, {"threads": 1, **(options or {})})
        names = [o.name for o in session.get_outputs()]
        wanted = {i.name for i in session.get_inputs()}
        return dict(zip(names, session.run(names, as_session_types(session, {k: v for k, v in feed.items() if k in wanted}))))

    return run


def held_in(lowered, names: Iterable[str]) -> dict[str, str]:
    """{float32 tensor name: the tensor of the ``lowered`` graph holding its value}: the same name, or ``<name>_fp16``
    where the to_fp16 pass left only the node's float16 result (every reader is a float16 op, so the Cast back to
    ``<name>`` was cleaned up). A float16 chain's layers are compared through them, not only its ends."""
    produced = {o for n in lowered.graph.node for o in n.output}
    return {t: t if t in produced else t + "_fp16" for t in names if t in produced or t + "_fp16" in produced}


def read_out(model, feed: Mapping[str, np.ndarray], names: Iterable[str] | None = None,
             host_ops: Mapping[str, Any] | None = None, engine: Callable[[Path, dict], dict] | None = None,
             on_step: Callable[[str], None] | None = None) -> dict[str, np.ndarray]:
    """Every tensor of ``model`` (an onnx ModelProto) in ``names`` (default: every typed tensor a top-level node
    produces), computed from ``feed``, plus the graph's outputs. ``engine`` runs one segment file (default: ORT CPU)."""
    import onnx

    from deploybridge.runtime.segments import (_attributes, constant_values, default_host_ops, host_op_for, plan,
                                               segment_model, tensor_signatures)

    signatures = tensor_signatures(model)
    types = {n: t for n, (t, _) in signatures.items() if t}
    ranks = {n: r for n, (_, r) in signatures.items()}
    wanted = None if names is None else set(names)
    engine = engine or session_runner()
    hosts = default_host_ops(host_ops)
    env: dict[str, np.ndarray] = {**constant_values(model), **dict(feed)}
    with tempfile.TemporaryDirectory(prefix="deploybridge-debug-") as scratch:
        for k, step in enumerate(plan(model)):
            if step.host is not None:
                op = host_op_for(step.host, hosts)
                results = op.run([env[n] if n else None for n in step.inputs], _attributes(step.host))
                env.update(zip(step.outputs, results))
                continue
            produced = [o for n in step.nodes for o in n.output if o and o in types]
            extra = [o for o in produced if (wanted is None or o in wanted) and o not in set(step.outputs)]
            step.outputs = [*step.outputs, *extra]
            path = Path(scratch) / f"segment{k}.onnx"
            onnx.save(segment_model(model, step, types, ranks), str(path))
            if on_step:
                on_step(f"segment {k}: {len(step.nodes)} nodes, {len(step.outputs)} tensors read out")
            env.update(engine(path, {n: env[n] for n in step.inputs}))
    # by default what the nodes compute, not the initializers env was seeded with
    keep = set(o.name for o in model.graph.output) | (wanted if wanted is not None else {o for n in model.graph.node for o in n.output})
    return {n: v for n, v in env.items() if n in keep and n not in feed}
