"""Detectron2 on the TorchScript backend: the rewrites in force while ``torch.jit.trace`` traces the model.

They name the exporter ``trace`` (the TorchScript backend's tracer), so the ONNX export never sees them, and the
ONNX rewrites (exporter ``legacy``) stay out of the TorchScript artifact, which is Detectron2's own code traced.

``detectron2_trace_len``: Detectron2's ROI heads split their per-image results with ``len(instances)``; the builtin
``len`` returns a Python int, so the trace keeps the example image's proposal count as a constant and the saved
module fails on any image with another count (measured: Mask R-CNN R18 traced at 192x192, run at 160x224:
``split_with_sizes expects split_sizes to sum exactly to 934 ... but got split_sizes=[922]``). Detectron2's own
``TracingAdapter`` traces under ``patch_builtin_len`` (``len`` read as ``__len__``, which stays a traced size);
the wrapper's forward runs under it too while tracing.

``detectron2_nms_float32``: Detectron2's ``batched_nms`` casts the boxes to float32 ("Fp16 does not have enough range
for batched NMS") but not the scores, so a float16 model fails in NMS (``dets should have the same type as
scores``), and CPU NMS has no float16 kernel anyway. The stand-in casts the scores to the boxes' float32: NMS runs in
float32 inside the float16 module (a no-op on a float32 model, where both are float32 already).

Scripting (``detectron2.export.scripting_with_instances``) is not offered: see docs/detectron2.md#torchscript.
"""
from __future__ import annotations

from deploybridge.records import Rewrite


def make_forward(original):
    def forward(self, images):
        from detectron2.export.torchscript_patch import patch_builtin_len

        with patch_builtin_len():
            return original(self, images)

    return forward


def make_batched_nms(original):
    def batched_nms(boxes, scores, idxs, iou_threshold):
        if scores.dtype != boxes.dtype:
            scores = scores.to(boxes.dtype)
        return original(boxes, scores, idxs, iou_threshold)

    return batched_nms


_TRACE = dict(kind="function", wrap=True, exporters=("trace",), backends=("torchscript",), families=("detectron2",))

TRACE_REWRITES = (
    Rewrite(name="detectron2_trace_len", target="deploybridge_detectron2.wrapper.Detectron2Detector.forward",
            replacement=make_forward, **_TRACE,
            why="traced, Detectron2's ROI heads keep the example image's proposal/detection counts (builtin len) as"
                " constants; traced under Detectron2's patch_builtin_len they stay sizes of the traced tensors"),
    Rewrite(name="detectron2_nms_float32", target="torchvision.ops.boxes.batched_nms", replacement=make_batched_nms,
            **_TRACE,
            why="Detectron2's batched_nms casts boxes to float32 but not scores: a float16 model fails in NMS ('dets"
                " should have the same type as scores'; CPU NMS has no float16 kernel); scores cast to float32 too"),
)
