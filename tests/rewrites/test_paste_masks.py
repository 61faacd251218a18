"""torchvision's paste masks: a Loop (refused by OpenVINO) without the rewrite; loop-free and the same masks with it."""

import numpy as np
import pytest

from conftest import export_with_rewrites
from deploybridge_rewrites.paste_masks import REWRITE
from deploybridge_rewrites.roi_levels_gather import REWRITE as LEVELS

TOL = 2e-5  # float32 masks in [0, 1]; measured <= 1.4e-5 (torch's bilinear kernel vs two MatMuls, rounding order)
H, W = 96, 120


def _paste():
    """A module that pastes as GeneralizedRCNNTransform.postprocess does: through the transform module's name."""
    import torch
    from torchvision.models.detection import transform  # imported before tracing: torchvision's import cannot be traced

    class Paste(torch.nn.Module):
        def forward(self, masks, boxes):
            return transform.paste_masks_in_image(masks, boxes, (H, W))

    return Paste().eval()


def _detections(n: int, seed: int):
    """Mask probabilities and boxes clipped to the image, as roi_heads hands them over; some boxes under 2 px."""
    import torch

    g = torch.Generator().manual_seed(seed)
    masks = torch.rand(n, 1, 28, 28, generator=g)
    x1, y1 = torch.rand(n, generator=g) * (W - 1), torch.rand(n, generator=g) * (H - 1)
    side = torch.rand(n, 2, generator=g) * 80
    side[: n // 4] *= 0.02
    boxes = torch.stack([x1, y1, (x1 + side[:, 0]).clamp(max=W), (y1 + side[:, 1]).clamp(max=H)], 1)
    return masks, boxes


def _export(module, inputs, names, rewrites, dynamic_axes):
    import onnx

    data, result = export_with_rewrites(module, inputs, rewrites, names, dynamic_axes=dynamic_axes)
    return data, {n.op_type for n in onnx.load_from_string(data).graph.node}, result


def _ort(model_bytes, feed):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3  # the Loop's res_append shape warning
    session = ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
    return session.run(None, {i.name: t.numpy() for i, t in zip(session.get_inputs(), feed)})


def _openvino(model_bytes, feed):
    """OpenVINO's outputs, or the exception it raised compiling or running the graph."""
    ov = pytest.importorskip("openvino", reason="OpenVINO not installed: pip install openvino")
    try:
        core = ov.Core()
        # float32 as the openvino backend compiles: the CPU default on bf16-capable CPUs is bfloat16, in which
        # a box corner of 15.94 becomes 16 and whole masks move by a pixel (measured: 0.93 max error)
        compiled = core.compile_model(core.read_model(model_bytes, b""), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
        result = compiled({i: t.numpy() for i, t in enumerate(feed)})
        return [result[out] for out in compiled.outputs]
    except Exception as exc:  # the refusal is the finding
        return exc


def test_loop_without_matmuls_with_same_masks_zero_detections_included():
    import torch

    module = _paste()
    feeds = [_detections(12, 1), _detections(40, 2), _detections(1, 3), _detections(0, 4)]
    axes = {"masks": {0: "n"}, "boxes": {0: "n"}}
    raw, raw_ops, _ = _export(module, feeds[0], ["masks", "boxes"], [], axes)
    assert "Loop" in raw_ops, sorted(raw_ops)
    assert isinstance(_openvino(raw, feeds[0]), Exception)  # "Loop-..." "Accessing out-of-range dimension"
    fixed, fixed_ops, result = _export(module, feeds[0], ["masks", "boxes"], [REWRITE], axes)
    assert not {"Loop", "Scan", "If"} & fixed_ops, sorted(fixed_ops)
    assert result.calls == {"paste_masks": 1}
    for feed in feeds:
        with torch.no_grad():
            ref = module(*feed).numpy()
        got = _ort(fixed, feed)[0]
        assert got.shape == ref.shape == (len(feed[0]), 1, H, W)
        assert float(np.abs(got - ref).max(initial=0.0)) <= TOL
        on_ov = _openvino(fixed, feed) if len(feed[0]) else [ref]  # OpenVINO: dynamic N, exercised at N > 0
        assert not isinstance(on_ov, Exception), on_ov
        assert float(np.abs(on_ov[0] - ref).max(initial=0.0)) <= TOL


def _shapes_maskrcnn():
    from deploybridge.records import ModelSpec
    from deploybridge_torchvision.load import load

    return load(ModelSpec(family="torchvision", model="shapes_maskrcnn"))


def _mask_iou(a, b) -> float:
    a, b = a > 0.5, b > 0.5
    union = (a | b).sum()
    return float((a & b).sum() / union) if union else 1.0


def test_shapes_maskrcnn_loop_and_scatter_free_same_detections_and_masks():
    """The embedded Mask R-CNN end to end: both rewrites, boxes and masks against eager on ONNX Runtime and OpenVINO,
    and an input that detects nothing (the raw and the rewritten graph both give 0 x 1 x 192 x 192 masks)."""
    import torch

    loaded = _shapes_maskrcnn()
    module, names = loaded.module, list(loaded.input_names)
    image = loaded.make_inputs(1000)
    blank = (torch.full_like(image[0], 0.5),)  # a flat grey image: no object
    axes = {n: {0: "detections"} for n in loaded.output_names}
    raw, raw_ops, _ = _export(module, image, names, [], axes)
    assert {"Loop", "ScatterElements"} <= raw_ops
    fixed, fixed_ops, result = _export(module, image, names, [REWRITE, LEVELS], axes)
    assert not {"Loop", "ScatterElements", "ScatterND"} & fixed_ops, sorted(fixed_ops)
    assert result.calls == {"paste_masks": 1, "roi_levels_gather": 2}  # box and mask poolers
    for feed, count in ((image, 24), (blank, 0)):
        with torch.no_grad():
            boxes, _, labels, masks = (t.numpy() for t in module(*feed))
        assert len(boxes) == count  # measured on the committed checkpoint
        got_boxes, _, got_labels, got_masks = _ort(fixed, feed)
        assert got_masks.shape == masks.shape == (count, 1, 192, 192)
        np.testing.assert_array_equal(got_labels, labels)
        assert float(np.abs(got_boxes - boxes).max(initial=0.0)) <= 1e-3
        assert float(np.abs(got_masks - masks).max(initial=0.0)) <= 1e-4
        assert min((_mask_iou(g, r) for g, r in zip(got_masks, masks)), default=1.0) >= 0.99
        assert _ort(raw, feed)[3].shape == masks.shape
        if count:  # OpenVINO refuses the raw graph's Loop and runs the rewritten one
            assert isinstance(_openvino(raw, feed), Exception)
            on_ov = _openvino(fixed, feed)
            assert not isinstance(on_ov, Exception), on_ov
            assert on_ov[3].shape == masks.shape and float(np.abs(on_ov[3] - masks).max()) <= 1e-3
