"""Graph passes (deploy_register_graph_passes): selection, order, re-check after each pass."""
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from deploybridge.errors import DeployError
from deploybridge.convert.pass_runner import PassContext, run_passes, select
from deploybridge.records import GraphPass


def relu_model():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="relu")], "g", [x], [y])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def negate_output(graph, ctx):
    import onnx_graphsurgeon as gs

    out = graph.outputs[0]
    mid = gs.Variable("pre_neg", dtype=out.dtype, shape=out.shape)
    graph.nodes[0].outputs = [mid]
    graph.nodes.append(gs.Node("Neg", inputs=[mid], outputs=[out]))
    return graph


def dangling(graph, ctx):
    import onnx_graphsurgeon as gs

    graph.nodes[0].inputs = [gs.Variable("nowhere", dtype=np.float32, shape=[2, 3])]
    return graph


CTX = PassContext("fam", "onnxruntime", ["y"])


def test_selection_by_family_request_and_order():
    passes = {
        "late": GraphPass("late", negate_output, order=90, families=("fam",)),
        "early": GraphPass("early", negate_output, order=10, families=("fam",)),
        "other_family": GraphPass("other_family", negate_output, families=("x",)),
        "on_request": GraphPass("on_request", negate_output, order=50),
        "ort_only": GraphPass("ort_only", negate_output, families=("fam",), backends=("openvino",)),
    }
    assert [p.name for p in select(passes, "fam", [], "onnxruntime")] == ["early", "late"]
    assert [p.name for p in select(passes, "fam", ["on_request"], "onnxruntime")] == ["early", "on_request", "late"]
    with pytest.raises(DeployError, match="unknown graph pass"):
        select(passes, "fam", ["nope"], "onnxruntime")


def test_pass_output_runs_in_onnxruntime():
    model = run_passes(relu_model(), [GraphPass("negate", negate_output)], CTX)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    x = np.array([[-1, 2, -3], [4, -5, 6]], np.float32)
    np.testing.assert_array_equal(sess.run(None, {"x": x})[0], -np.maximum(x, 0))


def test_pass_that_breaks_the_model_fails_by_name():
    with pytest.raises(DeployError, match="graph pass 'dangling' .*broke the model"):
        run_passes(relu_model(), [GraphPass("dangling", dangling, owner="test")], CTX)


def test_metadata_survives_passes():
    model = relu_model()
    entry = model.metadata_props.add()
    entry.key, entry.value = "k", "v"
    out = run_passes(model, [GraphPass("negate", negate_output)], CTX)
    assert {p.key: p.value for p in out.metadata_props} == {"k": "v"}
    onnx.checker.check_model(out)
