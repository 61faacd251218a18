"""Static TensorRT-compatibility lint: what the TensorRT ONNX parser will refuse or struggle with, without TensorRT.

The operator table is ``data/tensorrt_10.0_onnx_ops.tsv`` (from onnx-tensorrt's
docs/operators.md for TensorRT 10.0; the file names its commit). Findings:

* ``unsupported-op``: an op the parser does not import (error);
* ``data-dependent-shape``: NonZero, NonMaxSuppression, Unique, Compress: output sizes known only at run time;
* ``dynamic-input``: an input dimension without a fixed size needs an optimisation profile (min/opt/max);
* ``int64-out-of-int32``: INT64 constants beyond the INT32 range (TensorRT 8.x narrows INT64 to INT32 and clamps);
* ``control-flow``: If/Loop nodes, with their nesting depth (restrictions in the table);
* ``op-restriction``: a supported op whose restrictions are checkable statically and not met (TopK's K).

Each finding names the node and, where one exists, the pass or rewrite that fixes it.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

TABLE = Path(__file__).parent / "data" / "tensorrt_10.0_onnx_ops.tsv"
TRT_VERSION = "10.0"
DATA_DEPENDENT = {"NonZero", "NonMaxSuppression", "Unique", "Compress"}
INT32 = (-(2**31), 2**31 - 1)

# op -> what fixes it in deploybridge
FIXES = {
    "NonMaxSuppression": "pass truncate_before_nms (the host runs NMS)",
    "NonZero": "score-threshold filtering / boolean indexing: TensorRT 10 runs it with a run-time output size;"
               " no pass removes it (a fixed-size top-k in the model would)",
    "RoiAlign": "opset >= 16, or rewrite roi_align_aligned below it",
    "If": "pass fix_if_branch_types when the branches disagree in type",
}


@dataclass(frozen=True)
class Finding:
    severity: str  # error | warning | info
    rule: str
    node: str
    op: str
    detail: str
    fix: str = ""


@lru_cache(maxsize=1)
def support_table() -> dict[str, dict[str, str]]:
    rows = [line.rstrip("\n").split("\t") for line in TABLE.read_text().splitlines() if line and not line.startswith("#")]
    header, body = rows[0], rows[1:]
    return {r[0]: dict(zip(header, r + [""] * (len(header) - len(r)))) for r in body}


def _walk(graph, depth: int = 0) -> Iterator[tuple[Any, int]]:
    """(node, control-flow depth) for every node, subgraphs included."""
    for node in graph.node:
        yield node, depth
        for attr in node.attribute:
            for sub in ([attr.g] if attr.HasField("g") else []) + list(attr.graphs):
                yield from _walk(sub, depth + 1)


def _constants(model) -> Iterator[tuple[str, Any]]:
    from onnx import numpy_helper

    for init in model.graph.initializer:
        yield init.name, numpy_helper.to_array(init)
    for node, _ in _walk(model.graph):
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value":
                    yield node.output[0], numpy_helper.to_array(attr.t)


def _op_findings(model) -> Iterator[Finding]:
    table = support_table()
    constants = dict(_constants(model))
    for node, depth in _walk(model.graph):
        op, name = node.op_type, node.name or node.output[0]
        if node.domain == "deploybridge":
            yield Finding("info", "host-step", name, f"{node.domain}::{op}", "runs on the host between engine segments,"
                          " not in TensorRT (the build cuts the graph here)", "pass truncate_before_nms put it there")
            continue
        if node.domain not in ("", "ai.onnx"):
            yield Finding("error", "unsupported-op", name, f"{node.domain}::{op}", "custom-domain op: needs a TensorRT plugin")
            continue
        row = table.get(op)
        if row is None or row["supported"] != "Y":
            yield Finding("error", "unsupported-op", name, op, f"not imported by the TensorRT {TRT_VERSION} ONNX parser",
                          FIXES.get(op, ""))
        if op in DATA_DEPENDENT:
            yield Finding("warning", "data-dependent-shape", name, op, "output size known only at run time: TensorRT"
                          " allocates for the worst case and cannot fuse across it", FIXES.get(op, ""))
        if op in ("If", "Loop"):
            level = "warning" if depth >= 1 else "info"
            yield Finding(level, "control-flow", name, op, f"nesting depth {depth + 1}; {row['restrictions'] if row else ''}".strip(),
                          FIXES.get(op, ""))
        if op == "TopK" and len(node.input) > 1:
            k = constants.get(node.input[1])
            if k is None:
                yield Finding("warning", "op-restriction", name, op, "K is computed at run time (e.g. min(k, candidates));"
                              " TensorRT needs K as an initializer", "a fixed K in the model (pad the candidates)")
            elif int(k.reshape(-1)[0]) >= 3840:
                yield Finding("error", "op-restriction", name, op, f"K = {int(k.reshape(-1)[0])}: TensorRT 10 allows K < 3840")


def _io_findings(model) -> Iterator[Finding]:
    init = {i.name for i in model.graph.initializer}
    for value in model.graph.input:
        if value.name in init:
            continue
        dims = value.type.tensor_type.shape.dim
        dynamic = [d.dim_param or "?" for d in dims if not d.HasField("dim_value")]
        if dynamic:
            yield Finding("warning", "dynamic-input", value.name, "input", f"dimensions {', '.join(dynamic)} are dynamic: the"
                          " engine needs an optimisation profile with min/opt/max for each", "convert with a fixed --input-shape,"
                          " or build the engine with a profile")


def _int64_findings(model) -> Iterator[Finding]:
    """One finding for all INT64 constants beyond INT32, naming the first few."""
    import numpy as np

    big = [name for name, value in _constants(model)
           if value.dtype == np.int64 and value.size and (value.min() < INT32[0] or value.max() > INT32[1])]
    if big:
        shown = ", ".join(big[:4]) + (f" and {len(big) - 4} more" if len(big) > 4 else "")
        yield Finding("info", "int64-out-of-int32", shown, "constant", f"{len(big)} INT64 constant(s) beyond the INT32 range:"
                      " TensorRT 8.x narrows INT64 to INT32 and clamps them (TensorRT 10 keeps INT64)",
                      "usually Slice 'to the end' markers, harmless when clamped")


def lint(model) -> list[Finding]:
    findings = [*_op_findings(model), *_io_findings(model), *_int64_findings(model)]
    order = {"error": 0, "warning": 1, "info": 2}
    return sorted(findings, key=lambda f: (order[f.severity], f.rule, f.node))


def to_json(findings: list[Finding]) -> dict:
    counts = {s: sum(1 for f in findings if f.severity == s) for s in ("error", "warning", "info")}
    return {"tensorrt": TRT_VERSION, "table": TABLE.name, "counts": counts, "findings": [asdict(f) for f in findings]}
