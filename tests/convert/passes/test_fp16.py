"""to_fp16: float16 convolutions, float32 post-processing and I/O, task parity kept."""
import json

import numpy as np
import onnx
from onnx import TensorProto

from deploybridge.convert.onnx_io import iter_nodes
from deploybridge.convert.passes.fp16 import FP16_OPS


def _types(model) -> dict[str, int]:
    inferred = onnx.shape_inference.infer_shapes(model)
    values = list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output)
    types = {v.name: v.type.tensor_type.elem_type for v in values}
    types.update({i.name: i.data_type for i in model.graph.initializer})
    return types


def test_detector_runs_convolutions_in_fp16_and_keeps_post_processing_fp32(cli, tmp_path):
    out = tmp_path / "fp16"
    result = cli("convert", "--plugin", "torchvision", "--model", "shapes_maskrcnn", "--fp16", "--out", out)
    assert result.code == 0, result.err
    manifest = json.loads((out / "manifest.json").read_text())
    assert "to_fp16" in manifest["passes"] and manifest["verification"]["passed"]
    assert {i["dtype"] for i in manifest["inputs"]} == {"float32"} and "float16" not in {o["dtype"] for o in manifest["outputs"]}
    model = onnx.load(str(out / "model.onnx"))
    types = _types(model)
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    assert convs and all(types.get(n.input[1]) == TensorProto.FLOAT16 for n in convs)
    # nothing outside FP16_OPS (and the boundary Casts) reads a float16 tensor, inside subgraphs neither
    for node in iter_nodes(model.graph):
        if node.op_type not in FP16_OPS and node.op_type != "Cast":
            assert not [i for i in node.input if types.get(i) == TensorProto.FLOAT16], (node.op_type, node.name)
    # detections are the same objects: the task tolerances are not loosened for float16
    for check in manifest["verification"]["details"]["inputs"]:
        metrics = check["task"]["metrics"]
        assert metrics["matched_fraction"] == 1.0 and metrics["max_box_deviation_px"] <= 1.0 and metrics["min_mask_iou"] >= 0.9
    assert manifest["task_tolerances"]["max_box_deviation_px"] == 1.0


def test_fp16_io_takes_float32_callers(cli, tmp_path):
    import onnxruntime as ort

    out = tmp_path / "fp16io"
    result = cli("convert", "--plugin", "torchvision", "--model", "mobilenet_v3_small", "--random-weights", "--fp16-io", "--out", out)
    assert result.code == 0, result.err
    session = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    assert [i.type for i in session.get_inputs()] == ["tensor(float16)"] and [o.name for o in session.get_outputs()] == ["logits"]
    assert session.get_outputs()[0].type == "tensor(float16)"
    manifest = json.loads((out / "manifest.json").read_text())
    assert all(c["task"]["metrics"]["top1_agreement"] == 1.0 for c in manifest["verification"]["details"]["inputs"])
    assert cli("verify", out).code == 0  # the backend casts the float32 verification inputs to float16


def test_tolerances_are_scaled_from_the_measured_float32_floor(cli, tmp_path):
    from deploybridge.parity.noise_floor import FLOAT16_OVER_FLOAT32

    for name, flags in (("fp32", []), ("fp16", ["--fp16"])):
        assert cli("convert", "--plugin", "torchvision", "--model", "mobilenet_v3_small", "--random-weights", *flags,
                   "--out", tmp_path / name).code == 0
    floors = {n: json.loads((tmp_path / n / "manifest.json").read_text())["tolerances"]["logits"]["noise_floor"] for n in ("fp32", "fp16")}
    assert np.isclose(floors["fp16"], floors["fp32"] * FLOAT16_OVER_FLOAT32)
