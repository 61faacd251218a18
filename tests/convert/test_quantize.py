"""--int8: static QDQ quantization on ONNX Runtime, calibration inputs, the one-line errors."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from conftest import assert_one_line_error
from int8_retinanet import converted


def test_int8_shapes_retinanet_converts_verifies_and_records_delta_ap():
    result = converted()
    m = result.manifest
    assert result.passed and m["verified"], m["verification"]["summary"]
    precision = m["precision"]
    assert precision["mode"] == "int8" and precision["passed"]
    # the artifact is int8: QuantizeLinear/DequantizeLinear pairs around the lowered nodes
    import onnx

    ops = [n.op_type for n in onnx.load(str(result.artifact / "model.onnx")).graph.node]
    assert ops.count("QuantizeLinear") > 50 and ops.count("DequantizeLinear") > 50
    # ΔAP recorded for both, within its bound: int8 1 AP point, float32 0.1
    delta = m["evaluation"]["delta"]["onnxruntime:box_ap"]
    assert m["evaluation"]["max_delta"] == 0.01 and abs(delta) <= 0.01, delta
    cmp = precision["comparison"]
    assert abs(cmp["fp32"]["delta_ap"]["onnxruntime:box_ap"]) <= 0.001
    assert cmp["int8"]["delta_ap"]["onnxruntime:box_ap"] == delta
    assert cmp["fp32"]["median_ms"] > 0 and cmp["int8"]["median_ms"] > 0 and cmp["speedup"] > 0
    # task parity gates: confident objects (score >= 0.5) matched, boxes within 4 px, scores within 0.1
    for check in m["verification"]["details"]["inputs"]:
        metrics = check["task"]["metrics"]
        assert check["task"]["passed"] and metrics["max_box_deviation_px"] <= 4.0 and metrics["max_score_deviation"] <= 0.1
    assert m["task_tolerances"]["min_compared_score"] == 0.5


def test_int8_artifact_passes_deploy_verify(cli):
    result = converted()
    again = cli("verify", result.artifact)
    assert again.code == 0, again.out + again.err
    assert "tensor parity (int8): reported, not a gate" in again.out


def test_calibration_from_a_folder_of_images(tmp_path):
    from deploybridge.convert.quantize import calibration
    from deploybridge.convert.resolve import load_model, resolve_family
    from deploybridge.evaluation.datasets.shapes import validation_image
    from deploybridge.plugins import Host
    from deploybridge.records import ModelSpec
    from deploybridge.runtime.image_io import to_input

    spec = ModelSpec(family="", model="shapes_retinanet")
    loaded = load_model(resolve_family(Host(only=["torchvision"]), spec, "torchvision"), spec)
    pixels = [validation_image(k, 160) for k in range(8)]  # not the model's 192: fed through its own resize
    for k, p in enumerate(pixels):
        Image.fromarray(p).save(tmp_path / f"{k}.png")
    (tmp_path / "notes.txt").write_text("not an image")
    calib = calibration(loaded, 0, tmp_path)
    assert len(calib.feeds) == 8 and "8 images from" in calib.source
    for feed, p in zip(calib.feeds, pixels):
        expected, _ = to_input(p, (1, 3, 192, 192), loaded.preprocessing)  # what `deploy run` feeds
        assert feed["images"].shape == (1, 3, 192, 192)
        assert np.array_equal(feed["images"], expected)
    seeded = calibration(loaded, 0, None)
    assert len(seeded.feeds) == 8 and not np.array_equal(seeded.feeds[0]["images"], calib.feeds[0]["images"])


@pytest.mark.parametrize("make, said", [("missing", "no such folder"), ("empty", "no image files"),
                                        ("too few", "3 image(s); int8 calibration needs at least 8"),
                                        ("wrong size", "is 192x48, this model takes 192x192")])
def test_bad_calibration_folder_is_one_line(cli, tmp_path, make, said):
    folder = tmp_path / "calib"
    if make != "missing":
        folder.mkdir()
    for k in range({"too few": 3, "wrong size": 8}.get(make, 0)):
        Image.fromarray(np.full((192, 192 if make == "too few" or k else 48, 3), 90, np.uint8)).save(folder / f"{k}.png")
    result = cli("convert", "--plugin", "torchvision", "--model", "shapes_retinanet", "--int8", "--calibration", folder,
                 "--out", tmp_path / "art")
    assert_one_line_error(result, 2, said)
    assert not (tmp_path / "art").exists()


def test_int8_on_a_backend_without_int8_is_one_line(cli, tmp_path):
    result = cli("convert", "--plugin", "torchvision", "--model", "shapes_retinanet", "--int8", "--backend", "torchscript",
                 "--out", tmp_path / "art")
    assert_one_line_error(result, 2, "does not take --int8")


def test_calibration_without_int8_is_one_line(cli, tmp_path):
    result = cli("convert", "--plugin", "torchvision", "--model", "shapes_retinanet", "--calibration", tmp_path,
                 "--out", tmp_path / "art")
    assert_one_line_error(result, 2, "--calibration is for --int8")


def test_quantizable_ops_of_a_graph_with_host_steps_are_those_before_them(cli, tmp_path):
    """A --truncate-nms graph: the ops before the host NMS are quantizable, those after it are not (they were all
    missed once: the nodes after the host steps were compared by id() of wrappers already freed)."""
    import onnx

    from deploybridge.convert.quantize import after_host_steps, quantizable

    out = tmp_path / "tn"
    assert cli("convert", "--plugin", "torchvision", "--model", "shapes_maskrcnn", "--truncate-nms", "--out", out).code == 0
    model = onnx.load(str(out / "model.onnx"))
    found, after = set(quantizable(model)), {n.name for n in after_host_steps(model)}
    assert len(found) > 100 and not found & after
    assert "/model/backbone/stem/stem.0/stem.0.0/Conv" in found


@pytest.mark.parametrize("opset", [11, 13])
def test_int8_below_opset_13_quantizes_weights_per_tensor_and_loads(tmp_path, monkeypatch, opset):
    """DequantizeLinear has an axis from opset 13 only; onnxruntime's quantizer writes one at any opset, so a
    per-channel int8 model exported at --opset 11 (SOLO R50, MMDeploy's opset) did not load. Planted: per channel at
    opset 11 -> 'Unrecognized attribute: axis'."""
    import onnx
    import onnxruntime as ort
    import torch

    from deploybridge.convert import quantize as q

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.Conv2d(8, 4, 1)).eval()
    path = tmp_path / "fp32.onnx"
    torch.onnx.export(net, (torch.rand(1, 3, 16, 16),), str(path), opset_version=opset, input_names=["x"], dynamo=False)
    rng = np.random.default_rng(0)
    calib = q.Calibration([{"x": rng.random((1, 3, 16, 16), np.float32)} for _ in range(4)], "test")

    def quantized(name):
        out = tmp_path / name
        q.quantize(path, out, calib, [], tmp_path / f"scratch-{name}")
        return out

    model = onnx.load(str(quantized("int8.onnx")))
    axes = [a for n in model.graph.node if n.op_type == "DequantizeLinear" for a in n.attribute if a.name == "axis"]
    assert bool(axes) == (opset >= 13) and [o.version for o in model.opset_import if o.domain == ""] == [opset]
    ort.InferenceSession(str(tmp_path / "int8.onnx"), providers=["CPUExecutionProvider"])
    if opset < 13:
        monkeypatch.setattr(q, "per_channel_allowed", lambda model: True)
        with pytest.raises(Exception, match="axis"):
            ort.InferenceSession(str(quantized("planted.onnx")), providers=["CPUExecutionProvider"])
