"""Reading ONNX files: I/O signature, opset, op histogram (subgraphs too), metadata."""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Iterator, Mapping

from deploybridge.errors import DeployError


def load_model(path: Path, load_external: bool = True):
    import onnx

    path = Path(path)
    if not path.is_file():
        raise DeployError(f"{path}: no such ONNX file; give the path of a .onnx file or an artifact folder")
    try:
        return onnx.load(str(path), load_external_data=load_external)
    except Exception as exc:
        raise DeployError(f"{path} is not a readable ONNX model ({type(exc).__name__}); re-export it with `deploy convert`") from None


def _dims(value_info) -> list:
    t = value_info.type.tensor_type
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in t.shape.dim]


def _dtype(value_info) -> str:
    import onnx

    return onnx.helper.tensor_dtype_to_np_dtype(value_info.type.tensor_type.elem_type).name


def signature(model) -> dict[str, list[dict]]:
    init = {i.name for i in model.graph.initializer}
    return {
        "inputs": [{"name": v.name, "dtype": _dtype(v), "shape": _dims(v)} for v in model.graph.input if v.name not in init],
        "outputs": [{"name": v.name, "dtype": _dtype(v), "shape": _dims(v)} for v in model.graph.output],
    }


def iter_nodes(graph) -> Iterator[Any]:
    """Every node, including those inside If/Loop/Scan subgraphs."""
    for node in graph.node:
        yield node
        for attr in node.attribute:
            if attr.g and attr.g.node:
                yield from iter_nodes(attr.g)
            for sub in attr.graphs:
                yield from iter_nodes(sub)


def op_histogram(model) -> dict[str, int]:
    return dict(Counter(n.op_type for n in iter_nodes(model.graph)).most_common())


def opsets(model) -> dict[str, int]:
    return {(o.domain or "ai.onnx"): o.version for o in model.opset_import}


def metadata(model) -> dict[str, str]:
    return {p.key: p.value for p in model.metadata_props}


def set_metadata(model, values: Mapping[str, str]) -> None:
    existing = {p.key: p for p in model.metadata_props}
    for key, value in values.items():
        if key in existing:
            existing[key].value = value
        else:
            entry = model.metadata_props.add()
            entry.key, entry.value = key, value


def describe(path: Path) -> dict[str, Any]:
    model = load_model(path)
    return {
        "path": str(path),
        "ir_version": model.ir_version,
        "opset": opsets(model),
        "producer": f"{model.producer_name} {model.producer_version}".strip(),
        **signature(model),
        "ops": op_histogram(model),
        "nodes": sum(op_histogram(model).values()),
        "metadata": metadata(model),
    }
