"""The TensorRT backend. Without TensorRT (every machine without an NVIDIA GPU, CI included): `--backend tensorrt`
exits 2 with the install hint, the lint refuses a graph before any build, and the pure helpers (profiles, dtypes,
outputs by name) are checked with numbers. With TensorRT: real engines are built and compared with ONNX Runtime."""
from __future__ import annotations

import json
import sys
from types import SimpleNamespace

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from conftest import assert_one_line_error
from deploybridge.errors import DeployError
from deploybridge.runtime.backends import tensorrt as trt_backend
from deploybridge.runtime.backends.tensorrt_engine import check_outputs, network_flags


def requires_tensorrt():
    reason = trt_backend.BACKEND.unavailable()
    if reason:
        pytest.skip(f"TensorRT not installed: {reason}")


def model_with(nodes, inputs, outputs, path, initializers=()):
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(path))
    return model


def image_input(dims):
    return helper.make_tensor_value_info("images", TensorProto.FLOAT, dims)


# -- without TensorRT ------------------------------------------------------------------------------------------------
def test_backend_tensorrt_without_tensorrt_exits_2_with_the_hint(cli, tmp_path):
    if trt_backend.BACKEND.unavailable() is None:
        pytest.skip("TensorRT is installed here: the not-installed path cannot be shown")
    out = tmp_path / "trt"
    result = cli("convert", "--plugin", "torchvision", "--model", "shapes_retinanet", "--backend", "tensorrt", "--out", out)
    assert_one_line_error(result, 2, "backend 'tensorrt' is not usable here")
    assert "pip install tensorrt" in result.err and "NVIDIA GPU" in result.err
    assert not out.exists()


def test_lint_refuses_before_any_build(tmp_path):
    """Unique is not imported by TensorRT's parser: the build stops at the lint with its finding, in one line, before
    TensorRT is needed (without the lint first this would be an ImportError, or a parser error on a GPU machine)."""
    x = image_input([4])
    path = tmp_path / "model.onnx"
    model_with([helper.make_node("Unique", ["images"], ["u"], name="unique_node")], [x],
               [helper.make_tensor_value_info("u", TensorProto.FLOAT, None)], path)
    with pytest.raises(DeployError) as refused:
        trt_backend.BACKEND.build(path, tmp_path, {})
    line = str(refused.value)
    assert "unique_node (Unique)" in line and "--trt-lint" in line and "\n" not in line
    assert list(tmp_path.iterdir()) == [path]  # nothing built


def test_a_clean_graph_passes_the_lint_and_reaches_tensorrt(tmp_path):
    """The lint only blocks what TensorRT refuses: a Relu model gets past it and the profile checks to the engine build."""
    if trt_backend.BACKEND.unavailable() is None:
        pytest.skip("TensorRT is installed here: the build would succeed (test_engine_matches_onnxruntime)")
    path = tmp_path / "model.onnx"
    model_with([helper.make_node("Relu", ["images"], ["y"])], [image_input([1, 3, 8, 8])],
               [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 8, 8])], path)
    with pytest.raises(ImportError, match="tensorrt"):
        trt_backend.BACKEND.build(path, tmp_path, {})


def test_profile_shapes_from_the_dynamic_record(tmp_path):
    model = model_with([helper.make_node("Relu", ["images"], ["y"])], [image_input([1, 3, "height", "width"])],
                       [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], tmp_path / "m.onnx")
    inputs = trt_backend.input_dims(model)
    assert inputs == [("images", [1, 3, "height", "width"])]
    dynamic = {"axes": ["height", "width"], "min": [1, 3, 160, 128], "opt": [1, 3, 192, 192], "max": [1, 3, 288, 320]}
    shapes = trt_backend.profile_shapes(inputs, trt_backend.profile_ranges({"dynamic": dynamic}, "images"))
    assert shapes == {"images": ((1, 3, 160, 128), (1, 3, 192, 192), (1, 3, 288, 320))}
    # fixed inputs need no profile; explicit profiles win over the --dynamic record
    assert trt_backend.profile_shapes([("x", [1, 3, 8, 8])], {}) == {}
    given = {"images": {"min": [1, 3, 32, 32], "opt": [1, 3, 64, 64], "max": [1, 3, 96, 96]}}
    assert trt_backend.profile_ranges({"profiles": given, "dynamic": dynamic}, "images")["images"]["max"] == [1, 3, 96, 96]


def test_build_takes_the_profile_from_the_dynamic_record(tmp_path):
    """What convert passes for a --dynamic export (the pipeline adds preprocessing.dynamic to the build options):
    without it the free dims are refused by name; with it the build gets past the profile to TensorRT itself."""
    path = tmp_path / "model.onnx"
    model_with([helper.make_node("Relu", ["images"], ["y"])], [image_input(["batch", 3, "height", "width"])],
               [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], path)
    with pytest.raises(DeployError, match="free dimension.s. batch, height, width"):
        trt_backend.BACKEND.build(path, tmp_path, {})
    if trt_backend.BACKEND.unavailable() is None:
        pytest.skip("TensorRT is installed here: the engine tests build it")
    dynamic = {"axes": ["batch", "height", "width"], "min": [1, 3, 32, 32], "opt": [1, 3, 64, 64], "max": [4, 3, 96, 96]}
    with pytest.raises(ImportError, match="tensorrt"):
        trt_backend.BACKEND.build(path, tmp_path, {"dynamic": dynamic})


