"""Inconclusive is not a pass: a verification that compared nothing exits 1, says why and what to do."""
import json

import numpy as np
import pytest

from deploybridge.parity.conclusive import inconclusive_reason
from deploybridge.records import OutputSpec

DETECTOR = [OutputSpec("boxes", True), OutputSpec("scores", True), OutputSpec("labels", True)]


def test_reasons():
    empty = {"boxes": np.zeros((0, 4), np.float32), "scores": np.zeros(0, np.float32), "labels": np.zeros(0, np.int64)}
    one = {"boxes": np.ones((1, 4), np.float32), "scores": np.ones(1, np.float32), "labels": np.ones(1, np.int64)}
    assert "no detections on any of the 2" in inconclusive_reason(DETECTOR, [empty, empty])
    assert inconclusive_reason(DETECTOR, [empty, one]) is None  # one detection somewhere is something to compare
    assert inconclusive_reason(DETECTOR, [one, one]) is None  # a single-class detector's labels are constant: fine
    zeros = [{"y": np.zeros((1, 4), np.float32)}, {"y": np.zeros((1, 4), np.float32)}]
    assert inconclusive_reason([OutputSpec("y")], zeros) == "output 'y' is the constant 0 on every verification input"
    varied = [{"y": np.zeros((1, 4), np.float32)}, {"y": np.eye(1, 4, dtype=np.float32)}]
    assert inconclusive_reason([OutputSpec("y")], varied) is None


@pytest.fixture
def blank(fake_plugin):
    fake_plugin("blank", "db_test_blank")


def _convert(cli, out, model, *extra):
    return cli("convert", "--plugin", "blank", "--model", model, "--random-weights", "--out", out, *extra)


@pytest.mark.parametrize("model, why", [("zeros", "output 'features' is the constant 0 on every verification input"),
                                        ("nodets", "the reference has no detections on any of the 3 verification inputs")])
def test_convert_and_verify_say_inconclusive_and_exit_1(cli, blank, tmp_path, model, why):
    out = tmp_path / "art"
    result = _convert(cli, out, model)
    assert result.code == 1, result.err
    line = next(ln for ln in result.err.splitlines() if "inconclusive" in ln)
    assert why in line and "--weights" in line and "--allow-inconclusive" in line
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["verification"]["passed"] is False and why in manifest["verification"]["inconclusive"]
    # accepted knowingly: exit 0, still recorded; deploy verify is as strict unless told the same
    accepted = tmp_path / "accepted"
    assert _convert(cli, accepted, model, "--allow-inconclusive").code == 0
    manifest = json.loads((accepted / "manifest.json").read_text())
    assert manifest["verification"]["passed"] is True and why in manifest["verification"]["inconclusive"]
    assert manifest["verification"]["summary"].startswith("INCONCLUSIVE (accepted with --allow-inconclusive)")
    again = cli("verify", accepted)
    assert again.code == 1 and why in again.err
    assert cli("verify", accepted, "--allow-inconclusive").code == 0


def test_one_detection_on_one_input_is_conclusive_and_the_others_say_they_compared_nothing(cli, blank, tmp_path):
    result = _convert(cli, tmp_path / "art", "somedets", "--json")
    assert result.code == 0, result.err
    verification = json.loads(result.out)["verification"]
    assert verification["inconclusive"] is None
    said = [i["nothing_compared"] for i in verification["details"]["inputs"]]
    assert said.count(None) >= 1 and "no detections in the reference" in said, said
    table = _convert(cli, tmp_path / "again", "somedets")
    assert "nothing to compare" in table.out  # (the table wraps the reason)


def test_nothing_compared_input_by_input():
    from deploybridge.parity.conclusive import nothing_compared

    assert nothing_compared(DETECTOR, {"boxes": np.zeros((0, 4)), "scores": np.zeros(0), "labels": np.zeros(0)}) == \
        "no detections in the reference"
    assert nothing_compared([OutputSpec("y")], {"y": np.full((2, 3), 7.0, np.float32)}) == "every output is one constant"
    assert nothing_compared([OutputSpec("y")], {"y": np.eye(2, dtype=np.float32)}) is None


def test_a_boolean_output_keeps_its_flipped_fraction_bound_under_fp16(cli, blank, tmp_path):
    """--fp16 scales float tolerances by 2**13; a mask's bound is a fraction of flipped elements and must not grow
    (it became ~1 before: the check could not fail)."""
    from deploybridge.parity.noise_floor import FLOAT16_OVER_FLOAT32, Floor, as_float16

    scaled = as_float16(Floor({"mask": 1e-4, "scores": 1e-6}), {"mask"})
    assert scaled.values == {"mask": 1e-4, "scores": 1e-6 * FLOAT16_OVER_FLOAT32} and scaled.float16
    out = tmp_path / "art"
    result = _convert(cli, out, "boolmask", "--fp16")
    assert result.code == 0, result.err
    tolerance = json.loads((out / "manifest.json").read_text())["tolerances"]["mask"]
    assert 0 < tolerance["noise_floor"] < 0.1, tolerance  # float64 flips a few rounding-sign pixels: a real floor
    # not x 2**13, and never above the float16 ceiling (5 % of a boolean's scale, 1)
    assert tolerance["atol"] == pytest.approx(min(max(1e-4, 5 * tolerance["noise_floor"]), 0.05)), tolerance
