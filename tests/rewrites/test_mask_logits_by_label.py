"""Mask R-CNN's mask logits: a 1x1 conv to every class without the rewrite; the detected class only with it, same masks."""
import io
import warnings

import numpy as np

from deploybridge_rewrites.mask_logits_by_label import REWRITE, logits_of_labels

TOL = 1e-5  # float32 mask probabilities; measured <= 1e-6 (summation order of the 1x1 conv vs the MatMul)


def _export(module, inputs, names, outputs, rewrites):
    import onnx
    import torch

    from deploybridge.convert.rewriting import applied

    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with applied(list(rewrites), 17) as result:
            torch.onnx.export(module, inputs, buffer, dynamo=False, opset_version=17, input_names=names,
                              output_names=outputs, dynamic_axes={n: {0: "detections"} for n in outputs})
    return buffer.getvalue(), onnx.load_from_string(buffer.getvalue()), result


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
    assert _class_convs(raw, classes) == 1
    fixed_bytes, fixed, result = _export(module, image, names, outputs, [REWRITE])
    assert _class_convs(fixed, classes) == 0
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


def test_logits_of_labels_equal_the_conv_s_chosen_channel():
    import torch

    g = torch.Generator().manual_seed(0)
    conv = torch.nn.Conv2d(16, 7, 1)
    features, labels = torch.randn(5, 16, 28, 28, generator=g), torch.tensor([0, 6, 3, 3, 1])
    with torch.no_grad():
        ref = conv(features)[torch.arange(5), labels][:, None]
        got = logits_of_labels(features, labels, conv)
        assert float((got.sigmoid() - ref.sigmoid()).abs().max()) <= TOL
        assert logits_of_labels(features[:0], labels[:0], conv).shape == (0, 1, 28, 28)


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
