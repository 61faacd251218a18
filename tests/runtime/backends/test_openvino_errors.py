"""OpenVINO's refusals of real ONNX graphs, each as one line naming the op or input and what to do
(the Mask R-CNN Loop refusal is in test_openvino.py, on the real conversion)."""
import numpy as np
import pytest

pytest.importorskip("openvino", reason="openvino is not installed: `pip install openvino` (the Makefile installs it)")

from deploybridge.errors import DeployError  # noqa: E402
from deploybridge.runtime.backends.openvino import read_and_compile  # noqa: E402


def _save(path, nodes, inputs, outputs, initializers=(), domains=()):
    import onnx
    from onnx import helper

    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(initializers))
    opsets = [helper.make_opsetid("", 17)] + [helper.make_opsetid(d, 1) for d in domains]
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(helper.make_model(graph, opset_imports=opsets), str(path))
    return path


def _refusal(path) -> str:
    with pytest.raises(DeployError) as caught:
        read_and_compile(path, {})
    message = str(caught.value)
    assert "\n" not in message and "Exception from src" not in message  # one line, no OpenVINO frames
    return message


def test_an_op_without_converter_is_named(tmp_path):
    from onnx import TensorProto, helper

    io = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 4]) for n in ("x", "y")]
    path = _save(tmp_path / "custom.onnx", [helper.make_node("Frobnicate", ["x"], ["y"], domain="my.domain")],
                 io[:1], io[1:], domains=["my.domain"])
    message = _refusal(path)
    assert "no converter for my.domain.Frobnicate" in message and "--backend onnxruntime" in message


@pytest.mark.parametrize("folder, fix", [("plain", "declare the input's rank"), ("segments/1", "re-run `deploy convert`")])
def test_an_unranked_conv_input_is_named(tmp_path, folder, fix):
    """Segments cut before segments.py declared ranks have unranked inputs, which OpenVINO's Conv refuses."""
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.ones((2, 3, 3, 3), np.float32), "w")
    path = _save(tmp_path / folder / "model.onnx", [helper.make_node("Conv", ["x", "w"], ["y"])],
                 [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)],
                 [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [weight])
    message = _refusal(path)
    assert "input x has no declared rank" in message and fix in message
