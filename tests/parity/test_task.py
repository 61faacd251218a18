"""Task parity for detections with masks: matched detections are compared by the one mask IoU (parity.task.mask_iou)."""
import numpy as np

from deploybridge.parity.matching import mask_iou
from deploybridge.parity.task import DEFAULT_TASK_TOLERANCES, detection_parity


def _masks(*boxes, size=20):
    """Soft masks (0.9 inside a box, 0.2 outside) so the 0.5 threshold matters."""
    out = np.full((len(boxes), 1, size, size), 0.2, np.float32)
    for k, (x0, y0, x1, y1) in enumerate(boxes):
        out[k, 0, y0:y1, x0:x1] = 0.9
    return out


def test_mask_iou_thresholds_at_half_and_counts_two_empty_masks_as_equal():
    a, b = _masks((0, 0, 10, 10)), _masks((5, 0, 15, 10), (0, 0, 10, 10))
    np.testing.assert_allclose(mask_iou(a, b), [[50 / 150, 1.0]])
    empty = np.zeros((1, 1, 20, 20), np.float32)
    assert mask_iou(empty, empty)[0, 0] == 1.0 and mask_iou(empty, a)[0, 0] == 0.0
    assert mask_iou(a[:0], b).shape == (0, 2)


def test_detection_parity_reports_the_matched_pairs_mask_iou():
    boxes = np.array([[0, 0, 10, 10], [10, 10, 20, 20]], np.float32)
    ref = {"boxes": boxes, "scores": np.array([0.9, 0.8]), "labels": np.array([1, 2]),
           "masks": _masks((0, 0, 10, 10), (10, 10, 20, 20))}
    # the backend lists them the other way round; the second object's mask lost its left 2 columns
    got = {"boxes": boxes[::-1].copy(), "scores": np.array([0.8, 0.9]), "labels": np.array([2, 1]),
           "masks": _masks((12, 10, 20, 20), (0, 0, 10, 10))}
    check = detection_parity(ref, got, DEFAULT_TASK_TOLERANCES)
    assert check.metrics["matched"] == 2
    assert check.metrics["min_mask_iou"] == 0.8 and check.metrics["mean_mask_iou"] == 0.9
    assert not check.passed and check.failures[0] == "mask IoU as low as 0.800"


def test_one_swapped_label_among_300_fails_label_agreement():
    """Class-aware matching alone lets one swapped label through (299 of 300 match, above 0.99); label agreement of
    the detections paired by box is enforced on its own."""
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 900, (300, 2)).astype(np.float32)
    boxes = np.concatenate([xy, xy + rng.uniform(10, 60, (300, 2)).astype(np.float32)], 1)
    ref = {"boxes": boxes, "scores": rng.uniform(0.05, 1, 300).astype(np.float32), "labels": rng.integers(1, 5, 300)}
    got = {**ref, "labels": ref["labels"].copy()}
    got["labels"][17] = ref["labels"][17] % 4 + 1
    check = detection_parity(ref, got, DEFAULT_TASK_TOLERANCES)
    assert check.metrics["matched_fraction"] >= DEFAULT_TASK_TOLERANCES["min_matched_fraction"]  # would have passed
    assert not check.passed and check.failures == ["1 of 300 objects paired by overlap have another label"]
    assert detection_parity(ref, ref, DEFAULT_TASK_TOLERANCES).passed
