"""deploy inspect --trt-lint: each rule fires on a model built to trip it, and RetinaNet's NMS/NonZero are flagged."""
import json

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from deploybridge.lint.tensorrt import lint, support_table


def tricky_model():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 4])
    k = helper.make_tensor_value_info("k", TensorProto.INT64, [1])
    outs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("uniq", "top", "ended")]
    cond_out = helper.make_tensor_value_info("c", TensorProto.FLOAT, None)
    inner = helper.make_graph([helper.make_node("Identity", ["x"], ["c"])], "inner", [], [cond_out])
    outer = helper.make_graph([helper.make_node("If", ["flag"], ["c2"], then_branch=inner, else_branch=inner)], "outer", [],
                              [helper.make_tensor_value_info("c2", TensorProto.FLOAT, None)])
    nodes = [
        helper.make_node("Unique", ["x"], ["uniq"], name="unique"),
        helper.make_node("NonZero", ["x"], ["nz"], name="nonzero"),
        helper.make_node("TopK", ["x", "k"], ["top", "top_i"], name="topk_dynamic"),
        helper.make_node("Slice", ["x", "starts", "ends"], ["ended"], name="slice_to_end"),
        helper.make_node("ReduceSum", ["x"], ["s"], keepdims=0),
        helper.make_node("Greater", ["s", "zero"], ["flag"]),
        helper.make_node("If", ["flag"], ["nested"], name="outer_if", then_branch=outer, else_branch=outer),
    ]
    init = [numpy_helper.from_array(np.array([0], np.int64), "starts"),
            numpy_helper.from_array(np.array([2**62], np.int64), "ends"),
            numpy_helper.from_array(np.array(0.0, np.float32), "zero")]
    graph = helper.make_graph(nodes, "g", [x, k], outs, initializer=init)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_each_rule_fires():
    found = {(f.rule, f.node) for f in lint(tricky_model())}
    assert ("unsupported-op", "unique") in found
    assert ("data-dependent-shape", "nonzero") in found and ("data-dependent-shape", "unique") in found
    assert ("op-restriction", "topk_dynamic") in found
    assert ("dynamic-input", "x") in found and ("dynamic-input", "k") not in found
    assert ("int64-out-of-int32", "ends") in found  # one finding naming the constants
    depths = {f.node: f.severity for f in lint(tricky_model()) if f.rule == "control-flow"}
    assert depths["outer_if"] == "info" and "warning" in depths.values()  # the nested If is a warning
    assert support_table()["Conv"]["supported"] == "Y" and support_table()["Unique"]["supported"] == "N"


def test_retinanet_nms_and_nonzero_are_flagged(cli, tmp_path):
    out = tmp_path / "retina"
    assert cli("convert", "--plugin", "torchvision", "--model", "shapes_retinanet", "--out", out).code == 0
    result = cli("inspect", out, "--trt-lint", "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)["trt_lint"]
    flagged = {(f["rule"], f["op"]) for f in report["findings"]}
    assert ("data-dependent-shape", "NonMaxSuppression") in flagged and ("data-dependent-shape", "NonZero") in flagged
    nms = next(f for f in report["findings"] if f["op"] == "NonMaxSuppression")
    assert "truncate_before_nms" in nms["fix"]
    assert report["tensorrt"] == "10.0"
    table = cli("inspect", out, "--trt-lint")
    assert "TensorRT 10.0 lint" in table.out and "NonMaxSuppression" in table.out