@pytest.mark.parametrize("inputs, profiles, says", [
    ([("images", [1, 3, "height", 64])], {}, "free dimension(s) height"),
    ([("2730", [None, 3])], {}, "data-dependent dimension(s) dim 0"),
    ([("x", None)], {}, "no shape"),
    ([("images", [1, 3, "h", 64])], {"images": {"min": [1, 3, 8, 32], "opt": [1, 3, 8, 64], "max": [1, 3, 8, 64]}},
     "changes dim 3, which the ONNX fixes at 64"),
    ([("images", [1, 3, "h", 64])], {"images": {"min": [1, 3, 9, 64], "opt": [1, 3, 8, 64], "max": [1, 3, 8, 64]}},
     "not 0 <= min <= opt <= max"),
])
def test_profile_shapes_refusals(inputs, profiles, says):
    with pytest.raises(DeployError, match=None) as refused:
        trt_backend.profile_shapes(inputs, profiles)
    assert says in str(refused.value)


def test_dtype_mapping():
    assert trt_backend.numpy_dtype("DataType.HALF") == "float16"
    assert {n: trt_backend.numpy_dtype(n) for n in ("FLOAT", "INT64", "INT32", "BOOL", "UINT8", "INT8")} == {
        "FLOAT": "float32", "INT64": "int64", "INT32": "int32", "BOOL": "bool", "UINT8": "uint8", "INT8": "int8"}
    with pytest.raises(DeployError, match="BF16 has no NumPy equivalent"):
        trt_backend.numpy_dtype("BF16")


def test_outputs_are_found_by_name_not_position():
    """Seed 001: TensorRT listed SOLO's outputs in another order than the ONNX. Order does not matter, names do."""
    check_outputs(["masks", "scores", "labels"], ["labels", "masks", "scores"])
    with pytest.raises(DeployError, match="no output scores"):
        check_outputs(["masks", "scores"], ["masks", "output_1"])


def test_network_is_strongly_typed_in_tensorrt_10_and_11():
    # TensorRT 10 and 11 both expose STRONGLY_TYPED (11: deprecated, always on); EXPLICIT_BATCH is never set
    trt10 = SimpleNamespace(NetworkDefinitionCreationFlag=SimpleNamespace(EXPLICIT_BATCH=0, STRONGLY_TYPED=1))
    assert network_flags(trt10) == 1 << 1
    assert network_flags(SimpleNamespace(NetworkDefinitionCreationFlag=SimpleNamespace())) == 0


# -- with TensorRT (skipped here, with the reason) ----------------------------------------------------------------
def test_engine_matches_onnxruntime_and_handles_data_dependent_outputs(tmp_path):
    """NonZero's output size is known only at run time (the output allocator), including zero rows; outputs come
    back by name and equal ONNX Runtime's."""
    requires_tensorrt()
    import onnxruntime as ort

    x = image_input([2, 5])
    nodes = [helper.make_node("Relu", ["images"], ["relu"]), helper.make_node("NonZero", ["relu"], ["nz"])]
    path = tmp_path / "model.onnx"
    model_with(nodes, [x], [helper.make_tensor_value_info("nz", TensorProto.INT64, [2, None]),
                            helper.make_tensor_value_info("relu", TensorProto.FLOAT, [2, 5])], path)
    files = trt_backend.BACKEND.build(path, tmp_path, {})
    assert files == ["model.engine", "model.timing_cache"] and (tmp_path / "model.engine").stat().st_size > 0
    runner = trt_backend.BACKEND.load(tmp_path, {}, {})
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for feed in (np.array([[1, -2, 3, 0, 5], [-1, 2, -3, 4, 0]], np.float32), -np.ones((2, 5), np.float32)):
        got = runner({"images": feed})
        want = dict(zip(["nz", "relu"], session.run(["nz", "relu"], {"images": feed})))
        assert sorted(got) == ["nz", "relu"]
        np.testing.assert_array_equal(got["nz"], want["nz"])  # (2, 0) for the all-negative input
        np.testing.assert_allclose(got["relu"], want["relu"], atol=0)


def test_convert_retinanet_verifies_on_tensorrt(cli, tmp_path):
    requires_tensorrt()
    out = tmp_path / "trt"
    result = cli("convert", "--plugin", "torchvision", "--model", "shapes_retinanet", "--backend", "tensorrt", "--out", out)
    assert result.code == 0, result.err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["backend"]["files"] == ["model.engine", "model.timing_cache"] and manifest["verified"] is True
    assert "tensorrt" in manifest["versions"] and sys.modules.get("tensorrt") is not None
