"""DEPLOYBRIDGE_THREADS: one job per core. Every backend session and PyTorch's pool follow it unless --threads says
otherwise; unset, the runtimes keep their own defaults."""
import onnx
import pytest
from onnx import TensorProto, helper

from deploybridge.runtime.threads import ENV, pin_torch, thread_count


def _identity(path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", [x], [y])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def test_threads_given_then_environment_then_the_runtime_default(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    assert thread_count({}) is None and thread_count({"threads": 3}) == 3
    monkeypatch.setenv(ENV, "1")
    assert thread_count({}) == 1 and thread_count(None) == 1 and thread_count({"threads": 2}) == 2
    for junk in ("0", "-1", "two", ""):
        monkeypatch.setenv(ENV, junk)
        assert thread_count({}) is None, junk


def test_backends_follow_the_environment(monkeypatch, tmp_path):
    from deploybridge.runtime.backends.onnxruntime import make_session

    model = _identity(tmp_path / "m.onnx")
    monkeypatch.setenv(ENV, "1")
    assert make_session(model, {}).get_session_options().intra_op_num_threads == 1
    assert make_session(model, {"threads": 2}).get_session_options().intra_op_num_threads == 2
    monkeypatch.delenv(ENV)
    assert make_session(model, {}).get_session_options().intra_op_num_threads == 0  # ORT's own default
    pytest.importorskip("openvino", reason="OpenVINO is installed by make install")
    from deploybridge.runtime.backends.openvino import compile_config

    monkeypatch.setenv(ENV, "1")
    assert compile_config({})["INFERENCE_NUM_THREADS"] == 1
    monkeypatch.delenv(ENV)
    assert "INFERENCE_NUM_THREADS" not in compile_config({})


def test_pytorch_pool_follows_the_environment(monkeypatch):
    import torch

    before = torch.get_num_threads()
    try:
        monkeypatch.setenv(ENV, "1")
        torch.set_num_threads(2)
        pin_torch()
        assert torch.get_num_threads() == 1
        monkeypatch.delenv(ENV)
        torch.set_num_threads(2)
        pin_torch()  # unset: left as it is
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
