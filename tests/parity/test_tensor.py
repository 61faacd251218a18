"""Tensor parity arithmetic: tolerances, detection counts, matching of reordered rows."""
import json

import numpy as np

from deploybridge.records import OutputSpec, Tolerance
from deploybridge.parity.tensor import compare_outputs, compare_tensor, match_rows

DET = [OutputSpec("boxes", True), OutputSpec("scores", True), OutputSpec("labels", True)]
TOL = {n: Tolerance(1e-4, 1e-3) for n in ("boxes", "scores", "labels")}


def detections(n=20, seed=0):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 200, (n, 2)).astype(np.float32)
    boxes = np.concatenate([xy, xy + rng.uniform(5, 80, (n, 2)).astype(np.float32)], 1)
    return {"boxes": boxes, "scores": np.sort(rng.uniform(0.05, 1, n).astype(np.float32))[::-1].copy(),
            "labels": rng.integers(1, 5, n)}


def test_tolerance_is_elementwise_atol_plus_rtol():
    ref = np.array([0.0, 100.0], np.float32)
    assert compare_tensor("x", ref, ref + np.array([9e-5, 0.09], np.float32), Tolerance(1e-4, 1e-3)).passed
    assert not compare_tensor("x", ref, ref + np.array([2e-4, 0.0], np.float32), Tolerance(1e-4, 1e-3)).passed
    check = compare_tensor("x", ref, ref + np.array([0.0, 0.2], np.float32), Tolerance(1e-4, 1e-3))
    assert not check.passed and abs(check.max_abs - 0.2) < 1e-4


def test_shape_and_nan_are_failures():
    ref = np.zeros((2, 3), np.float32)
    assert compare_tensor("x", ref, np.zeros((3, 2), np.float32), Tolerance()).note == "shape differs"
    got = ref.copy()
    got[0, 0] = np.nan
    assert compare_tensor("x", ref, got, Tolerance()).note == "backend produced NaN"


def test_count_compared_first():
    ref = detections()
    got = {k: v[:-1] for k, v in ref.items()}
    check = compare_outputs(0, DET, ref, got, TOL)
    assert not check.passed and (check.detections_ref, check.detections_got) == (20, 19)
    assert all("detection count differs: reference 20, backend 19" in c.note for c in check.outputs)


def test_reordered_rows_are_matched_not_compared_by_index():
    ref = detections()
    perm = np.random.default_rng(1).permutation(20)
    got = {k: v[perm] for k, v in ref.items()}
    got["boxes"] = got["boxes"] + np.float32(1e-5)
    check = compare_outputs(0, DET, ref, got, TOL)
    assert check.passed and check.reordered == int(np.sum(perm != np.arange(20)))
    assert check.outputs[0].max_abs < 2e-5


def test_a_shifted_box_is_caught_after_matching():
    ref = detections()
    got = {k: v.copy() for k, v in ref.items()}
    got["boxes"][3] += 2.0
    check = compare_outputs(0, DET, ref, got, TOL)
    assert not check.passed and abs(check.outputs[0].max_abs - 2.0) < 1e-4


def test_match_rows_respects_labels():
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 10.001]], np.float32)
    perm = match_rows(boxes, boxes[::-1].copy(), np.array([1, 2]), np.array([2, 1]))
    assert perm.tolist() == [1, 0]


def test_task_parity_detection_metrics():
    from deploybridge.parity.task import task_parity

    ref = detections()
    got = {k: v.copy() for k, v in ref.items()}
    assert task_parity("detection", ref, got).passed
    got["boxes"][0] += 3.0
    check = task_parity("detection", ref, got)
    assert not check.passed and abs(check.metrics["max_box_deviation_px"] - 3.0) < 1e-4
    got = {k: v[1:] for k, v in ref.items()}
    check = task_parity("detection", ref, got)
    assert not check.passed and check.metrics["matched"] == 19 and check.metrics["matched_fraction"] == 19 / 20


def test_argmax_agreement_excuses_only_near_ties():
    from deploybridge.parity.task import task_parity

    # two pixels, two classes: pixel 0 is a near-tie (margin 5e-5), pixel 1 is clear (margin 1.0)
    ref = np.array([[[1.0, 1.00005]], [[0.0, 1.0]]], np.float32).transpose(2, 0, 1)[None]  # (1, C=2, H=2, W=1)
    got = ref[:, ::-1].copy()  # every pixel's argmax flipped
    check = task_parity("segmentation", {"out": ref}, {"out": got}, tie_margin=1e-4)
    assert check.metrics["near_tie_pixels"] == 1 and check.metrics["pixel_agreement"] == 0.5 and not check.passed
    same = task_parity("classification", {"logits": np.array([[0.1, 0.9]])}, {"logits": np.array([[0.1, 0.9]])})
    assert same.passed and same.metrics["top1_agreement"] == 1.0


