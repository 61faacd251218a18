"""Task-aware parity: does the artifact find the same objects, not only the same numbers?

Detections are matched greedily by IoU within each class (seed 000: a
silently wrong export moves scores and boxes, and reordering by near-tied
scores must not count as an error). Semantic maps compare per-pixel argmax,
classifiers their top-1 class.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Mapping

import numpy as np

DEFAULT_TASK_TOLERANCES = {
    "iou_match": 0.5,              # IoU for two detections to be the same object
    "min_matched_fraction": 0.99,  # of max(reference count, backend count)
    "max_box_deviation_px": 1.0,
    "max_score_deviation": 0.01,
    "min_mask_iou": 0.9,
    "min_label_agreement": 1.0,    # of the detections paired by box alone: a swapped class is an error
    "min_pixel_agreement": 0.999,
    "min_top1_agreement": 1.0,
}


@dataclass
class TaskCheck:
    task: str
    passed: bool
    metrics: dict = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return asdict(self)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    area = lambda x: (x[:, 2] - x[:, 0]).clip(0) * (x[:, 3] - x[:, 1]).clip(0)  # noqa: E731
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = (rb - lt).clip(0).prod(-1)
    return inter / np.maximum(area(a)[:, None] + area(b)[None, :] - inter, 1e-9)


def mask_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every mask in ``a`` (N x ...) with every mask in ``b`` (M x ...), thresholded at 0.5; two empty masks: 1."""
    fa = (a.reshape(len(a), int(np.prod(a.shape[1:]))) > 0.5).astype(np.float64)  # explicit: no -1 with 0 masks
    fb = (b.reshape(len(b), int(np.prod(b.shape[1:]))) > 0.5).astype(np.float64)
    inter = fa @ fb.T
    union = fa.sum(1)[:, None] + fb.sum(1)[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1), 1.0)


def greedy_match(iou: np.ndarray, same_class: np.ndarray, threshold: float) -> list[tuple[int, int]]:
    """Pairs (i, j), highest IoU first, each detection used once, only same class and IoU >= threshold."""
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


def detection_parity(ref: Mapping[str, np.ndarray], got: Mapping[str, np.ndarray], tol: Mapping[str, float]) -> TaskCheck:
    rb, gb = ref["boxes"].reshape(-1, 4), got["boxes"].reshape(-1, 4)
    rl, gl = ref["labels"].reshape(-1), got["labels"].reshape(-1)
    n_ref, n_got = len(rb), len(gb)
    iou = box_iou(rb, gb) if n_ref and n_got else np.zeros((n_ref, n_got))
    pairs = greedy_match(iou, rl[:, None] == gl[None, :], tol["iou_match"])
    agnostic = greedy_match(iou, np.ones_like(iou, bool), tol["iou_match"])
    m: dict = {
        "reference_count": n_ref, "backend_count": n_got, "matched": len(pairs),
        "matched_fraction": len(pairs) / max(n_ref, n_got) if max(n_ref, n_got) else 1.0,
        "label_agreement": (sum(rl[i] == gl[j] for i, j in agnostic) / len(agnostic)) if agnostic else 1.0,
        "max_box_deviation_px": float(max((np.abs(rb[i] - gb[j]).max() for i, j in pairs), default=0.0)),
        "max_score_deviation": float(max((abs(ref["scores"][i] - got["scores"][j]) for i, j in pairs), default=0.0)),
    }
    if "masks" in ref and "masks" in got:
        ious = [float(mask_iou(ref["masks"][i:i + 1], got["masks"][j:j + 1])[0, 0]) for i, j in pairs]
        m["mean_mask_iou"] = float(np.mean(ious)) if ious else 1.0
        m["min_mask_iou"] = float(np.min(ious)) if ious else 1.0
    failures = []
    if m["matched_fraction"] < tol["min_matched_fraction"]:
        failures.append(f"only {m['matched']} of {max(n_ref, n_got)} detections match (reference {n_ref}, backend {n_got})")
    if m["max_box_deviation_px"] > tol["max_box_deviation_px"]:
        failures.append(f"boxes deviate up to {m['max_box_deviation_px']:.2f} px")
    if m["max_score_deviation"] > tol["max_score_deviation"]:
        failures.append(f"scores deviate up to {m['max_score_deviation']:.3g}")
    if m["label_agreement"] < tol["min_label_agreement"]:
        wrong = sum(rl[i] != gl[j] for i, j in agnostic)
        failures.append(f"{wrong} of {len(agnostic)} detections paired by box have another label")
    if m.get("min_mask_iou", 1.0) < tol["min_mask_iou"]:
        failures.append(f"mask IoU as low as {m['min_mask_iou']:.3f}")
    return TaskCheck("detection", not failures, m, failures)


def argmax_agreement(ref: np.ndarray, got: np.ndarray, axis: int, tie_margin: float) -> tuple[float, int]:
    """Fraction of positions whose argmax agrees, not counting near-ties: where the reference's two best
    scores are within ``tie_margin`` (the output's tensor atol), either answer is correct."""
    if ref.shape != got.shape:
        return 0.0, 0
    top2 = -np.partition(-ref, 1, axis=axis).take([0, 1], axis=axis)
    ties = (top2.take(0, axis=axis) - top2.take(1, axis=axis)) <= tie_margin
    agree = (ref.argmax(axis) == got.argmax(axis)) | ties
    return float(agree.mean()), int(ties.sum())


def segmentation_parity(ref: np.ndarray, got: np.ndarray, tol: Mapping[str, float], tie_margin: float = 0.0) -> TaskCheck:
    agree, ties = argmax_agreement(ref, got, 1, tie_margin)
    failures = [] if agree >= tol["min_pixel_agreement"] else [f"pixel agreement {agree:.5f}"]
    return TaskCheck("segmentation", not failures, {"pixel_agreement": agree, "near_tie_pixels": ties}, failures)


def classification_parity(ref: np.ndarray, got: np.ndarray, tol: Mapping[str, float], tie_margin: float = 0.0) -> TaskCheck:
    agree, ties = argmax_agreement(ref, got, -1, tie_margin)
    failures = [] if agree >= tol["min_top1_agreement"] else [f"top-1 agreement {agree:.3f}"]
    return TaskCheck("classification", not failures, {"top1_agreement": agree, "near_ties": ties}, failures)


def task_parity(task: str | None, ref: Mapping[str, np.ndarray], got: Mapping[str, np.ndarray],
                tol: Mapping[str, float] | None = None, tie_margin: float = 0.0) -> TaskCheck | None:
    tol = {**DEFAULT_TASK_TOLERANCES, **(tol or {})}
    if task == "detection" and {"boxes", "scores", "labels"} <= set(got):
        return detection_parity(ref, got, tol)
    name = next(iter(ref), None)
    if task == "segmentation" and name in got:
        return segmentation_parity(ref[name], got[name], tol, tie_margin)
    if task == "classification" and name in got:
        return classification_parity(ref[name], got[name], tol, tie_margin)
    return None
