"""``clip_boxes``: torchvision's clip_boxes_to_image without the Reshape that fails on zero boxes.

torchvision clips x and y separately, stacks them to ``(N, 2, 2)`` and reshapes back to ``boxes.shape``; the legacy
exporter writes that as ``Reshape(stacked, Shape(boxes))``, and ONNX Runtime refuses it when a pyramid level has no
candidate above the score threshold ("Input shape:{0,2,2}, requested shape:{0,-1}"): RetinaNet's per-level decoding
crashes on such an image. It happened on shapes_retinanet's own verification inputs once int8 rounding moved one
level's last candidate under the threshold, and can happen in float32 on any image where one level finds nothing.

The stand-in clamps all four coordinates at once against ``[0, 0, 0, 0]`` and ``[w, h, w, h]`` (Max/Min with
broadcasting, no reshape): the same values bit for bit, since clamping is exact (tests/rewrites/test_clip_boxes.py).
"""
from __future__ import annotations

from deploybridge.records import Rewrite


def clip_boxes_to_image(boxes, size):
    import torch

    height, width = size
    as_float = lambda v: v.to(boxes.dtype) if isinstance(v, torch.Tensor) else torch.full((), float(v), dtype=boxes.dtype)  # noqa: E731
    w, h = as_float(width), as_float(height)
    upper = torch.stack([w, h, w, h])
    return torch.min(torch.max(boxes, torch.zeros((), dtype=boxes.dtype)), upper)


REWRITE = Rewrite(
    name="clip_boxes",
    kind="function",
    target="torchvision.ops.boxes.clip_boxes_to_image",
    replacement=clip_boxes_to_image,
    why="torchvision's stack + reshape(boxes.shape) exports a Reshape that ONNX Runtime refuses on zero boxes"
        " (a pyramid level with no candidate): clamp against [w, h, w, h] instead, same values",
    order=60,
)
