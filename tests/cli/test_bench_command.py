"""`deploy bench` on a verified shapes RetinaNet artifact: one row per runtime, numbers that agree with each other, a
runtime that is not installed, one that fails parity, an unverified artifact and a missing folder."""
import json
import shutil

import pytest

from conftest import assert_one_line_error

FAST = ("--runs", "3", "--warmup", "1")


@pytest.fixture(scope="module")
def retina(tmp_path_factory):
    from deploybridge.cli import main

    out = tmp_path_factory.mktemp("bench") / "retina"
    assert main(["convert", "--plugin", "torchvision", "--model", "shapes_retinanet", "--out", str(out)]) == 0
    return out


def _openvino() -> list[str]:
    """["openvino"] where a built-in OpenVINO backend is registered (installed or not), else []."""
    from deploybridge.plugins import Host

    return [n for n in Host(only=["builtin"]).backends() if n == "openvino"]


def test_rows_numbers_hint_and_failed_verification(cli, tiny, retina):
    others = ["missingrt", "perturbed", *_openvino()]
    result = cli("bench", retina, "--backends", ",".join(others), *FAST, "--json")
    assert result.code == 0, result.err
    (bench,) = json.loads(result.out)
    rows = {r["runtime"]: r for r in bench["rows"]}
    assert list(rows) == ["pytorch", "onnxruntime", *others]  # eager, the artifact's own, then as asked
    assert bench["runs"] == 3 and bench["warmup"] == 1 and bench["input_shape"] == [1, 3, 192, 192]
    timed = [r for r in rows.values() if r["status"] == "ok"]
    assert {r["runtime"] for r in timed} >= {"pytorch", "onnxruntime"}
    eager = rows["pytorch"]["median_ms"]
    for r in timed:
        for key in ("size_mb", "parity", "median_ms", "p10_ms", "p90_ms", "fps", "speedup", "peak_rss_mb", "version"):
            assert r[key] is not None, (r["runtime"], key)
        assert r["p10_ms"] <= r["median_ms"] <= r["p90_ms"]
        assert r["fps"] == pytest.approx(1000.0 / r["median_ms"])
        assert r["speedup"] == pytest.approx(eager / r["median_ms"])  # the ratio is the same run's medians
        assert r["parity"] == ("reference" if r["runtime"] == "pytorch" else "ok")
    assert rows["onnxruntime"]["size_mb"] == pytest.approx((retina / "model.onnx").stat().st_size / 2**20, abs=0.01)
    # a process with ONNX Runtime alone holds far less than one with PyTorch (measured 101 MB vs 719 MB)
    assert rows["onnxruntime"]["peak_rss_mb"] < rows["pytorch"]["peak_rss_mb"]
    assert rows["missingrt"]["status"] == "not installed: missingrt is not installed; run `pip install missingrt`"
    assert rows["missingrt"]["median_ms"] is None
    perturbed = rows["perturbed"]
    assert perturbed["status"].startswith("failed verification: FAILED") and perturbed["parity"] == "FAIL"
    assert perturbed["median_ms"] is None and perturbed["speedup"] is None  # wrong outputs are not timed
    if "openvino" in rows:  # runs the artifact's model.onnx, or says why not
        assert rows["openvino"]["status"] == "ok" or rows["openvino"]["status"].startswith("not installed: ")


def test_table_and_markdown(cli, tiny, retina):
    table = cli("bench", retina, "--backends", "missingrt,perturbed", *FAST, "--no-rss")
    assert table.code == 0, table.err
    assert "peak RSS MB" in table.out and "× eager" in table.out
    assert "[3] missingrt: not installed: missingrt is not installed; run `pip install missingrt`" in table.out
    assert "[4] perturbed: failed verification: FAILED" in table.out
    md = cli("bench", retina, retina, "--backends", "missingrt", *FAST, "--no-rss", "--markdown")
    assert md.code == 0, md.err
    lines = md.out.strip().splitlines()
    assert lines[0].startswith("| model | artifact | input | runtime | status |") and "parity" in lines[0] and "× eager" in lines[0]
    assert len(lines) == 2 + 2 * 3  # header, rule, (eager, onnxruntime, missingrt) for each of the two folders
    assert all(line.count("|") == lines[0].count("|") for line in lines)


def test_unverified_refused_unless_allowed(cli, retina, tmp_path):
    copy = tmp_path / "unverified"
    shutil.copytree(retina, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["verified"] = False  # manifest.json carries no checksum of its own
    (copy / "manifest.json").write_text(json.dumps(manifest))
    refused = cli("bench", retina, copy, *FAST)  # every folder is checked before the first is benched
    assert_one_line_error(refused, 2, contains="is unverified")
    assert refused.out == "" and "timing" not in refused.err
    allowed = cli("bench", copy, "--runs", "1", "--warmup", "0", "--no-rss", "--json", "--allow-unverified")
    assert allowed.code == 0 and "warning:" in allowed.err and "is unverified" in allowed.err
    assert json.loads(allowed.out)[0]["warning"]


def test_missing_folder_and_unknown_backend(cli, retina, tmp_path):
    missing = cli("bench", retina, tmp_path / "nope")
    assert_one_line_error(missing, 2, contains="no such artifact folder")
    assert missing.out == "" and "timing" not in missing.err
    assert_one_line_error(cli("bench", retina, "--backends", "onnxruntim", *FAST), 2, contains="did you mean")
