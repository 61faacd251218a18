"""F1-optimal threshold search on constructed cases with known optima."""
import numpy as np

from deploybridge.evaluation.thresholds import best_f1, search, true_positive_flags


def box(x):
    return [x, 0, x + 10, 10]


def test_known_optimum_single_class():
    # 4 ground-truth objects; detections by score: TP 0.9, TP 0.8, FP 0.7, TP 0.6, FP 0.5, FP 0.4
    gt = np.array([box(0), box(20), box(40), box(60)], np.float32)
    boxes = np.array([box(0), box(20), box(100), box(40), box(120), box(140)], np.float32)
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4], np.float32)
    result = search([{"boxes": boxes, "scores": scores, "labels": np.ones(6, int), "gt_boxes": gt, "gt_labels": np.ones(4, int)}])
    best = result["overall"]
    # F1 at 0.9: 2/5=.4; 0.8: 4/6=.667; 0.7: 4/7; 0.6: 6/8=.75; 0.5: 6/9; 0.4: 6/10
    assert abs(best.threshold - 0.6) < 1e-6 and abs(best.f1 - 0.75) < 1e-9
    assert (best.true_positives, best.false_positives, best.false_negatives) == (3, 1, 1)


def test_per_class_thresholds_differ():
    gt = np.array([box(0), box(20)], np.float32)
    images = [{
        "boxes": np.array([box(0), box(50), box(20), box(80)], np.float32),
        "scores": np.array([0.9, 0.85, 0.3, 0.2], np.float32),
        "labels": np.array([1, 1, 2, 2]),
        "gt_boxes": gt, "gt_labels": np.array([1, 2]),
    }]
    result = search(images)
    assert result["per_class"][1].threshold > 0.85 and result["per_class"][1].f1 == 1.0
    assert abs(result["per_class"][2].threshold - 0.3) < 1e-6 and result["per_class"][2].f1 == 1.0


def test_duplicate_detection_is_a_false_positive_and_iou_matters():
    gt = np.array([box(0)], np.float32)
    boxes = np.array([box(0), box(1)], np.float32)
    flags = true_positive_flags(boxes, np.array([0.9, 0.8]), gt, 0.5)
    assert flags.tolist() == [True, False]
    assert true_positive_flags(np.array([box(6)], np.float32), np.array([0.9]), gt, 0.5).tolist() == [False]


def test_no_detections():
    assert best_f1(np.zeros(0), np.zeros(0, bool), 3).f1 == 0.0
