"""`deploy matrix` on this machine, small: one model on ONNX Runtime and OpenVINO (TensorRT skipped, saying why),
each cell a real conversion in a process of its own; the page written, a re-run served from the cache and checked
against the page; a killed cell and a cell over its memory cap are red with the reason while the rest finish."""
import json

import pytest

pytest.importorskip("openvino", reason="OpenVINO is installed by make install")

MODEL = "torchvision:mobilenet_v3_small"
ARGS = ("--models", MODEL, "--backends", "onnxruntime,openvino,tensorrt", "--precisions", "fp32")


def _cells(result) -> dict:
    assert result.out.lstrip().startswith("["), result.err[-3000:]
    return {c["id"]: c for c in json.loads(result.out)}


def test_cells_are_converted_verified_timed_cached_and_checked(cli, tmp_path):
    page = tmp_path / "support-matrix.md"
    first = cli("matrix", *ARGS, "--bench-runs", "3", "--out", tmp_path / "m", "--write", page, "--json")
    assert first.code == 0, first.err[-3000:]
    cells = _cells(first)
    for backend in ("onnxruntime", "openvino"):
        cell = cells[f"torchvision/mobilenet_v3_small/{backend}-fp32"]
        assert cell["status"] == "green" and cell["parity"].startswith("PASSED"), cell
        assert cell["ms"] > 0 and cell["speedup"] > 0 and not cell["cached"], cell
    trt = cells["torchvision/mobilenet_v3_small/tensorrt-fp32"]
    assert trt["status"] in ("skipped", "green") and (trt["status"] == "green" or "TensorRT" in trt["reason"]), trt
    assert "| torchvision/mobilenet_v3_small | onnxruntime | fp32 | green | PASSED" in page.read_text()
    assert "[1/3]" in first.err or "[2/3]" in first.err  # progress, cell by cell

    again = cli("matrix", *ARGS, "--bench-runs", "3", "--out", tmp_path / "m", "--check", page, "--json")
    assert again.code == 0, again.err[-3000:]
    assert all(c["cached"] for c in _cells(again).values() if c["status"] != "skipped")
    assert "2 from the cache, 0 to run" in again.err and "matches this run" in again.err

    # planted: the committed page says something this run does not -> exit 1 naming the row
    page.write_text(page.read_text().replace("| openvino | fp32 | green |", "| openvino | fp32 | red |"))
    planted = cli("matrix", *ARGS, "--bench-runs", "3", "--out", tmp_path / "m", "--check", page)
    assert planted.code == 1 and "- torchvision/mobilenet_v3_small | openvino | fp32 | red" in planted.err


def test_a_killed_cell_and_one_over_its_memory_cap_are_red_and_the_rest_finish(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("DEPLOYBRIDGE_MATRIX_KILL", "torchvision/mobilenet_v3_small/openvino-fp32")
    result = cli("matrix", *ARGS[:3], "onnxruntime,openvino", *ARGS[4:], "--bench-runs", "0", "--out", tmp_path / "k",
                 "--json")
    cells = _cells(result)
    assert cells["torchvision/mobilenet_v3_small/openvino-fp32"]["status"] == "red"
    assert cells["torchvision/mobilenet_v3_small/openvino-fp32"]["reason"].startswith("killed by SIGKILL")
    assert cells["torchvision/mobilenet_v3_small/onnxruntime-fp32"]["status"] == "green"
    monkeypatch.delenv("DEPLOYBRIDGE_MATRIX_KILL")
    capped = _cells(cli("matrix", *ARGS[:3], "onnxruntime", *ARGS[4:], "--bench-runs", "0", "--memory-gib", "0.2",
                        "--out", tmp_path / "c", "--json"))
    (cell,) = capped.values()
    assert cell["status"] == "red" and cell["reason"].startswith("out of memory at 0.2 GiB"), cell


def test_bad_input_is_one_line(cli, tmp_path):
    from conftest import assert_one_line_error

    assert_one_line_error(cli("matrix", "--models", "nomodel", "--out", tmp_path), contains="no matrix row 'nomodel'")
    assert_one_line_error(cli("matrix", "--executor", "slurm", "--out", tmp_path), contains="unknown executor 'slurm'")
    assert_one_line_error(cli("matrix", "--backends", "onnxrt", "--out", tmp_path), contains="unknown backend onnxrt")
    assert_one_line_error(cli("matrix", "--check", tmp_path / "none.md", "--out", tmp_path), contains="not found")
    assert not (tmp_path / "cache").exists()
