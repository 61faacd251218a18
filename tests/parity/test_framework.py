"""framework_parity: the wrapper against the framework's own prediction, instances matched by IoU."""
import numpy as np

from deploybridge.parity.framework import instance_parity


def _instances(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    masks = np.zeros((n, 32, 32), bool)
    for k in range(n):
        y, x = rng.integers(0, 24, 2)
        masks[k, y:y + 8, x:x + 8] = True
    return {"masks": masks, "scores": rng.uniform(0.2, 0.9, n).astype(np.float32), "labels": rng.integers(0, 3, n)}


def test_same_instances_in_another_order_pass():
    ref = _instances(10)
    order = np.random.default_rng(1).permutation(10)
    got = {k: v[order] for k, v in ref.items()}
    result = instance_parity(ref, got)
    assert result["passed"] and result["matched"] == 10 and result["min_iou"] == 1.0


def test_a_missing_instance_a_wrong_class_or_a_score_shift_fail():
    ref = _instances(10)
    assert instance_parity(ref, {k: v[:9] for k, v in ref.items()})["matched_fraction"] == 0.9
    relabelled = dict(ref, labels=(ref["labels"] + 1) % 3)
    assert not instance_parity(ref, relabelled)["passed"]
    shifted = dict(ref, scores=ref["scores"] + np.float32(0.01))
    result = instance_parity(ref, shifted)
    assert not result["passed"] and abs(result["max_score_deviation"] - 0.01) < 1e-6


def test_boxes_when_there_are_no_masks():
    boxes = np.array([[0, 0, 10, 10], [20, 20, 40, 30]], np.float32)
    ref = {"boxes": boxes, "scores": np.array([0.9, 0.5], np.float32), "labels": np.array([1, 2])}
    assert instance_parity(ref, {k: v[::-1] for k, v in ref.items()})["passed"]
    moved = dict(ref, boxes=boxes + np.float32(3))
    assert instance_parity(ref, moved)["matched"] == 0
