"""The precision search's sensitivity is `deploy debug`'s own error: the same reader, measure and ranking. A
convolution whose float16 output overflows is the most sensitive node, and every node scores what debug's worst
layers give its tensor."""
from __future__ import annotations

import numpy as np


def _overflowing_graph():
    """x -> conv1 -> relu1 -> big -> relu2 -> small -> y: big's outputs reach about 1e5 (float16 stops at 65504),
    small brings them back; every op is a float16 op, so the float16 graph is one chain."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w1 = rng.normal(size=(8, 3, 3, 3)).astype(np.float32) * 0.3
    big = np.abs(rng.normal(size=(8, 8, 3, 3))).astype(np.float32) * 5000.0
    small = rng.normal(size=(4, 8, 1, 1)).astype(np.float32) * 2e-4
    inits = [numpy_helper.from_array(a, n) for a, n in ((w1, "w1"), (big, "w_big"), (small, "w_small"))]
    nodes = [helper.make_node("Conv", ["x", "w1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             helper.make_node("Conv", ["r1", "w_big"], ["c2"], name="big", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
             helper.make_node("Conv", ["r2", "w_small"], ["y"], name="small")]
    graph = helper.make_graph(nodes, "overflow", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_sensitivity_is_debugs_own_error_and_ranks_the_overflow_first(tmp_path):
    import onnx

    from deploybridge.convert.precision_groups import sensitivity
    from deploybridge.convert.precision_search import _lower
    from deploybridge.parity.debug import divergence, search
    from deploybridge.parity.debug.tensors import held_in

    model = _overflowing_graph()
    fp32_path, lowered_path = tmp_path / "fp32.onnx", tmp_path / "fp16.onnx"
    onnx.save(model, str(fp32_path))
    _lower("fp16", fp32_path, lowered_path, [], None, tmp_path, False)
    feed = {"x": np.random.default_rng(1).random((1, 3, 8, 8), dtype=np.float32)}
    scores = sensitivity(model, fp32_path, lowered_path, ["conv1", "relu1", "big", "relu2", "small"], feed)
    ranked = sorted(scores, key=lambda n: -scores[n])
    assert ranked[0] == "big" and scores["big"] == divergence.OVERFLOWED, scores
    assert scores["relu2"] == 0.0  # overflows too, inherited: nothing of its own
    assert 0.0 < scores["conv1"] < 1e-2  # float16 rounding
    # the same numbers as deploy debug's worst layers on the same two graphs
    lowered = onnx.load(str(lowered_path))
    errors, _ = search.compare_with_fp32(lowered, model, {}, feed, None, None, 1e-3, 1e-6)
    rows = search.own_errors(lowered, errors, list(feed), top=100)
    assert rows[0]["node"] == "big" and rows[0]["overflow"] > 0
    debug = {r["tensor"]: r["own_error"] for r in rows}
    outputs = {n.name: n.output[0] for n in model.graph.node}
    held = held_in(lowered, outputs.values())  # a float16 chain's tensors are <name>_fp16 in the lowered graph
    assert {held[outputs[node]] for node in scores} == set(debug), (debug, scores)
    for node, score in scores.items():
        assert debug[held[outputs[node]]] == score, (node, score, debug)
