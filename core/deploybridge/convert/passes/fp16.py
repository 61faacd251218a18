"""``to_fp16``: float16 for the compute-heavy ops, float32 for everything else.

Only the ops in ``FP16_OPS`` run in float16. Each keeps its tensors' names:
its float16 result is a new tensor ``<name>_fp16`` and a ``Cast`` back to float32
writes ``<name>``, so every other reader (including ``If``/``Loop`` bodies that
read it by name from the outer scope) sees float32 as before, while a following
float16 op reads ``<name>_fp16`` directly. Weights become float16 constants.

Everything else stays float32 because detector post-processing leaves
float16's range (max 65504): box areas at 800 px reach 640000, and batched NMS
offsets boxes by ``label * (max coordinate + 1)``. (ONNX Runtime's and
onnxconverter-common's whole-model converters with a block list were tried
first: with torchvision's If/Loop bodies they wrote graphs ONNX Runtime
rejects, float32 and float16 bound to one Conv or a ReduceMax inside a branch.)

Inputs and outputs stay float32 unless ``fp16_io`` is set (``deploy convert
--fp16-io``); backends cast inputs to the engine's own input type.
"""
from __future__ import annotations

import numpy as np

FP16_OPS = {"Conv", "ConvTranspose", "Gemm", "MatMul", "BatchNormalization", "Relu", "Sigmoid", "MaxPool", "AveragePool",
            "GlobalAveragePool"}
F32, F16 = np.dtype(np.float32), np.dtype(np.float16)


def _is_float32(tensor) -> bool:
    import onnx_graphsurgeon as gs

    if isinstance(tensor, gs.Constant):
        return tensor.values.dtype == F32
    return tensor.dtype is None or np.dtype(tensor.dtype) == F32


def _cast(graph, source, name: str, dtype):
    import onnx
    import onnx_graphsurgeon as gs

    target = gs.Variable(name, dtype=dtype, shape=source.shape)
    graph.nodes.append(gs.Node("Cast", name=f"{name}_cast", inputs=[source], outputs=[target],
                               attrs={"to": onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))}))
    return target


def _halve_inputs(graph, node, half_of: dict) -> None:
    import onnx_graphsurgeon as gs

    for i, tensor in enumerate(node.inputs):
        if not tensor.name or not _is_float32(tensor):
            continue
        if tensor.name not in half_of:
            half_of[tensor.name] = (gs.Constant(f"{tensor.name}_fp16", tensor.values.astype(np.float16))
                                    if isinstance(tensor, gs.Constant) else _cast(graph, tensor, f"{tensor.name}_fp16", F16))
        node.inputs[i] = half_of[tensor.name]


def _halve_outputs(graph, node, half_of: dict) -> None:
    import onnx_graphsurgeon as gs

    for j, out in enumerate(node.outputs):
        if not _is_float32(out):
            continue
        half = gs.Variable(f"{out.name}_fp16", dtype=F16, shape=out.shape)
        node.outputs[j] = half
        half_of[out.name] = half
        out.dtype = F32
        graph.nodes.append(gs.Node("Cast", name=f"{out.name}_to_fp32", inputs=[half], outputs=[out], attrs={"to": 1}))


def _float16_io(graph) -> None:
    """Float16 graph inputs and outputs, each cast once at the boundary; names stay the declared ones."""
    import onnx_graphsurgeon as gs

    for k, tensor in enumerate(list(graph.inputs)):
        if _is_float32(tensor):
            name, tensor.name = tensor.name, f"{tensor.name}_as_fp32"
            outer = gs.Variable(name, dtype=F16, shape=tensor.shape)
            graph.nodes.append(gs.Node("Cast", name=f"{name}_to_fp32", inputs=[outer], outputs=[tensor], attrs={"to": 1}))
            graph.inputs[k] = outer
    for k, tensor in enumerate(list(graph.outputs)):
        if _is_float32(tensor):
            name, tensor.name = tensor.name, f"{tensor.name}_fp32"
            graph.outputs[k] = _cast(graph, tensor, name, F16)


def to_fp16(graph, ctx=None):
    half_of: dict = {}
    # nodes the precision search gives back to float32 (deploybridge.convert.precision_search), by name
    keep = set(ctx.options.get("fp16_keep") or ()) if ctx is not None else set()
    for node in [n for n in graph.nodes if n.op in FP16_OPS and n.name not in keep]:
        _halve_inputs(graph, node, half_of)
        _halve_outputs(graph, node, half_of)
    if ctx is not None and ctx.options.get("fp16_io"):
        _float16_io(graph)
    return graph.toposort()
