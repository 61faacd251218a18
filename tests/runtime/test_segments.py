"""deploy_register_host_ops: a graph is cut at its deploybridge:: nodes and each runs the registered HostOp."""
import numpy as np
import pytest
from onnx import TensorProto, helper

from deploybridge.errors import DeployError
from deploybridge.plugins import Host
from deploybridge.records import HostOp


def _model_with_host_step(path):
    """x -> Relu -> deploybridge::HostTopRows(k=2) -> Neg -> y: an engine segment on each side of the host step."""
    nodes = [helper.make_node("Relu", ["x"], ["r"]),
             helper.make_node("HostTopRows", ["r"], ["top"], domain="deploybridge", k=2),
             helper.make_node("Neg", ["top"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              value_info=[helper.make_tensor_value_info("top", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("deploybridge", 1)])
    import onnx

    onnx.save(model, str(path))


def _top_rows(inputs, attributes):
    (r,) = inputs
    order = np.argsort(-r.sum(1), kind="stable")[: attributes["k"]]
    return [r[order]]


TOP_ROWS = HostOp("HostTopRows", _top_rows, "the k rows with the largest sums (NumPy)")


def test_hook_deploy_register_host_ops():
    ops = Host(only=["builtin"]).host_ops()  # through deploy_register_host_ops
    assert ops["HostNonMaxSuppression"].owner == "builtin"


def test_graph_is_cut_and_the_host_op_runs_between_segments(tmp_path):
    from deploybridge.runtime import segments
    from deploybridge.convert.resolve import resolve_backend

    _model_with_host_step(tmp_path / "model.onnx")
    backend = resolve_backend(Host(only=["builtin"]), "onnxruntime")
    files = segments.build(backend, tmp_path / "model.onnx", tmp_path, {})
    assert files == ["segments/0/model.onnx", "segments/1/model.onnx"]
    import onnx

    rows = segments.describe(onnx.load(str(tmp_path / "model.onnx")), {"HostTopRows": TOP_ROWS})
    assert [r["kind"] for r in rows] == ["engine", "host", "engine"]
    assert rows[1]["implementation"] == TOP_ROWS.description
    x = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    got = segments.load(backend, tmp_path, {}, {}, {"HostTopRows": TOP_ROWS})({"x": x})["y"]
    r = np.maximum(x, 0)
    np.testing.assert_array_equal(got, -r[np.argsort(-r.sum(1), kind="stable")[:2]])


def test_missing_host_op_is_one_line_naming_it(tmp_path):
    from deploybridge.runtime import segments
    from deploybridge.convert.resolve import resolve_backend

    _model_with_host_step(tmp_path / "model.onnx")
    backend = resolve_backend(Host(only=["builtin"]), "onnxruntime")
    segments.build(backend, tmp_path / "model.onnx", tmp_path, {})
    with pytest.raises(DeployError, match="host op 'HostTopRows'.*install the plugin"):
        segments.load(backend, tmp_path, {}, {})
