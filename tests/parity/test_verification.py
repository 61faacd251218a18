"""`deploy verify` runs every check `deploy convert` ran (parity.verification.run_checks): the other input shapes of a
dynamic export, framework parity, and lists every check it could not run with the reason."""
import json
import shutil

import pytest

from deploybridge.convert import artifact

STATIC = "other input shapes: not run, the export has static shapes"
NO_FRAMEWORK = "framework parity: not run, the family gives no framework predict to compare the exported wrapper with"


@pytest.fixture
def baked(fake_plugin):
    fake_plugin("baked", "db_test_baked")


def _convert(cli, out, *options):
    flags = [f for o in options for f in ("--option", o)]
    result = cli("convert", "--plugin", "baked", "--model", "boxes", *flags, "--out", out)
    return result, json.loads((out / "report.json").read_text())["verification"]


def _verify(cli, out, *extra):
    result = cli("verify", out, "--json", *extra)
    return result, json.loads(result.out)


def _shapes(checks):
    return [(c["seed"], c["input_shape"]) for c in checks["inputs"]]


def test_verify_catches_a_size_baked_into_a_dynamic_export_as_convert_does(cli, baked, tmp_path):
    """The traced graph keeps H = 32: at 48x48 its boxes are 16 px short. Convert fails and keeps the artifact
    (marked unverified); verify re-runs the 48x48 check and fails too (it passed before: main seeds only)."""
    bad, converted = _convert(cli, tmp_path / "bad", "dynamic=true", "bake=true")
    assert bad.code == 1, bad.err
    result, verified = _verify(cli, tmp_path / "bad")
    assert result.code == 1 and verified["passed"] is False
    for checks in (converted, verified):
        assert _shapes(checks)[-1] == (1000, [1, 3, 48, 48])
        assert [c["passed"] for c in checks["inputs"]] == [True, True, True, False]  # the export size passes
        assert max(o["max_abs"] for o in checks["inputs"][-1]["outputs"]) == pytest.approx(16.0)
    assert _shapes(converted) == _shapes(verified) and converted["not_run"] == verified["not_run"] == [NO_FRAMEWORK]
    human = cli("verify", tmp_path / "bad")
    assert human.code == 1 and "1000 at 48x48" in human.out and "UNVERIFIED" in human.err
    # the same model exported with H read from the tensor passes both, at both sizes
    good, converted = _convert(cli, tmp_path / "good", "dynamic=true")
    assert good.code == 0, good.err
    result, verified = _verify(cli, tmp_path / "good")
    assert result.code == 0 and verified["passed"] is True
    assert _shapes(verified) == _shapes(converted) == [(1000, None), (1001, None), (1002, None), (1000, [1, 3, 48, 48])]


def test_verify_runs_framework_parity(cli, baked, tmp_path):
    """The framework's own predict scores 0.01 above the wrapper: convert and verify both fail on it alone."""
    bad, converted = _convert(cli, tmp_path / "bad", "framework=shifted")
    assert bad.code == 1, bad.err
    result, verified = _verify(cli, tmp_path / "bad")
    assert result.code == 1 and verified["passed"] is False
    for checks in (converted, verified):
        assert all(c["passed"] for c in checks["inputs"])  # tensor and task parity pass: only the framework differs
        assert checks["framework"]["passed"] is False and checks["not_run"] == [STATIC]
        assert checks["framework"]["framework"] == "the test framework"
        assert max(r["max_score_deviation"] for r in checks["framework"]["inputs"]) == pytest.approx(0.01, abs=1e-6)
    good, _ = _convert(cli, tmp_path / "good", "framework=same")
    assert good.code == 0, good.err
    human = cli("verify", tmp_path / "good")
    assert human.code == 0, human.err
    assert "the test framework vs the exported wrapper: 15 of 15 instances matched" in human.out
    assert json.loads((tmp_path / "good" / "manifest.json").read_text())["framework_parity"]["passed"] is True


def test_checks_that_cannot_run_are_listed_with_the_reason(cli, baked, tmp_path):
    result, converted = _convert(cli, tmp_path / "art", "framework=missing")
    assert result.code == 0, result.err
    missing = "framework parity: not run, db_test_no_such_framework is not importable"
    assert converted["not_run"] == [STATIC, missing] and converted["framework"] is None
    again, verified = _verify(cli, tmp_path / "art")
    assert again.code == 0 and verified["not_run"] == [STATIC, missing]
    human = cli("verify", tmp_path / "art")
    assert STATIC in human.out and missing in human.out
    # an artifact of format /1 had only model.onnx checksummed: verify says the other files went unchecked
    old = tmp_path / "old"
    shutil.copytree(tmp_path / "art", old)
    manifest = json.loads((old / "manifest.json").read_text())
    manifest.update(format="deploybridge-artifact/1", files={"model.onnx": manifest["files"]["model.onnx"]})
    artifact.write_json(old / "manifest.json", manifest)
    again, verified = _verify(cli, old)
    assert again.code == 0 and any(line.startswith("checksums: not run") for line in verified["not_run"])


def test_summary_never_prints_an_uncompared_output_as_error_zero():
    """int8 RetinaNet kept one faint detection more on each input: no row was compared by value, and the summary said
    'max abs error 0'. It now says the checks were not compared."""
    from deploybridge.parity.tensor import InputCheck, OutputCheck
    from deploybridge.parity.verification import Verification

    def check(max_abs):
        return OutputCheck("boxes", [3, 4], [4, 4], max_abs, max_abs, 1e-4, 1e-3, max_abs is not None, "")

    none = Verification("onnxruntime", False, [InputCheck(seed=1000, passed=False, outputs=[check(None)])], {})
    assert "max abs error not computed (1 output check(s) not compared by value" in none.summary()
    some = Verification("onnxruntime", False, [InputCheck(seed=1000, passed=False, outputs=[check(0.01), check(None)])], {})
    assert "max abs error 0.01 (1 output check(s)" in some.summary()
    clean = Verification("onnxruntime", True, [InputCheck(seed=1000, passed=True, outputs=[check(0.002)])], {})
    assert "max abs error 0.002, 0 output check(s) out of tolerance" in clean.summary()
