"""The detr family converted and verified on ONNX Runtime: the default model with nothing but --random-weights, the
tiny model with both exporters, planted errors that verification must catch, and bad input (exit 2, one line).
Small inputs (128x128) keep each test well under a minute on 2 cores."""
import json

import pytest

from conftest import assert_one_line_error

SMALL = ("--random-weights", "--input-shape", "1,3,128,128")
TINY = ("--model", "detr_r18_tiny", *SMALL)


def _manifest(folder):
    return json.loads((folder / "manifest.json").read_text())


def _task_metrics(manifest):
    inputs = manifest["verification"]["details"]["inputs"]
    return [i["task"]["metrics"] for i in inputs]


@pytest.fixture(scope="module")
def tiny_legacy(tmp_path_factory):
    from deploybridge.cli import main

    out = tmp_path_factory.mktemp("detr") / "tiny"
    assert main(["convert", "--plugin", "detr", *TINY, "--exporter", "legacy", "--out", str(out)]) == 0
    return out


def test_default_model_converts_with_nothing_but_random_weights(cli, tmp_path):
    result = cli("convert", "--plugin", "detr", *SMALL, "--out", tmp_path / "r50")
    assert result.code == 0, result.err
    m = _manifest(tmp_path / "r50")
    assert m["spec"]["model"] == "detr_r50" and m["task"] == "detection"
    assert m["verification"]["passed"] and m["verification"]["inconclusive"] is None
    for metrics in _task_metrics(m):
        assert metrics["reference_count"] == metrics["matched"] == 100  # one row per query, every one paired
        assert metrics["label_agreement"] == 1.0
        assert metrics["max_box_deviation_px"] < 0.1 and metrics["max_score_deviation"] < 1e-3


@pytest.mark.parametrize("exporter", ["legacy", "dynamo"])
def test_tiny_model_converts_and_verifies_with_each_exporter(cli, tmp_path, tiny_legacy, exporter):
    if exporter == "legacy":
        folder = tiny_legacy
    else:
        folder = tmp_path / exporter
        result = cli("convert", "--plugin", "detr", *TINY, "--exporter", exporter, "--out", folder)
        assert result.code == 0, result.err
    m = _manifest(folder)
    assert m["export"]["exporter"] == exporter
    assert m["verification"]["passed"] and m["verification"]["inconclusive"] is None
    assert [o["name"] for o in m["outputs"]] == ["boxes", "scores", "labels"]
    for metrics in _task_metrics(m):
        assert metrics["reference_count"] == metrics["backend_count"] == metrics["matched"] == 50
        assert metrics["max_box_deviation_px"] < 0.01 and metrics["max_score_deviation"] < 1e-4
    assert cli("verify", folder).code == 0  # `deploy verify` rebuilds the same model from the manifest's spec


@pytest.mark.parametrize("plant, caught", [
    ("box_shift", "boxes deviate"),      # one box 2 px to the right
    ("score_shift", "scores deviate"),   # one score changed by 0.05
    ("label_swap", "objects match"),     # one query's label swapped
])
def test_a_planted_error_fails_detection_parity(cli, tiny_legacy, plant, caught):
    result = cli("verify", tiny_legacy, "--plant", plant, "--json")
    assert result.code == 1, (result.out, result.err)
    failures = [f for i in json.loads(result.out)["inputs"] for f in i["task"]["failures"]]
    assert any(caught in f for f in failures), failures  # task parity on the matched queries caught it


@pytest.mark.parametrize("args, said", [
    (("--model", "detr_r51", "--random-weights"), "detr_r51"),
    (("--model", "detr_r18_tiny"), "--random-weights"),
    (("--model", "detr_r18_tiny", "--random-weights", "--input-shape", "2,3,128,128"), "one RGB image"),
    (("--model", "detr_r18_tiny", "--random-weights", "--option", "num_queries=10"), "no --option"),
])
def test_bad_input_is_one_line_exit_2(cli, tmp_path, args, said):
    result = cli("convert", "--plugin", "detr", *args, "--out", tmp_path / "x")
    assert_one_line_error(result, 2, said)
    assert not (tmp_path / "x").exists()


def test_tiny_model_converts_and_verifies_on_openvino(cli, tmp_path):
    pytest.importorskip("openvino", reason="OpenVINO not installed here")
    result = cli("convert", "--plugin", "detr", *TINY, "--backend", "openvino", "--out", tmp_path / "ov")
    assert result.code == 0, result.err
    m = _manifest(tmp_path / "ov")
    assert m["backend"]["name"] == "openvino" and m["verification"]["passed"]
    for metrics in _task_metrics(m):
        assert metrics["matched"] == 50 and metrics["label_agreement"] == 1.0
        assert metrics["max_box_deviation_px"] < 0.01 and metrics["max_score_deviation"] < 1e-4
