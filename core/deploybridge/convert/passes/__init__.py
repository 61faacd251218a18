"""The built-in graph passes, registered by the ``builtin`` plugin (one module each).

``families=("*",)`` runs a pass for every family; an empty ``families`` means on
request only (``deploy convert --pass NAME``).
"""
from deploybridge.records import GraphPass
from deploybridge.convert.passes.fp16 import to_fp16
from deploybridge.convert.passes.if_branch_types import fix_if_branch_types
from deploybridge.convert.passes.nms import truncate_before_nms
from deploybridge.convert.passes.outputs import name_outputs, order_outputs
from deploybridge.convert.passes.simplify import simplify

EVERY_FAMILY = ("*",)

BUILTIN_PASSES: list[GraphPass] = [
    GraphPass("fix_if_branch_types", fix_if_branch_types, order=10, families=EVERY_FAMILY,
              description="cast If branch outputs to one element type (bool vs uint8 masks: ONNX Runtime refuses the model)"),
    GraphPass("truncate_before_nms", truncate_before_nms, order=20,
              description="NonMaxSuppression (also inside If) runs on the host in NumPy; the engine is cut into segments"
                          " around it (deploy convert --truncate-nms)"),
    GraphPass("simplify", simplify, order=50,
              description="constant folding and cleanup with onnxslim; verification runs on the result"),
    GraphPass("to_fp16", to_fp16, order=80,
              description="float16 for Conv/Gemm/MatMul/BatchNorm/pooling/Relu/Sigmoid, float32 elsewhere; I/O stay float32"
                          " unless --fp16-io (deploy convert --fp16)"),
    GraphPass("name_outputs", name_outputs, order=90, families=EVERY_FAMILY,
              description="rename outputs to the family's declared names (by position, when they differ)"),
    GraphPass("order_outputs", order_outputs, order=95, families=EVERY_FAMILY,
              description="put the outputs in the family's declared order"),
]
