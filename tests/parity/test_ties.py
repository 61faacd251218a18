"""The reference at a tie: elements a family shows the reference chose between near-equal candidates are left out of
tensor and keypoint parity and counted; the rest are still held to the bounds."""
import numpy as np

from deploybridge.parity.task import task_parity
from deploybridge.parity.tensor import compare_outputs
from deploybridge.parity.ties import tie_finder
from deploybridge.records import LoadedModel, OutputSpec, Task, Tolerance

OUTPUTS = [OutputSpec(n, per_detection=True) for n in ("boxes", "scores", "labels", "keypoints")]
TOL = {n: Tolerance(1e-3, 1e-3) for n in ("boxes", "scores", "labels", "keypoints")}


def _pair():
    boxes = np.array([[0, 0, 20, 20], [30, 30, 60, 60]], np.float32)
    kp = np.array([[[5, 5, 1], [10, 10, 1]], [[40, 40, 1], [50, 50, 1]]], np.float32)
    ref = {"boxes": boxes, "scores": np.array([0.9, 0.8], np.float32), "labels": np.array([1, 1]), "keypoints": kp}
    got = {k: v[::-1].copy() for k, v in ref.items()}  # the backend orders its rows otherwise: ties follow the reference's
    got["keypoints"][0, 1, :2] += 6  # reference row 1, keypoint 1 jumps to the other peak (OpenVINO: 5.91 px)
    return ref, got


def test_a_keypoint_at_a_tie_is_left_out_and_counted():
    ref, got = _pair()
    tied = np.array([[False, False], [False, True]])
    check = task_parity(Task.KEYPOINTS, ref, got, ties={"keypoints": tied})
    assert check.passed and check.metrics["keypoints_at_tie"] == 1 and check.metrics["keypoints_compared"] == 3
    tensors = compare_outputs(0, OUTPUTS, ref, got, TOL, {"keypoints": tied})
    kp = next(c for c in tensors.outputs if c.name == "keypoints")
    assert tensors.passed and "1 element(s) the reference chose at a tie" in kp.note


def test_without_tie_evidence_or_at_another_keypoint_it_fails():
    ref, got = _pair()
    assert not task_parity(Task.KEYPOINTS, ref, got).passed  # planted: no evidence -> 6 px fails
    assert not compare_outputs(0, OUTPUTS, ref, got, TOL).passed
    elsewhere = np.array([[False, True], [False, False]])  # a tie at another keypoint excuses nothing here
    check = task_parity(Task.KEYPOINTS, ref, got, ties={"keypoints": elsewhere})
    assert not check.passed and check.metrics["max_keypoint_deviation_px"] == 6.0
    assert not compare_outputs(0, OUTPUTS, ref, got, TOL, {"keypoints": elsewhere}).passed


def test_tie_finder_passes_margins_from_the_tolerances():
    seen = {}

    def at_tie(inputs, margins, px):
        seen.update(margins=margins, px=px, shape=tuple(inputs[0].shape))
        return {"keypoints": np.zeros((0, 17), bool)}

    loaded = LoadedModel(module=None, input_names=["images"], outputs=OUTPUTS, make_inputs=lambda s: (), at_tie=at_tie)
    tolerances = {"scores": Tolerance(1e-4, 1e-3, noise_floor=2e-5), "boxes": Tolerance(0.01, 1e-3)}
    find = tie_finder(loaded, tolerances)
    find({"images": np.zeros((1, 3, 8, 8), np.float32)})
    assert seen["shape"] == (1, 3, 8, 8) and seen["px"] == 1.0
    assert np.isclose(seen["margins"]["scores"], 2 * 5 * 2e-5) and np.isclose(seen["margins"]["boxes"], 0.02)
    assert tie_finder(LoadedModel(module=None, input_names=[], outputs=[], make_inputs=lambda s: ()), tolerances) is None


def test_every_keypoint_at_a_tie_compares_nothing_and_fails():
    ref, got = _pair()
    check = task_parity(Task.KEYPOINTS, ref, got, ties={"keypoints": np.ones((2, 2), bool)})
    assert not check.passed and "nothing compared" in check.failures[0]


def _with_extra(score):
    """A reference of two detections and a backend that also kept a third, scoring ``score`` (threshold 0.05)."""
    ref = {"boxes": np.array([[0, 0, 20, 20], [30, 30, 60, 60]], np.float32), "scores": np.array([0.9, 0.3], np.float32),
           "labels": np.array([1, 2])}
    got = {k: v.copy() for k, v in ref.items()}
    got["boxes"] = np.concatenate([got["boxes"], [[70, 10, 90, 40]]]).astype(np.float32)
    got["scores"], got["labels"] = np.append(got["scores"], np.float32(score)), np.append(got["labels"], 3)
    return ref, got


def test_a_detection_one_side_kept_at_the_score_threshold_is_left_out():
    """Mask R-CNN v2 at 320²: ONNX Runtime (and float64 PyTorch) kept a 0.050005 detection float32 PyTorch dropped."""
    from deploybridge.parity.ties import threshold_ties

    outputs = OUTPUTS[:3]
    ref, got = _with_extra(0.050005)
    r, g, kept, left_out = threshold_ties(outputs, ref, got, 0.05, margin=1e-3)
    assert left_out == 1 and kept.tolist() == [True, True] and len(g["boxes"]) == 2
    assert compare_outputs(0, outputs, r, g, TOL).passed and task_parity(Task.DETECTION, r, g).passed
    # a detection both kept stays compared, however close to the threshold it scores
    ref["scores"][1] = got["scores"][1] = 0.0501
    r, g, kept, left_out = threshold_ties(outputs, ref, got, 0.05, margin=1e-3)
    assert left_out == 1 and kept.tolist() == [True, True] and g["scores"].tolist() == ref["scores"].tolist()
    # planted: far from the threshold, or no threshold declared -> nothing left out, the counts differ and parity fails
    for score, threshold in ((0.2, 0.05), (0.050005, None)):
        ref, got = _with_extra(score)
        r, g, kept, left_out = threshold_ties(outputs, ref, got, threshold, margin=1e-3)
        assert left_out == 0 and kept is None and not compare_outputs(0, outputs, r, g, TOL).passed


def test_verify_reports_threshold_ties_in_the_summary():
    from deploybridge.parity.verification import verify

    ref, got = _with_extra(0.0502)
    tolerances = {n: Tolerance(1e-3, 1e-3, noise_floor=1e-4) for n in ("boxes", "scores", "labels")}  # margin 1e-3
    run = lambda seed: ({"images": np.zeros((1, 3, 4, 4), np.float32)}, ref)  # noqa: E731
    passed = verify("onnxruntime", OUTPUTS[:3], [0], run, lambda inputs: got, tolerances, task="detection",
                    score_threshold=0.05)
    assert passed.passed and passed.inputs[0].threshold_ties == 1
    assert "1 detection(s) kept by one side only with a score within the tie margin" in passed.summary()
    ref, got = _with_extra(0.052)  # 2e-3 above the threshold: beyond the margin
    assert not verify("onnxruntime", OUTPUTS[:3], [0], run, lambda inputs: got, tolerances, task="detection",
                      score_threshold=0.05).passed
