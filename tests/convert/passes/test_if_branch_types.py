"""fix_if_branch_types: Detectron2's paste-masks If (bool vs uint8 branches) is refused by ONNX Runtime before the pass
and runs with parity after it."""
import io
import warnings

import numpy as np
import onnx
import pytest

from deploybridge.convert.pass_runner import PassContext, run_passes
from deploybridge.records import GraphPass
from deploybridge.convert.passes.if_branch_types import fix_if_branch_types


def paste_masks_model():
    """The detectron2#4907 pattern: no detections -> uint8 zeros, else a bool threshold."""
    import torch

    @torch.jit.script
    def threshold_masks(masks: torch.Tensor) -> torch.Tensor:
        if masks.shape[0] == 0:
            return torch.zeros(masks.shape, dtype=torch.uint8)
        return masks >= 0.5

    class Paste(torch.nn.Module):
        def forward(self, masks):
            return threshold_masks(torch.sigmoid(masks))

    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Paste(), (torch.randn(3, 8, 8),), buffer, dynamo=False, opset_version=17,
                          input_names=["masks"], output_names=["binary"], dynamic_axes={"masks": {0: "n"}})
    return onnx.load_from_string(buffer.getvalue())


def _session(model):
    import onnxruntime as ort

    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def test_refused_before_and_equal_after():
    import torch

    model = paste_masks_model()
    branches = [n for n in model.graph.node if n.op_type == "If"]
    assert branches, "the export no longer writes an If: this test needs another reproducer"
    with pytest.raises(Exception, match="(?i)type"):
        _session(model)
    fixed = run_passes(model, [GraphPass("fix_if_branch_types", fix_if_branch_types)], PassContext("f", "onnxruntime", ["binary"]))
    session = _session(fixed)
    for n in (4, 1):
        masks = torch.randn(n, 8, 8, generator=torch.Generator().manual_seed(n))
        got = session.run(None, {"masks": masks.numpy()})[0]
        np.testing.assert_array_equal(got, (torch.sigmoid(masks) >= 0.5).numpy())
    empty = session.run(None, {"masks": np.zeros((0, 8, 8), np.float32)})[0]
    assert empty.shape == (0, 8, 8) and empty.dtype == np.bool_


def test_agreeing_branches_are_left_alone():
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])
    model = helper.make_model(helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y]),
                              opset_imports=[helper.make_opsetid("", 17)])
    out = run_passes(model, [GraphPass("fix_if_branch_types", fix_if_branch_types)], PassContext("f", "onnxruntime", ["y"]))
    assert [n.op_type for n in out.graph.node] == ["Relu"]
