"""Which nodes the precision search keeps in float32, round by round: graph regions first, then measured sensitivity.

Regions, in the order they are given back to float32 (each is a known int8/float16 trouble spot, and each is cheap:
together they hold a small share of a detector's multiply-adds):

1. post-processing: every node after the last learned layer (a Conv/ConvTranspose/MatMul/Gemm with a weight) on
   all of its paths (box decoding, score sigmoids, thresholds, the inputs of NMS, a second stage's boxes, mask
   pasting): one quantization step there moves a box or flips a threshold;
2. output layers: the last Conv/Gemm/MatMul before an output (the logits and box offsets themselves);
3. input layers: the normalisation and the first Conv, which see raw pixels.

After those, measured sensitivity: each still-lowered node's own contribution to the error (its output's relative
error against float32 minus the largest one among its inputs, on one calibration input), measured as `deploy debug`
ranks "layers adding the most error" at a lowered precision (parity/debug/tensors.read_out, divergence.measure,
divergence.own_errors); the worst quarter of them, then the worst half.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

HEAVY = {"Conv", "ConvTranspose", "MatMul", "Gemm"}
BOX_POOLING = {"RoiAlign", "MaxRoiPool"}  # input 0 is features, the others say where to pool


@dataclass
class Group:
    why: str
    nodes: list[str] = field(default_factory=list)

    def to_json(self, ops: Mapping[str, str]) -> dict:
        counts: dict[str, int] = {}
        for n in self.nodes:
            counts[ops.get(n, "?")] = counts.get(ops.get(n, "?"), 0) + 1
        return {"why": self.why, "count": len(self.nodes), "ops": counts, "nodes": list(self.nodes)}


REGIONS = (
    ("post-processing", "after the last Conv/MatMul on every path (box decoding, score sigmoids, thresholds): one"
                        " quantization step there moves a box or flips a threshold"),
    ("output layers", "the last Conv/Gemm before an output: their logits and box offsets are the scores and boxes"),
    ("input layers", "the normalisation and first layers, which see raw pixels"),
)
SENSITIVE_SHARES = (0.25, 0.5)  # of the nodes still lowered, worst first


def _graph_maps(model):
    from deploybridge.runtime.segments import HOST_DOMAIN, _consumed

    nodes = list(model.graph.node)
    producer = {o: k for k, n in enumerate(nodes) for o in n.output}
    reads = [_consumed(n) for n in nodes]
    consumers: dict[str, list[int]] = {}
    for k, names in enumerate(reads):
        for name in names:
            consumers.setdefault(name, []).append(k)
    ends = [o.name for o in model.graph.output] + [i for n in nodes if n.domain == HOST_DOMAIN for i in n.input]
    return nodes, producer, reads, consumers, ends


def regions(model) -> dict[str, list[str]]:
    """Node names of each region of :data:`REGIONS` in a float32 model's top-level graph."""
    nodes, producer, reads, consumers, ends = _graph_maps(model)
    # learned layers: a Conv/Gemm/MatMul with a weight; a MatMul of two computed tensors (torchvision's mask pasting
    # as Wy @ mask @ Wx^T, built from box coordinates by Equal/Where) is post-processing
    weights = {i.name for i in model.graph.initializer} | {o for n in nodes if n.op_type == "Constant" for o in n.output}
    heavy = {k for k, n in enumerate(nodes) if n.op_type in HEAVY and any(i in weights for i in n.input)}
    # ancestors of a heavy node through the features: everything else after the last heavy layer is post-processing.
    # RoiAlign's boxes are not features: a two-stage detector's proposal and box post-processing (decoding, NMS) only
    # say where its second stage pools, so they count as post-processing too
    feature_inputs = lambda k: reads[k] if nodes[k].op_type not in BOX_POOLING else set(nodes[k].input[:1])  # noqa: E731
    before_heavy: set[int] = set()
    stack = [p for k in heavy for t in reads[k] if (p := producer.get(t)) is not None]
    while stack:
        k = stack.pop()
        if k not in before_heavy:
            before_heavy.add(k)
            stack += [p for t in feature_inputs(k) if (p := producer.get(t)) is not None]
    post = [k for k in range(len(nodes)) if k not in heavy and k not in before_heavy]
    # heavy nodes an output is reached from through light nodes only
    last, seen = set(), set()
    stack = [p for t in ends if (p := producer.get(t)) is not None]
    while stack:
        k = stack.pop()
        if k in seen:
            continue
        seen.add(k)
        if k in heavy:
            last.add(k)
        else:
            stack += [p for t in reads[k] if (p := producer.get(t)) is not None]
    # from the inputs through light nodes to the first heavy ones; not through Shape: sizes are not pixels (Mask
    # R-CNN's mask head is reached from the input's size through the box post-processing)
    first, seen = set(), set()
    stack = [c for i in model.graph.input for c in consumers.get(i.name, [])]
    while stack:
        k = stack.pop()
        if k in seen or nodes[k].op_type in ("Shape", "Size"):
            continue
        seen.add(k)
        first.add(k)
        if k not in heavy:
            stack += [c for o in nodes[k].output for c in consumers.get(o, [])]
    # the first heavy layers and the light nodes feeding them (normalisation), not every shape computation on the input
    first_heavy = {k for k in first if k in heavy}
    first, stack = set(first_heavy), [p for k in first_heavy for t in reads[k] if (p := producer.get(t)) is not None]
    while stack:
        k = stack.pop()
        if k not in first and k not in heavy:
            first.add(k)
            stack += [p for t in reads[k] if (p := producer.get(t)) is not None]
    name = lambda ks: [nodes[k].name for k in sorted(ks) if nodes[k].name]  # noqa: E731
    return {"post-processing": name(post), "output layers": name(last), "input layers": name(first)}