def test_backend_that_fails_at_run_time_fails_verification(cli, tiny, tmp_path):
    result = cli("convert", "--plugin", "tiny", "--model", "tiny-net", "--random-weights", "--backend", "failing_run",
                 "--out", tmp_path / "a")
    assert result.code == 1, result.err
    assert "verification failed" in result.err and "FAIL" in result.out
    report = json.loads((tmp_path / "a" / "report.json").read_text())
    notes = {c["note"] for i in report["verification"]["inputs"] for c in i["outputs"]}
    assert notes == {"backend failed on this input: RuntimeError: Non-zero status code returned while running Reshape node"}


def test_mask_only_detections_are_paired_by_mask_iou():
    """SOLO outputs masks without boxes: rows that swapped places (near-tied scores) are paired by mask IoU."""
    masks = np.zeros((3, 8, 8), bool)
    masks[0, :4, :4] = masks[1, 4:, 4:] = masks[2, :2, 6:] = True
    scores = np.array([0.9, 0.8, 0.8], np.float32)
    labels = np.array([0, 1, 1])
    outs = [OutputSpec("masks", per_detection=True), OutputSpec("scores", per_detection=True), OutputSpec("labels", per_detection=True)]
    tol = {o.name: Tolerance(1e-6, 0.0) for o in outs}
    ref = {"masks": masks, "scores": scores, "labels": labels}
    swapped = {k: v[[0, 2, 1]] for k, v in ref.items()}
    check = compare_outputs(0, outs, ref, swapped, tol)
    assert check.passed and check.reordered == 2
    wrong = dict(swapped, masks=swapped["masks"].copy())
    wrong["masks"][1] = ~wrong["masks"][1]  # one mask really differs
    assert not compare_outputs(0, outs, ref, wrong, tol).passed


def _swap_row(ref, row, score, *more):
    """``got``: ``ref`` with row ``row`` replaced by a different detection scored ``score`` (kept by the backend
    instead of the reference's row; ``more``: further (row, score) pairs), rows re-sorted by score."""
    got = {k: v.copy() for k, v in ref.items()}
    for row, score in [(row, score), *more]:
        got["boxes"][row] = [row / 2, row / 2, row / 2 + 40, row / 2 + 20]  # a box no reference row has
        got["scores"][row] = score
    order = np.argsort(-got["scores"], kind="stable")
    return {k: v[order] for k, v in got.items()}


def test_a_row_swapped_at_the_topk_cut_is_reported_and_left_out():
    """DINO keeps 300 of 900 x 80 scores: two correct runtimes may keep different rows at the cut. The row each side
    kept alone (scores within twice the tolerance of the lowest kept score) is counted and not compared; the rest
    still are."""
    ref = detections(n=200)
    cut = float(ref["scores"][-1])
    check = compare_outputs(0, DET, ref, _swap_row(ref, 199, cut + 1e-4), TOL)
    assert check.passed and check.boundary_swaps == 1
    assert all("top-k cut" in c.note for c in check.outputs)
    shifted = _swap_row(ref, 199, cut + 1e-4)
    shifted["boxes"][0] += 1.0  # a real error elsewhere is still caught
    assert not compare_outputs(0, DET, ref, shifted, TOL).passed


def test_a_swap_away_from_the_cut_or_too_many_swaps_fail():
    ref = detections(n=200)
    cut = float(ref["scores"][-1])
    inside = _swap_row(ref, 100, float(ref["scores"][100]))  # a different detection in the middle of the ranking
    assert not compare_outputs(0, DET, ref, inside, TOL).passed
    far = _swap_row(ref, 199, cut + 0.01)  # at the end, but scored well above the cut
    assert not compare_outputs(0, DET, ref, far, TOL).passed
    ref["scores"][197:] = cut + np.float32([2e-5, 1e-5, 0])  # three reference rows at the cut
    assert compare_outputs(0, DET, ref, _swap_row(ref, 199, cut + 1e-4, (198, cut + 2e-4)), TOL).boundary_swaps == 2
    three = _swap_row(ref, 199, cut + 1e-4, (198, cut + 2e-4), (197, cut + 3e-4))  # 3 of 200 rows: over 1%
    check = compare_outputs(0, DET, ref, three, TOL)
    assert not check.passed and check.boundary_swaps == 0
