"""Semantic segmentation parity: pixel agreement and per-class IoU of the argmax class maps, near-ties excused; the
planted errors (a class region, all zeros) fail it; a reference that is one class everywhere is inconclusive."""
import numpy as np
import pytest

from deploybridge.errors import DeployError
from deploybridge.parity.conclusive import inconclusive_reason, nothing_compared
from deploybridge.parity.planted import SEGMENTATION_PLANTED, check_plant, plant
from deploybridge.parity.task import task_parity
from deploybridge.records import OutputSpec, Task, Tolerance

SEG = Task.SEMANTIC_SEGMENTATION
OUT = [OutputSpec("out")]


def _class_map(size=256) -> np.ndarray:
    classes = np.zeros((size, size), np.int64)
    classes[20:120, 30:150] = 1   # 12 000 pixels
    classes[150:230, 40:90] = 2   # 4 000 pixels
    classes[200:207, 200:207] = 3  # 49 pixels: 0.075 % of 65 536, below what pixel agreement 0.999 can see
    return classes


def _scores(classes: np.ndarray, channels=5, seed=0) -> np.ndarray:
    """1 x C x H x W scores whose argmax is ``classes``, every pixel 3 above its runner-up (no near-ties)."""
    rng = np.random.default_rng(seed)
    scores = rng.normal(0.0, 0.1, (channels, *classes.shape)).astype(np.float32)
    np.put_along_axis(scores, classes[None], 3.0, axis=0)
    return scores[None]


def _check(ref, got, margin=1e-4):
    return task_parity(SEG, {"out": ref}, {"out": got}, tie_margin=margin)


def test_the_same_scores_pass_with_every_present_class_at_iou_1():
    ref = _scores(_class_map())
    check = _check(ref, ref.copy())
    assert check.passed, check.failures
    assert check.metrics["class_iou"] == {"0": 1.0, "1": 1.0, "2": 1.0, "3": 1.0}  # class 4 is in neither map
    assert check.metrics["min_class_iou"] == 1.0 and check.metrics["class_count"] == 4


def test_a_small_class_lost_entirely_passes_pixel_agreement_and_fails_class_iou():
    classes = _class_map()
    ref = _scores(classes)
    lost = classes.copy()
    lost[lost == 3] = 0
    check = _check(ref, _scores(lost, seed=1))
    assert check.metrics["pixel_agreement"] == pytest.approx(1 - 49 / 65536) and check.metrics["pixel_agreement"] > 0.999
    assert check.metrics["class_iou"]["3"] == 0.0 and check.metrics["class_iou"]["0"] < 1.0
    assert check.failures == ["class 3 IoU 0.0000"]


def test_an_invented_class_counts():
    classes = _class_map()
    invented = classes.copy()
    invented[0:3, 0:3] = 4  # 9 pixels of a class the reference never gives
    check = _check(_scores(classes), _scores(invented))
    assert not check.passed and check.metrics["class_iou"]["4"] == 0.0 and check.metrics["class_count"] == 5


def test_near_tie_pixels_count_as_the_reference_class():
    classes = _class_map()
    ref = _scores(classes)
    ys, xs = np.nonzero(classes == 3)
    ref[0, 0, ys, xs] = ref[0, 3, ys, xs] - 5e-5  # class 3 beats class 0 there by less than the margin
    got = ref.copy()
    got[0, 0, ys, xs] += 1e-4  # and the artifact's rounding goes the other way
    assert _check(ref, got, margin=1e-4).passed
    strict = _check(ref, got, margin=1e-6)
    assert strict.metrics["class_iou"]["3"] == 0.0 and not strict.passed


def test_the_class_region_plant_is_two_percent_of_the_least_frequent_class_and_fails_class_iou():
    classes = _class_map()
    ref = _scores(classes)
    got = plant("class_region", {"out": ref})["out"]
    moved = np.argwhere(got[0].argmax(0) != classes)
    assert len(moved) == 1 and classes[tuple(moved[0])] == 3  # ceil(2 % of 49)
    check = _check(ref, got)
    assert check.metrics["pixel_agreement"] > 0.999  # pixel agreement alone would let it through
    assert check.metrics["class_iou"]["3"] == pytest.approx(48 / 49) and check.failures == ["class 3 IoU 0.9796"]
    # on a large class the same plant is 2 % of its pixels
    big = np.zeros((64, 64), np.int64)
    big[:, 32:] = 1
    moved = plant("class_region", {"out": _scores(big)})["out"][0].argmax(0) != big
    assert moved.sum() == 41 and set(big[moved]) == {0}  # ceil(2 % of 2048), class 0 first of the equal areas


