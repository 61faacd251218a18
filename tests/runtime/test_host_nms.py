"""The host's NumPy NonMaxSuppression selects exactly what ONNX Runtime's NonMaxSuppression selects."""
import numpy as np
import pytest
from onnx import TensorProto, helper

from deploybridge.runtime.host_nms import non_max_suppression


def ort_nms(boxes, scores, max_out, iou, score_thr, center):
    import onnxruntime as ort

    inputs = [helper.make_tensor_value_info("boxes", TensorProto.FLOAT, None),
              helper.make_tensor_value_info("scores", TensorProto.FLOAT, None)]
    inits = [helper.make_tensor("max_out", TensorProto.INT64, [1], [max_out]),
             helper.make_tensor("iou", TensorProto.FLOAT, [1], [iou])]
    names = ["boxes", "scores", "max_out", "iou"]
    if score_thr is not None:
        inits.append(helper.make_tensor("thr", TensorProto.FLOAT, [1], [score_thr]))
        names.append("thr")
    node = helper.make_node("NonMaxSuppression", names, ["selected"], center_point_box=center)
    graph = helper.make_graph([node], "g", inputs, [helper.make_tensor_value_info("selected", TensorProto.INT64, None)],
                              initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"boxes": boxes, "scores": scores})[0]


@pytest.mark.parametrize("seed", range(6))
def test_same_selection_as_onnxruntime(seed):
    rng = np.random.default_rng(seed)
    batches, classes, n = 2, 3, 300
    xy = rng.uniform(0, 200, (batches, n, 2))
    wh = rng.uniform(1, 60, (batches, n, 2))
    boxes = np.concatenate([xy, xy + wh], axis=2).astype(np.float32)
    if seed % 2:
        boxes = boxes[..., [2, 1, 0, 3]]  # corners in the other order: the spec allows any diagonal
    scores = rng.uniform(0, 1, (batches, classes, n)).astype(np.float32)
    scores[0, 0, :20] = 0.5  # ties
    center = int(seed == 4)
    for max_out, iou, thr in [(50, 0.5, None), (1000, 0.3, 0.2), (5, 0.7, 0.9), (0, 0.5, None)]:
        got = non_max_suppression(boxes, scores, np.array([max_out]), np.array([iou], np.float32),
                                  None if thr is None else np.array([thr], np.float32), center)
        ref = ort_nms(boxes, scores, max_out, iou, thr, center)
        assert got.dtype == np.int64 and got.shape[1] == 3
        np.testing.assert_array_equal(got, ref, err_msg=f"max_out={max_out} iou={iou} thr={thr}")
