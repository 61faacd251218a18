"""Mask R-CNN's mask predictor: a deconvolution and a 1x1 conv to every class without the rewrite; a 1x1 conv and the
detected class only with it, same masks."""

import numpy as np

from conftest import export_with_rewrites
from deploybridge_rewrites.mask_logits_by_label import REWRITE

TOL = 1e-5  # float32 mask probabilities; measured <= 1e-6 (summation order of the 1x1 conv vs the MatMul)


def _export(module, inputs, names, outputs, rewrites):
    import onnx

    data, result = export_with_rewrites(module, inputs, rewrites, names, outputs, {n: {0: "detections"} for n in outputs})
    return data, onnx.load_from_string(data), result


def _class_convs(model, num_classes: int) -> int:
    """How many Conv nodes write num_classes channels (the per-class mask logits)."""
    from onnx import numpy_helper

    weights = {t.name: numpy_helper.to_array(t).shape for t in model.graph.initializer}
    return sum(1 for n in model.graph.node if n.op_type == "Conv" and weights.get(n.input[1], (0,))[0] == num_classes)


def test_shapes_maskrcnn_class_logits_dropped_same_masks_zero_detections_included():
    import onnxruntime as ort
    import torch

    from deploybridge.records import ModelSpec
    from deploybridge_torchvision.load import load

    loaded = load(ModelSpec(family="torchvision", model="shapes_maskrcnn"))
    module, names, outputs = loaded.module, list(loaded.input_names), loaded.output_names
    classes = module.model.roi_heads.mask_predictor.mask_fcn_logits.out_channels
    image = loaded.make_inputs(1000)
    _, raw, _ = _export(module, image, names, outputs, [])
    assert _class_convs(raw, classes) == 1 and "ConvTranspose" in {n.op_type for n in raw.graph.node}
    fixed_bytes, fixed, result = _export(module, image, names, outputs, [REWRITE])
    assert _class_convs(fixed, classes) == 0 and "ConvTranspose" not in {n.op_type for n in fixed.graph.node}
    assert result.calls == {"mask_logits_by_label": 1}
    options = ort.SessionOptions()
    options.log_severity_level = 3  # the paste Loop's res_append shape warning (paste_masks is not in force here)
    session = ort.InferenceSession(fixed_bytes, options, providers=["CPUExecutionProvider"])
    for feed, count in ((image, 24), ((torch.full_like(image[0], 0.5),), 0)):
        with torch.no_grad():
            ref = [t.numpy() for t in module(*feed)]
        got = session.run(None, {names[0]: feed[0].numpy()})
        assert len(ref[0]) == count and got[3].shape == ref[3].shape
        np.testing.assert_array_equal(got[2], ref[2])
        assert float(np.abs(got[3] - ref[3]).max(initial=0.0)) <= 1e-4  # masks pasted from the same 28x28 probabilities


def test_by_label_equals_the_predictor_s_chosen_channel():
    """The deconvolution as a 1x1 conv with 2x2 blocks as channels, then the label's logits: torchvision's predictor
    and pick, for the 2x2 stride-2 deconvolution MaskRCNNPredictor builds and for another (kept as it is)."""
    import torch
    from torchvision.models.detection.mask_rcnn import MaskRCNNPredictor

    from deploybridge_rewrites.mask_logits_by_label import _ByLabel

    g = torch.Generator().manual_seed(0)
    predictor = MaskRCNNPredictor(16, 12, 7).eval()
    other = MaskRCNNPredictor(16, 12, 7).eval()
    other.conv5_mask = torch.nn.ConvTranspose2d(16, 12, 3, 1, 1)
    for module, blocks in ((predictor, True), (other, False)):
        with torch.no_grad():
            for p in module.parameters():
                p.normal_(generator=g)
            for n in (5, 0):
                x, labels = torch.randn(n, 16, 14, 14, generator=g), torch.randint(0, 7, (n,), generator=g)
                ref = module(x)[torch.arange(n), labels][:, None].sigmoid()
                by_label = _ByLabel(module, None)
                assert (by_label.pointwise is not None) == blocks
                got = by_label.inference(by_label.forward(x), [labels])[0]
                assert got.shape == ref.shape
                assert not n or float((got - ref).abs().max()) <= TOL


def test_eager_and_other_heads_untouched():
    import torch

    from deploybridge.convert.rewriting import applied
    from deploybridge.records import ModelSpec
    from deploybridge_torchvision.load import load

    loaded = load(ModelSpec(family="torchvision", model="shapes_maskrcnn"))
    image = loaded.make_inputs(1001)
    with torch.no_grad():
        ref = loaded.module(*image)
        with applied([REWRITE]) as result:
            got = loaded.module(*image)
    assert all(torch.equal(a, b) for a, b in zip(got, ref))
    assert result.calls == {"mask_logits_by_label": 1}  # called, passed through to torchvision's forward
