"""ONNX ``NonMaxSuppression`` on the host, in NumPy: what a truncated artifact runs between its engine segments.

Same contract as the ONNX operator (and ONNX Runtime's kernel): boxes
``[B, N, 4]`` (corners in any order, or centre/size with ``center_point_box=1``),
scores ``[B, C, N]``; per batch and class, candidates with score above
``score_threshold`` are taken greedily by decreasing score, dropping those whose
IoU with a kept box is above ``iou_threshold``, at most
``max_output_boxes_per_class`` of them (0 or absent: none, as the spec says).
Returns ``[K, 3]`` int64 rows ``(batch, class, box)``.
"""
from __future__ import annotations

import numpy as np

from deploybridge.records import HostOp


def _corners(boxes: np.ndarray, center_point_box: int) -> np.ndarray:
    """[N, 4] as (y1, x1, y2, x2) with y1 <= y2 and x1 <= x2."""
    if center_point_box:
        xc, yc, w, h = boxes.T
        return np.stack([yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2], axis=1).astype(boxes.dtype)
    a, b, c, d = boxes.T
    return np.stack([np.minimum(a, c), np.minimum(b, d), np.maximum(a, c), np.maximum(b, d)], axis=1)


def greedy_nms(corners: np.ndarray, scores: np.ndarray, iou_threshold: float, limit: int, score_threshold=None) -> np.ndarray:
    """Indices kept by greedy NMS on one class, by decreasing score."""
    candidates = np.arange(len(scores)) if score_threshold is None else np.flatnonzero(scores > score_threshold)
    order = candidates[np.argsort(-scores[candidates], kind="stable")]
    y1, x1, y2, x2 = corners.T
    area = (y2 - y1) * (x2 - x1)
    keep: list[int] = []
    while order.size and len(keep) < limit:
        i, rest = order[0], order[1:]
        keep.append(int(i))
        inter = (np.clip(np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]), 0, None)
                 * np.clip(np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]), 0, None))
        union = area[i] + area[rest] - inter
        with np.errstate(divide="ignore", invalid="ignore"):
            iou = np.where((area[i] > 0) & (area[rest] > 0) & (union > 0), inter / union, 0)
        order = rest[~(iou > iou_threshold)]
    return np.asarray(keep, dtype=np.int64)


def non_max_suppression(boxes, scores, max_output_boxes_per_class=None, iou_threshold=None, score_threshold=None,
                        center_point_box: int = 0) -> np.ndarray:
    limit = int(np.asarray(max_output_boxes_per_class).reshape(-1)[0]) if max_output_boxes_per_class is not None else 0
    iou = float(np.asarray(iou_threshold).reshape(-1)[0]) if iou_threshold is not None else 0.0
    thr = float(np.asarray(score_threshold).reshape(-1)[0]) if score_threshold is not None else None
    rows = []
    for b in range(boxes.shape[0]):
        corners = _corners(boxes[b], center_point_box)
        for c in range(scores.shape[1]):
            kept = greedy_nms(corners, scores[b, c], iou, limit, thr) if limit > 0 else np.zeros(0, np.int64)
            rows.append(np.stack([np.full_like(kept, b), np.full_like(kept, c), kept], axis=1))
    return np.concatenate(rows).astype(np.int64) if rows else np.zeros((0, 3), np.int64)


def _run(inputs: list, attributes: dict) -> list:
    return [non_max_suppression(*inputs, center_point_box=int(attributes.get("center_point_box", 0)))]


SEMANTICS = """\
ONNX `NonMaxSuppression` (opset 11 and later), exactly. Inputs, in order:
`boxes` float32 [B, N, 4]; `scores` float32 [B, C, N]; `max_output_boxes_per_class` int64 [1] (absent or 0: nothing
is kept); `iou_threshold` float32 [1] (absent: 0); `score_threshold` float32 [1] (absent: no score filter).
Attribute `center_point_box` (absent: 0): 0 = each box is two opposite corners [y1, x1, y2, x2] in either order
(normalise to min/max per axis), 1 = [x_center, y_center, width, height] (corners: centre -/+ half the size).
For each batch b, then each class c: the candidates are the boxes whose score is strictly greater than
`score_threshold`, sorted by decreasing score (equal scores: lower box index first). Repeat: keep the first
candidate, then remove from the candidates every box whose IoU with it is strictly greater than `iou_threshold`;
stop when no candidate is left or `max_output_boxes_per_class` boxes are kept. IoU = intersection area / union
area, taken as 0 when either box has zero area. Output `selected_indices` int64 [K, 3]: one row (b, c, box index)
per kept box, ordered by batch, then class, then the order they were kept in."""

HOST_OP = HostOp("HostNonMaxSuppression", _run, "ONNX NonMaxSuppression in NumPy (what --truncate-nms leaves on the host)",
                 semantics=SEMANTICS)
