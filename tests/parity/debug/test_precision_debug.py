"""`deploy debug` at a lowered precision: with --fp16 it names the layer whose float16 output overflows (a planted
convolution whose activations leave float16's range) first among the layers adding the most error; on shapes Mask
R-CNN those layers carry finite own errors; an int8 artifact's worst layers name PyTorch modules."""
import json
import math

import pytest


def _debug(cli, folder, *args):
    result = cli("debug", folder, "--json", *args)
    assert result.out.strip().startswith("{"), result.err
    return result, json.loads(result.out)


@pytest.fixture
def overflow_artifact(cli, fake_plugin, tmp_path):
    fake_plugin("overflow", "db_test_overflow")
    out = tmp_path / "overflow"
    converted = cli("convert", "--plugin", "overflow", "--model", "overflow-net", "--out", out)
    assert converted.code == 0, converted.err  # float32 is fine: only float16 overflows
    return out


def _big_outputs_beyond_float16():
    """How many of ``big``'s outputs exceed float16's range in float32 PyTorch on the debug input (seed 1000)."""
    import db_test_overflow
    import torch

    net = db_test_overflow.build(0)
    x = torch.rand((1, 3, 32, 32), generator=torch.Generator().manual_seed(1000))
    with torch.no_grad():
        return int((net.big(torch.relu(net.stem(x))).abs() > 65504).sum())


def test_fp16_names_the_layer_that_overflows(cli, overflow_artifact):
    result, report = _debug(cli, overflow_artifact, "--fp16")
    assert result.code == 1, result.err  # an overflow diverges
    assert report["precision"] == "fp16" and report["reference"] == "onnxruntime-fp32"
    worst = report["worst_layers"]
    top = worst[0]
    assert (top["module"], top["op"]) == ("big", "Conv"), worst
    beyond = _big_outputs_beyond_float16()
    assert top["overflow"] > 0 and abs(top["overflow"] - beyond) <= 0.02 * beyond, (top["overflow"], beyond)
    # what follows it overflows too, but inherits the overflow: it adds nothing of its own
    for row in worst[1:]:
        assert row["module"] != "big" or row["op"] != "Conv"
        if row["overflow"]:
            assert row["own_error"] <= 0.0, row
    first = report["first_divergence"]["error"]
    assert (first["module"], first["op"]) == ("big", "Conv") and first["overflow"] == top["overflow"]


def test_fp16_mask_rcnn_worst_layers_are_arithmetic_not_selection(cli, tmp_path):
    """float16 moves shapes Mask R-CNN's RPN scores enough to select other proposals: everything computed from them
    compares other rows with other rows. That is handed on (divergence.passed_on), never a layer's own error: the
    worst layers are finite float16 rounding, none overflows."""
    out = tmp_path / "mrcnn"
    assert cli("convert", "--plugin", "torchvision", "--model", "shapes_maskrcnn", "--out", out).code == 0
    result, report = _debug(cli, out, "--fp16")
    assert result.code in (0, 1), result.err
    worst = report["worst_layers"]
    assert len(worst) == 10, worst
    for row in worst:
        assert math.isfinite(row["own_error"]) and math.isfinite(row["max_rel"]) and row["overflow"] == 0, row
        assert row["module"], row  # every ranked tensor names its module
    assert 1e-5 < worst[0]["own_error"] < 1e-2, worst[0]  # float16's rounding, not another proposal's box


def test_int8_artifact_worst_layers_name_modules(cli, tmp_path):
    """An int8 artifact is compared with PyTorch through the module scopes (Q/DQ nodes inherit the scope of the
    node feeding them): the layers adding the most error are named by module."""
    out = tmp_path / "int8"
    converted = cli("convert", "--plugin", "torchvision", "--model", "shapes_retinanet", "--int8", "--out", out)
    assert converted.code == 0, converted.err
    result, report = _debug(cli, out)
    assert report["precision"] == "int8" and report["reference"] == "pytorch", report["precision"]
    worst = report["worst_layers"]
    assert worst, "no worst layers for an int8 artifact"
    for row in worst:
        assert row["module"] and row["module"].startswith("model."), row
        assert math.isfinite(row["own_error"]) and row["overflow"] == 0, row
    # int8's error is far above float32's noise (8.8e-6 on this model's tensors)
    assert worst[0]["own_error"] > 1e-3, worst[0]
