"""parity/debug/tensors.py: intermediate tensors read out of a graph with a host step (a --truncate-nms artifact's
HostNonMaxSuppression), on both sides of it, equal to a plain ONNX Runtime run of the untruncated graph."""
import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from deploybridge.convert.passes.nms import HOST_DOMAIN, HOST_NMS
from deploybridge.parity.debug.tensors import held_in, read_out, session_runner

INTERMEDIATE = ["boxes", "scores", "selected", "index", "flat", "kept"]


def _detector(host: bool):
    """boxes = 2 * boxes_in, scores = sigmoid(scores_in); NMS; the kept boxes gathered and halved after it."""
    f = TensorProto.FLOAT
    consts = [numpy_helper.from_array(np.array(2.0, np.float32), "two"), numpy_helper.from_array(np.array(0.5, np.float32), "half"),
              numpy_helper.from_array(np.array([5], np.int64), "max_out"), numpy_helper.from_array(np.array([0.5], np.float32), "iou"),
              numpy_helper.from_array(np.array([0.3], np.float32), "score_thr"), numpy_helper.from_array(np.array(2, np.int64), "col"),
              numpy_helper.from_array(np.array([0], np.int64), "axis0")]
    nms = helper.make_node(HOST_NMS if host else "NonMaxSuppression", ["boxes", "scores", "max_out", "iou", "score_thr"],
                           ["selected"], name="/nms", **({"domain": HOST_DOMAIN} if host else {}))
    nodes = [helper.make_node("Mul", ["boxes_in", "two"], ["boxes"], name="/pre/Mul"),
             helper.make_node("Sigmoid", ["scores_in"], ["scores"], name="/pre/Sigmoid"), nms,
             helper.make_node("Gather", ["selected", "col"], ["index"], name="/post/Gather", axis=1),
             helper.make_node("Squeeze", ["boxes", "axis0"], ["flat"], name="/post/Squeeze"),
             helper.make_node("Gather", ["flat", "index"], ["kept"], name="/post/Gather_1", axis=0),
             helper.make_node("Mul", ["kept", "half"], ["out"], name="/post/Mul")]
    graph = helper.make_graph(nodes, "detector", [helper.make_tensor_value_info("boxes_in", f, [1, 12, 4]),
                                                 helper.make_tensor_value_info("scores_in", f, [1, 1, 12])],
                              [helper.make_tensor_value_info("out", f, None)], initializer=consts)
    opsets = [helper.make_opsetid("", 17)] + ([helper.make_opsetid(HOST_DOMAIN, 1)] if host else [])
    return helper.make_model(graph, opset_imports=opsets)


def _feed():
    rng = np.random.default_rng(0)
    corner = rng.uniform(0, 20, (1, 12, 2)).astype(np.float32)
    boxes = np.concatenate([corner, corner + rng.uniform(2, 10, (1, 12, 2)).astype(np.float32)], axis=2)
    return {"boxes_in": boxes, "scores_in": rng.normal(0, 2, (1, 1, 12)).astype(np.float32)}


def _plain_ort(model, feed, names):
    """Every named tensor of ``model`` (untruncated), by one ONNX Runtime session with them as outputs."""
    for name in names:
        kind = TensorProto.INT64 if name in ("selected", "index") else TensorProto.FLOAT
        model.graph.output.append(helper.make_tensor_value_info(name, kind, None))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    outputs = [o.name for o in session.get_outputs()]
    return dict(zip(outputs, session.run(outputs, feed)))


def test_tensors_on_both_sides_of_a_host_step_equal_a_plain_onnxruntime_run():
    feed = _feed()
    expected = _plain_ort(_detector(host=False), feed, INTERMEDIATE)
    assert 0 < len(expected["selected"]) < 12  # the NMS drops some boxes and keeps some: the host step matters
    steps: list[str] = []
    got = read_out(_detector(host=True), feed, on_step=steps.append)
    assert set(got) == {*INTERMEDIATE, "out"}
    for name in [*INTERMEDIATE, "out"]:
        assert got[name].shape == expected[name].shape, name
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)
    assert len(steps) == 2  # an engine segment before the host step and one after


def test_only_the_named_tensors_and_the_outputs_are_read_out():
    feed = _feed()
    marked: list[list[str]] = []  # each engine segment's outputs: what was marked to be read out

    def engine(path, segment_feed):
        marked.append([o.name for o in onnx.load(str(path)).graph.output])
        return session_runner()(path, segment_feed)

    got = read_out(_detector(host=True), feed, names={"scores", "kept"}, engine=engine)
    assert set(got) == {"scores", "kept", "out"}
    # the segments' own outputs (what the host step, the next segment and the graph need) plus "kept"; never index
    assert [sorted(m) for m in marked] == [["boxes", "flat", "scores"], ["kept", "out"]]
    expected = _plain_ort(_detector(host=False), feed, ["scores", "kept"])
    np.testing.assert_array_equal(got["kept"], expected["kept"])


def test_held_in_finds_a_float16_chain_s_own_tensor():
    nodes = [helper.make_node("Cast", ["x"], ["a_fp16"], to=TensorProto.FLOAT16),  # a's Cast back was cleaned up
             helper.make_node("Relu", ["a_fp16"], ["b"]),
             helper.make_node("Neg", ["b"], ["c_fp16"]), helper.make_node("Cast", ["c_fp16"], ["c"], to=TensorProto.FLOAT)]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                              [helper.make_tensor_value_info("b", TensorProto.FLOAT16, [2])])
    held = held_in(helper.make_model(graph), ["a", "b", "c", "gone"])
    assert held == {"a": "a_fp16", "b": "b", "c": "c"}  # c's float32 value is still there: that one
