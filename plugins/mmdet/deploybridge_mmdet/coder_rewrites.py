"""Stand-ins for MMDetection 3.3's export-only box-decoding branches that import ``mmdet.core`` (gone since 3.0).

While ``torch.onnx.is_in_onnx_export()``, ``distance2bbox`` (DistancePointBBoxCoder: FCOS, RTMDet and the other
anchor-free heads that decode with it) and ``tblr2bboxes`` (TBLRBBoxCoder: FSAF) clip through
``mmdet.core.export.dynamic_clip_for_onnx`` and the export fails with ``No module named 'mmdet.core'``
(DeltaXYWHBBoxCoder's twin is ``rewrites.use_delta2bbox``). Each stand-in decodes with the original function
unclipped, then clips out of place: the clip MMDetection itself uses outside export for batched boxes
(``torch.where`` against 0 and (w, h, w, h)). Not its 2-D fast path: in-place clamps on strided views, which the
legacy exporter drops.
"""
from __future__ import annotations

DISTANCE_CODER = "mmdet.models.task_modules.coders.distance_point_bbox_coder"
TBLR_CODER = "mmdet.models.task_modules.coders.tblr_bbox_coder"


def clip_boxes(boxes, max_shape):
    """Boxes (..., 4) clipped to [0, w] x [0, h]; ``max_shape`` (h, w[, c]), a tensor, or one (h, w) per batch item."""
    import torch

    if not isinstance(max_shape, torch.Tensor):
        max_shape = boxes.new_tensor(max_shape)
    max_shape = max_shape[..., :2].type_as(boxes)
    max_xy = torch.cat([max_shape, max_shape], dim=-1).flip(-1).unsqueeze(-2)  # (w, h, w, h), broadcast over boxes
    zero = boxes.new_tensor(0)
    boxes = torch.where(boxes < zero, zero, boxes)
    return torch.where(boxes > max_xy, max_xy, boxes)


def use_distance2bbox(original):
    """distance2bbox unclipped (no export-only branch is reached), then the out-of-place clip."""

    def decode(points, distance, max_shape=None):
        boxes = original(points, distance, None)
        return boxes if max_shape is None else clip_boxes(boxes, max_shape)

    return decode


def use_tblr2bboxes(original):
    """tblr2bboxes unclipped (no export-only branch is reached), then the out-of-place clip."""

    def decode(priors, tblr, normalizer=4.0, normalize_by_wh=True, max_shape=None, clip_border=True):
        boxes = original(priors, tblr, normalizer, normalize_by_wh, None, False)
        return clip_boxes(boxes, max_shape) if clip_border and max_shape is not None else boxes

    return decode