def region_groups(model, candidates: Sequence[str]) -> list[Group]:
    """The regions as groups, each restricted to ``candidates`` (the nodes the precision would lower) and to nodes
    no earlier group took; empty groups are dropped (a round that changes nothing is not run)."""
    found, taken, groups = regions(model), set(), []
    wanted = set(candidates)
    for key, why in REGIONS:
        names = [n for n in found[key] if n in wanted and n not in taken]
        taken |= set(names)
        if names:
            groups.append(Group(f"{key}: {why}", names))
    return groups


def as_session_types(session, feed: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``feed`` cast to the session's input types (a float16-I/O graph takes float16), as the backend's runner does."""
    from deploybridge.runtime.backends.onnxruntime import ONNX_TO_NUMPY

    types = {i.name: ONNX_TO_NUMPY.get(i.type) for i in session.get_inputs()}
    return {k: v.astype(types[k]) if types.get(k) and v.dtype != types[k] else v for k, v in feed.items()}


def _ancestors_of(model, names: Sequence[str]):
    """A copy of ``model`` with only the nodes ``names`` depend on, and ``names`` as its outputs: ONNX Runtime runs
    every node of a graph, and a failing one after these (a lowered round the probe rejected) must not stop them."""
    import onnx
    from onnx import helper

    from deploybridge.runtime.segments import _consumed, tensor_types

    types = tensor_types(model)
    nodes = list(model.graph.node)
    producer = {o: n for n in nodes for o in n.output}
    needed, stack = set(), [producer[t] for t in names if t in producer]
    while stack:
        node = stack.pop()
        if id(node) not in needed:
            needed.add(id(node))
            stack += [producer[t] for t in _consumed(node) if t in producer]
    part = onnx.ModelProto()
    part.CopyFrom(model)
    del part.graph.node[:]
    part.graph.node.extend(n for n in nodes if id(n) in needed)
    del part.graph.output[:]
    part.graph.output.extend(helper.make_tensor_value_info(n, types.get(n, onnx.TensorProto.FLOAT), None) for n in names)
    return part


def sensitivity(model, fp32_path: Path, lowered_path: Path, lowered: Sequence[str],
                feed: Mapping[str, np.ndarray], host_ops: Mapping | None = None) -> dict[str, float]:
    """Each lowered node's own error, as `deploy debug` ranks layers (parity/debug: the same reader, error measure and
    own error): max_rel of its first output against float32 minus the largest error among the measured tensors it is
    computed from (what reached it; one from another selection, indices or a shape that differ, hands on everything),
    on one input; an overflow to inf/NaN counts as the largest error."""
    import onnx

    from deploybridge.parity.debug.divergence import measure, own_errors
    from deploybridge.parity.debug.tensors import held_in, read_out
    from deploybridge.runtime.segments import tensor_types

    nodes = {n.name: n for n in model.graph.node}
    pairs = {name: (nodes[name].output[0], [i for i in nodes[name].input if i]) for name in lowered if name in nodes}
    # tensors computed by a node (weights and constants carry no error); integer ones only say whether a selection
    # (indices, counts) changed, which is then handed on whole (divergence.passed_on)
    types = tensor_types(model)
    computed = {o for n in model.graph.node if n.op_type != "Constant" for o in n.output}
    names = sorted(t for out, ins in pairs.values() for t in {out, *ins} if t in computed and types.get(t))
    floating = {t for t in names if types[t] == onnx.TensorProto.FLOAT}
    ref = read_out(_ancestors_of(onnx.load(str(fp32_path)), names), feed, names, host_ops)
    lowered_model = onnx.load(str(lowered_path))
    held = held_in(lowered_model, names)  # a float16 chain's tensors are <name>_fp16
    got = read_out(_ancestors_of(lowered_model, list(held.values())), feed, list(held.values()), host_ops)
    measured = {t: measure(ref[t], got[held[t]]) for t in names if t in ref and held.get(t) in got}
    own = own_errors(model, {t: (m["max_rel"], m["overflow"]) for t, m in measured.items()},
                     {t for t in measured if t not in floating}, list(feed))
    return {name: own.get(out, 0.0) for name, (out, _) in pairs.items()}


def sensitive_group(scores: Mapping[str, float], share: float) -> Group:
    """The worst ``share`` of the scored nodes (at least one)."""
    ranked = sorted(scores, key=lambda n: -scores[n])
    count = max(1, int(round(share * len(ranked))))
    worst = scores[ranked[0]] if ranked else 0.0
    return Group(f"measured sensitivity: the {count} of {len(ranked)} lowered nodes adding the most error (worst adds"
                 f" {worst:.3g} of the output's scale)", ranked[:count])
