"""name_outputs / order_outputs: declared names in the declared order, whatever the export did."""
import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from deploybridge.errors import DeployError
from deploybridge.convert.pass_runner import PassContext, run_passes
from deploybridge.records import GraphPass
from deploybridge.convert.passes.outputs import name_outputs, order_outputs


def two_outputs(names=("a", "b")):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])
    outs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [2]) for n in names]
    nodes = [helper.make_node("Relu", ["x"], [names[0]]), helper.make_node("Neg", ["x"], [names[1]])]
    return helper.make_model(helper.make_graph(nodes, "g", [x], outs), opset_imports=[helper.make_opsetid("", 17)])


ORDER = GraphPass("order_outputs", order_outputs)
NAME = GraphPass("name_outputs", name_outputs)


def test_order_restores_declared_order_and_names_follow_position():
    model = run_passes(two_outputs(("b", "a")), [ORDER], PassContext("f", "onnxruntime", ["a", "b"]))
    assert [o.name for o in model.graph.output] == ["a", "b"]
    renamed = run_passes(two_outputs(("boxes.35", "scores.2")), [NAME, ORDER], PassContext("f", "onnxruntime", ["boxes", "scores"]))
    assert [o.name for o in renamed.graph.output] == ["boxes", "scores"]
    assert [n.op_type for n in renamed.graph.node if "boxes" in n.output] == ["Relu"]  # boxes is still the first output's value


def test_mismatches_fail_by_name():
    with pytest.raises(DeployError, match="order_outputs.*missing: c"):
        run_passes(two_outputs(), [ORDER], PassContext("f", "onnxruntime", ["a", "c"]))
    with pytest.raises(DeployError, match="name_outputs: the graph has 2 outputs"):
        run_passes(two_outputs(), [NAME], PassContext("f", "onnxruntime", ["a", "b", "c"]))


@pytest.mark.parametrize("scramble", ["reverse_outputs", "mangle_output_names"])
def test_convert_restores_what_a_scrambling_pass_did(cli, fake_plugin, tmp_path, scramble):
    import onnxruntime as ort

    fake_plugin("scramble", "db_test_scramble")
    out = tmp_path / "art"
    result = cli("convert", "--model", "shapes_maskrcnn", "--family", "torchvision", "--pass", scramble, "--out", out)
    assert result.code == 0, result.err
    declared = ["boxes", "scores", "labels", "masks"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert [o["name"] for o in manifest["outputs"]] == declared
    assert manifest["passes"][-3:] == [scramble, "name_outputs", "order_outputs"]
    session = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == declared
    assert cli("verify", out).code == 0


def test_scrambled_without_the_passes_is_caught_by_name(tmp_path):
    """Without order_outputs the file's order is the scrambled one; verification looks outputs up by name."""
    model = run_passes(two_outputs(), [GraphPass("rev", lambda g, c: (setattr(g, "outputs", g.outputs[::-1]), g)[1])],
                       PassContext("f", "onnxruntime", ["a", "b"]))
    assert [o.name for o in model.graph.output] == ["b", "a"]
    onnx.checker.check_model(model)
    import onnxruntime as ort

    got = dict(zip(["b", "a"], ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(
        None, {"x": np.array([1.0, -1.0], np.float32)})))
    np.testing.assert_array_equal(got["a"], [1.0, 0.0])
