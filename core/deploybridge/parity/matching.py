"""Pairing objects between the reference and the backend: overlap measures and greedy matching.

Two correct runtimes may list near-tied detections in another order, so objects are paired by overlap, never by
position; task parity (deploybridge.parity.tasks) then compares what each pair says.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np


DEGENERATE_MATCH_PX = 1.0  # two zero-area boxes whose corners lie this close are one box (the deviation bound follows)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU. A box clipped to a line at the image border has no area, so its IoU with itself would be 0 and
    it could never be paired (torchvision's RetinaNet v2 with random weights: 26 of 300 detections); two zero-area
    boxes count as one (IoU 1) when every corner lies within DEGENERATE_MATCH_PX, else 0."""
    area = lambda x: (x[:, 2] - x[:, 0]).clip(0) * (x[:, 3] - x[:, 1]).clip(0)  # noqa: E731
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = (rb - lt).clip(0).prod(-1)
    iou = inter / np.maximum(area(a)[:, None] + area(b)[None, :] - inter, 1e-9)
    degenerate = (area(a)[:, None] == 0) & (area(b)[None, :] == 0)
    if degenerate.any():
        close = np.abs(a[:, None, :] - b[None, :, :]).max(-1) <= DEGENERATE_MATCH_PX
        iou = np.where(degenerate, close.astype(iou.dtype), iou)
    return iou


def binary(masks: np.ndarray) -> np.ndarray:
    """Masks as booleans: probabilities thresholded at 0.5, booleans as they are."""
    return masks if masks.dtype == np.bool_ else masks > 0.5


def mask_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every mask in ``a`` (N x ...) with every mask in ``b`` (M x ...), thresholded at 0.5; two empty masks: 1."""
    fa = binary(a).reshape(len(a), int(np.prod(a.shape[1:]))).astype(np.float64)  # explicit: no -1 with 0 masks
    fb = binary(b).reshape(len(b), int(np.prod(b.shape[1:]))).astype(np.float64)
    inter = fa @ fb.T
    union = fa.sum(1)[:, None] + fb.sum(1)[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1), 1.0)


def greedy_match(iou: np.ndarray, same_class: np.ndarray, threshold: float) -> list[tuple[int, int]]:
    """Pairs (i, j), highest IoU first, each object used once, only same class and IoU >= threshold."""
    score = np.where(same_class, iou, -1.0)
    pairs, used_i, used_j = [], set(), set()
    for flat in np.argsort(-score, axis=None, kind="stable"):
        i, j = divmod(int(flat), score.shape[1])
        if score[i, j] < threshold:
            break
        if i not in used_i and j not in used_j:
            pairs.append((i, j))
            used_i.add(i)
            used_j.add(j)
    return pairs


def detection_pairs(per_detection: Sequence[str], a: Mapping, b: Mapping) -> list[tuple[int, int]] | None:
    """Rows of two runs' per-detection outputs that are the same object, paired as task parity pairs them (same
    label, box or mask IoU >= 0.5); None when the outputs have neither boxes nor masks."""
    from deploybridge.parity.output_names import model_name

    key = "boxes" if "boxes" in per_detection else "masks" if "masks" in per_detection else None
    if key is None or key not in a or key not in b:
        return None
    x, y = np.asarray(a[key]), np.asarray(b[key])
    iou = box_iou(x.astype(np.float64), y.astype(np.float64)) if key == "boxes" else mask_iou(x, y)
    label = model_name("labels", per_detection)
    same = (np.asarray(a[label])[:, None] == np.asarray(b[label])[None, :]) if label else np.ones(iou.shape, bool)
    return greedy_match(iou, same, 0.5)


def detection_rows(run: Mapping, per_detection: Sequence[str], rows) -> dict:
    """One run's outputs with its per-detection ones cut to ``rows`` (indices or a boolean mask); the rest as they are."""
    return {n: np.asarray(v)[rows] if n in per_detection else v for n, v in run.items()}


def edge(mask: np.ndarray) -> np.ndarray:
    """Pixels of a boolean H x W mask with a 4-neighbour of the other value: where float noise can flip a pixel."""
    padded = np.pad(mask, 1, mode="edge")
    centre = padded[1:-1, 1:-1]
    return ((padded[:-2, 1:-1] != centre) | (padded[2:, 1:-1] != centre)
            | (padded[1:-1, :-2] != centre) | (padded[1:-1, 2:] != centre))


THRESHOLD_BAND = 1e-3  # a probability this close to 0.5 may cross it under float noise, wherever it lies


def interior_flips(ref: np.ndarray, got: np.ndarray, band: float = THRESHOLD_BAND) -> int:
    """Pixels that differ between two masks of one object, away from the reference mask's edge.

    A pixel flips under rounding noise only where the mask's probability crosses 0.5: at its edge in a trained model,
    anywhere in a random-weight mask head whose probabilities sit at 0.5 (Cascade Mask R-CNN: one interior pixel at
    0.5 ± 1e-6 flipped on 1 thread). Such pixels (reference probability within ``band`` of 0.5; their values are held
    to the tensor tolerance separately) are not counted; a flipped pixel anywhere else is a computed difference (a
    region of the object lost or added), however small the mask IoU change it makes.
    """
    r = binary(ref).reshape(ref.shape[-2:])
    g = binary(got).reshape(got.shape[-2:])
    at_threshold = np.zeros_like(r)
    if np.asarray(ref).dtype.kind == "f":
        at_threshold = np.abs(np.asarray(ref, np.float64).reshape(r.shape) - 0.5) <= band
    return int(np.count_nonzero((r != g) & ~edge(r) & ~at_threshold))