def test_all_zero_scores_fail_pixel_agreement_and_class_iou():
    ref = _scores(_class_map())
    got = plant("zeros", {"out": ref})["out"]
    assert not got.any()
    check = _check(ref, got)
    assert [f.split(" ")[0] for f in check.failures] == ["pixel", "class"], check.failures
    assert check.metrics["class_iou"]["1"] == 0.0


def test_scores_of_another_shape_fail():
    ref = _scores(_class_map(64))
    check = _check(ref, ref[:, :, :32])
    assert not check.passed and check.metrics["class_iou"] == {} and len(check.failures) == 2


def test_a_runner_returning_zeros_fails_verification():
    """Seed 004: a TensorRT segmentation engine output all zeros. The whole verification fails, not only the row."""
    from deploybridge.parity.verification import verify

    def reference(seed):
        return {"x": np.zeros(1)}, {"out": _scores(_class_map(64), seed=seed)}

    zeros = verify("engine", OUT, [1, 2], reference, lambda inputs: {"out": np.zeros((1, 5, 64, 64), np.float32)},
                   {"out": Tolerance()}, task="semantic_segmentation")
    assert not zeros.passed and zeros.inconclusive is None
    assert all(i.task["metrics"]["min_class_iou"] == 0.0 for i in zeros.inputs)
    same = verify("engine", OUT, [1, 2], reference, lambda inputs: reference(1)[1], {"out": Tolerance()},
                  task="semantic_segmentation")
    assert [i.passed for i in same.inputs] == [True, False]


def test_a_reference_that_is_one_class_everywhere_is_inconclusive():
    varied = _scores(np.full((32, 32), 2))  # the scores vary; their argmax does not
    assert not np.all(varied == varied.flat[0])
    reason = inconclusive_reason(OUT, [{"out": varied}, {"out": _scores(np.full((32, 32), 4))}], SEG)
    assert reason.startswith("the reference's class map is one class (2, 4) everywhere on each of the 2")
    assert inconclusive_reason(OUT, [{"out": varied}, {"out": _scores(_class_map(32))}], SEG) is None
    assert inconclusive_reason(OUT, [{"out": varied}], None) is None  # not a segmentation: a varying output is fine
    assert nothing_compared(OUT, {"out": varied}, SEG) == "the class map is class 2 everywhere"
    assert nothing_compared(OUT, {"out": _scores(_class_map(32))}, SEG) is None


def test_a_one_class_reference_makes_a_zero_engine_inconclusive_not_passed():
    from deploybridge.parity.verification import verify

    def reference(seed):
        return {"x": np.zeros(1)}, {"out": _scores(np.zeros((32, 32), np.int64), seed=seed)}

    zeros = verify("engine", OUT, [1, 2], reference, lambda inputs: {"out": np.zeros((1, 5, 32, 32), np.float32)},
                   {"out": Tolerance(atol=10.0)}, task="semantic_segmentation")  # tensor parity blinded on purpose
    assert all(i.task["passed"] for i in zeros.inputs)  # class 0 everywhere on both sides: agreement 1, IoU 1
    assert not zeros.passed and "one class (0) everywhere" in zeros.inconclusive


def test_segmentation_plants_need_a_segmentation_artifact():
    check_plant("class_region", ["out"], "semantic_segmentation")
    check_plant("zeros", ["out"], "segmentation")  # the old name of the task
    with pytest.raises(DeployError, match="changes a semantic segmentation's class scores; this artifact's task is detection"):
        check_plant("zeros", ["boxes", "scores", "labels"], "detection")
    with pytest.raises(DeployError, match="choose one of mask_region, .*, class_region, zeros"):
        check_plant("nan", ["out"], "semantic_segmentation")


def test_docs_state_the_class_iou_bound_and_the_plants():
    from pathlib import Path

    page = (Path(__file__).parents[3] / "docs" / "verification.md").read_text()
    assert "`min_class_iou` 0.99" in page and "int8: 0.9" in page
    assert all(f"`{name}`" in page for name in SEGMENTATION_PLANTED)
