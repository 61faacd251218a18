"""Tolerances from the noise floor: widened by it, capped at a fraction of the output's scale, and saying which."""
import numpy as np

from deploybridge.parity.noise_floor import CEILING, NOISE_FACTOR, Floor, as_float16, output_scales, tolerances_from_floor
from deploybridge.parity.verification import Verification
from deploybridge.records import OutputSpec, Tolerance

OUTPUTS = [OutputSpec("boxes", True), OutputSpec("scores", True), OutputSpec("masks", True)]
BASE = {o.name: Tolerance() for o in OUTPUTS}
SCALES = {"boxes": 192.0, "scores": 0.9, "masks": 1.0}


def test_a_measured_floor_widens_atol_and_says_so():
    tol = tolerances_from_floor(OUTPUTS, Floor({"boxes": 3e-5, "scores": 1e-6, "masks": 0.0}), BASE, SCALES)
    assert tol["boxes"].atol == NOISE_FACTOR * 3e-5 and tol["boxes"].basis == "5 x noise floor"
    assert tol["scores"].atol == 1e-4 and tol["scores"].basis.startswith("default 0.0001, above")
    assert tol["boxes"].noise_floor == 3e-5


def test_a_floor_above_the_ceiling_is_capped_at_the_outputs_scale_and_reported():
    """fp16's float32-floor x 2**13 estimate gave mask probabilities atol 0.8: no mask error could fail it."""
    floor = as_float16(Floor({"boxes": 3.04e-5, "scores": 1.04e-6, "masks": 1.95e-5}))
    tol = tolerances_from_floor(OUTPUTS, floor, BASE, SCALES)
    assert tol["masks"].atol == CEILING["float16"] * 1.0  # was 5 x 1.95e-5 x 8192 = 0.80
    assert tol["masks"].basis.startswith("capped at 5.0% of the output's scale 1") and "would be 0.799" in tol["masks"].basis
    assert tol["boxes"].atol == NOISE_FACTOR * 3.04e-5 * 8192 < CEILING["float16"] * 192  # under its ceiling: kept
    fp32 = tolerances_from_floor(OUTPUTS, Floor({"boxes": 1.0, "scores": 0.0, "masks": 0.0}), BASE, SCALES)
    assert fp32["boxes"].atol == CEILING["float32"] * 192 and fp32["boxes"].basis.startswith("capped at 0.1%")


def test_a_floor_that_could_not_be_measured_keeps_the_default_and_says_why():
    tol = tolerances_from_floor(OUTPUTS, Floor(None, "the model fails in float64 (RuntimeError: expected Float)"), BASE, SCALES)
    assert all(t.atol == 1e-4 and t.noise_floor is None for t in tol.values())
    assert tol["boxes"].basis == "default, noise floor not measured: the model fails in float64 (RuntimeError: expected Float)"


def test_the_summary_names_capped_and_unmeasured_tolerances():
    tol = tolerances_from_floor(OUTPUTS, as_float16(Floor({"boxes": 0.0, "scores": 0.0, "masks": 1e-3})), BASE, SCALES)
    v = Verification("onnxruntime", True, [], {n: {"atol": t.atol, "basis": t.basis} for n, t in tol.items()})
    assert v.tolerance_notes() == [f"masks {tol['masks'].basis}"]
    assert "tolerances: masks capped at 5.0%" in v.summary()


def test_output_scales_are_the_largest_magnitudes_and_one_for_booleans():
    refs = [{"boxes": np.array([[0, 0, 50, -190.0]]), "masks": np.zeros((1, 4, 4), bool), "labels": np.array([3])},
            {"boxes": np.zeros((0, 4)), "masks": np.zeros((0, 4, 4), bool), "labels": np.zeros(0, np.int64)}]
    assert output_scales(refs) == {"boxes": 190.0, "masks": 1.0, "labels": 0.0}


def _selects_another_box_in_float64(x):
    """A detector whose float64 run keeps another object than its float32 run in one of three rows (a score at the
    threshold), with 1e-6 px of rounding on the rows both keep."""
    import torch

    boxes = torch.tensor([[10.0, 10, 50, 50], [60, 60, 90, 90], [100, 20, 140, 80]], dtype=x.dtype)
    if x.dtype == torch.float64:
        boxes = boxes + 1e-6
        boxes[2] = torch.tensor([150.0, 150, 190, 190], dtype=x.dtype)  # another object, not noise
    return boxes, torch.tensor([0.9, 0.8, 0.31], dtype=x.dtype), torch.tensor([1, 2, 3])


def test_a_detection_only_one_precision_keeps_is_left_out_of_the_floor():
    """Mask R-CNN at 192²: float64 kept other boxes, and pairing rows by position measured a 24.6 px "floor" between
    two objects (atol capped, labels' floor 3e+02). Rows are paired as task parity pairs them; the changed selection
    is counted and named in the basis, not measured as noise."""
    import torch

    from deploybridge.parity.noise_floor import measure
    from deploybridge.records import LoadedModel

    class Detector(torch.nn.Module):
        def forward(self, x):
            return _selects_another_box_in_float64(x)

    outputs = [OutputSpec("boxes", True), OutputSpec("scores", True), OutputSpec("labels", True)]
    loaded = LoadedModel(module=Detector(), input_names=["images"], outputs=outputs,
                         make_inputs=lambda seed: (torch.zeros(1, 3, 8, 8),))
    ref32 = dict(zip(["boxes", "scores", "labels"], (t.numpy() for t in _selects_another_box_in_float64(torch.zeros(1)))))
    reference = lambda seed: ({}, ref32)  # noqa: E731
    floor = measure(loaded, [0], reference)
    assert floor.values["boxes"] < 1e-5 and floor.values["labels"] == 0.0, floor.values  # was 100 px
    assert floor.selection_changed == 2  # one row in each run without a partner
    tol = tolerances_from_floor(outputs, floor, {o.name: Tolerance() for o in outputs}, {"boxes": 192.0})
    assert "2 detection(s) kept by only one of float32 and float64: left out" in tol["boxes"].basis
