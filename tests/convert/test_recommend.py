"""deploy convert --compare-backends: the fastest verified backend and precision measured on this machine, in the
manifest (under its checksum) and in one printed line; a backend that fails parity or cannot load is never recommended."""
import importlib.util
import json

import pytest

from conftest import assert_one_line_error
from deploybridge.convert.recommend import choose


def _entry(backend, ms, parity="ok", status="ok", precision="fp32"):
    return {"backend": backend, "precision": precision, "median_ms": ms, "parity": parity, "status": status}


def test_choose_the_fastest_that_passed_parity():
    measured = [_entry("onnxruntime", 13.9), _entry("perturbed", 2.0, "FAIL", "failed verification: 1e-2 off"),
                _entry("openvino", 12.5), _entry("tensorrt", None, None, "not installed: pip install tensorrt"),
                _entry("onnxruntime", 9.3, precision="int8")]
    assert choose(measured) == {"backend": "onnxruntime", "precision": "int8", "median_ms": 9.3}
    assert choose(measured[:3]) == {"backend": "openvino", "precision": "fp32", "median_ms": 12.5}  # not the 2 ms FAIL
    assert choose(measured[1:2] + measured[3:4])["backend"] is None  # nothing verified: nothing recommended


def _recommended(out):
    return json.loads((out / "manifest.json").read_text())["recommended"]


def test_planted_failing_backend_is_checked_but_never_recommended(cli, tiny, tmp_path):
    out = tmp_path / "art"
    result = cli("convert", "--plugin", "tiny", "--model", "tiny-net", "--random-weights", "--out", out,
                 "--compare-backends", "all")
    assert result.code == 0, result.err
    rec = _recommended(out)
    by_name = {m["backend"]: m for m in rec["measured"]}
    # perturbed: ONNX Runtime with outputs shifted by 1e-2, as fast as onnxruntime, fails parity: listed, not timed
    assert by_name["perturbed"]["parity"] == "FAIL" and by_name["perturbed"]["status"].startswith("failed verification")
    assert by_name["perturbed"]["median_ms"] is None
    assert by_name["failing_run"]["parity"] == "FAIL"  # loads, raises on every input
    assert by_name["missingrt"]["status"].startswith("not installed") and "pip install missingrt" in by_name["missingrt"]["status"]
    assert by_name["crashing"]["status"].startswith("cannot load")  # registers no loader: a reason, not a crash
    timed = [m for m in rec["measured"] if m["median_ms"] is not None]
    assert {m["parity"] for m in timed} == {"ok"} and {"onnxruntime", "shifted"} <= {m["backend"] for m in timed}
    assert rec["backend"] not in {"perturbed", "failing_run", "crashing", "missingrt"}
    assert rec["median_ms"] == min(m["median_ms"] for m in timed)
    assert rec["machine"]["threads"] >= 1 and rec["machine"]["cpu"]
    assert "fastest verified on this machine: " + rec["backend"] in result.out
    assert "perturbed: failed verification" in result.out
    assert cli("verify", out).code == 0  # the manifest's checksums still hold with "recommended" in it
    # a misspelt backend exits 2 before any work, naming the closest
    assert_one_line_error(cli("convert", "--plugin", "tiny", "--model", "tiny-net", "--random-weights", "--out",
                              tmp_path / "typo", "--compare-backends", "onnxruntme"), contains="onnxruntime")
    assert not (tmp_path / "typo").exists()


def test_without_the_flag_a_hint(cli, tiny, tmp_path):
    out = tmp_path / "art"
    result = cli("convert", "--plugin", "tiny", "--model", "tiny-net", "--random-weights", "--out", out)
    assert result.code == 0 and "pass --compare-backends all" in result.out
    assert "recommended" not in json.loads((out / "manifest.json").read_text())


def test_shapes_retinanet_onnxruntime_and_openvino(cli, tmp_path):
    out = tmp_path / "retinanet"
    result = cli("convert", "--plugin", "torchvision", "--model", "shapes_retinanet", "--out", out,
                 "--compare-backends", "all")
    assert result.code == 0, result.err
    rec = _recommended(out)
    by_name = {m["backend"]: m for m in rec["measured"]}
    expected = ["onnxruntime"] + (["openvino"] if importlib.util.find_spec("openvino") else [])
    for name in expected:
        assert by_name[name]["parity"] == "ok" and by_name[name]["median_ms"] > 0, by_name[name]
    assert rec["median_ms"] == min(m["median_ms"] for m in rec["measured"] if m["median_ms"] is not None)
    assert rec["backend"] in expected and rec["precision"] == "fp32"
    assert by_name["torchscript"]["status"].startswith("not compared")  # builds from the module, not model.onnx
    assert f"fastest verified on this machine: {rec['backend']} fp32, {rec['median_ms']:.1f} ms" in result.out
    if "openvino" not in expected:
        pytest.skip("openvino not installed: its half of the comparison not run (pip install openvino)")


def test_printed_lines_after_int8(tmp_path):
    """--int8 without the flag: both precisions convert measured, and the hint; with it, a float32 winner says how to
    get it (the folder holds the int8 graph)."""
    from deploybridge.convert.recommend import lines

    manifest = {"backend": {"name": "onnxruntime", "options": {}}, "passes": [],
                "precision": {"mode": "int8", "comparison": {"fp32": {"median_ms": 21.04}, "int8": {"median_ms": 9.31}}}}
    assert lines(manifest, tmp_path) == ["measured on this machine: onnxruntime int8 9.3 ms, fp32 21.0 ms; pass"
                                         " --compare-backends all to time this artifact on the other installed backends"
                                         " and name the fastest"]
    measured = [_entry("onnxruntime", 9.3, precision="int8"), _entry("onnxruntime", 8.1), _entry("openvino", None, None,
                "cannot load: Loop-17 refused")]
    manifest["recommended"] = {**choose(measured), "measured": measured}
    first, skipped = lines(manifest, tmp_path)
    assert first == "fastest verified on this machine: onnxruntime fp32, 8.1 ms (onnxruntime int8 9.3 ms); convert again without --int8 to get it"
    assert skipped == "  openvino: cannot load: Loop-17 refused"
