"""The detr model in PyTorch: DETR's post-processing (fixed rows, scores without no-object, xyxy pixels), and random
weights that detect: confident, varied queries on every verification input, calibrated on other images."""
import pytest
import torch

from deploybridge.records import ModelSpec

SHAPE = (1, 3, 128, 128)


@pytest.fixture(scope="module")
def tiny():
    from deploybridge_detr.family import load

    return load(ModelSpec(family="detr", model="detr_r18_tiny", random_weights=True, input_shape=SHAPE))


def test_postprocessing_is_detrs(tiny):
    images = tiny.make_inputs(1000)[0]
    with torch.no_grad():
        logits, cxcywh = tiny.module.detr(images)
        boxes, scores, labels = tiny.module(images)
    probs = logits[0].softmax(-1)
    assert boxes.shape == (50, 4) and scores.shape == (50,) and labels.dtype == torch.int64
    assert torch.equal(labels, probs[:, :-1].argmax(-1))  # never the no-object class
    torch.testing.assert_close(scores, probs[:, :-1].max(-1).values)
    cx, cy, w, h = (cxcywh[0] * 128).unbind(-1)
    torch.testing.assert_close(boxes, torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], -1))


@pytest.mark.parametrize("model, least", [("detr_r18_tiny", 5), ("detr_r50", 10)])
def test_random_weights_detect_on_every_verification_input(model, least):
    """Confident, varied queries: calibrated for a fifth of the queries over 0.5 on every calibration image. Without
    the decoder's cross-attention scaled down, detr_r50's queries collapsed to 4-7 labels (measured): caught here."""
    from deploybridge.parity.verification import seeds_for
    from deploybridge_detr.family import load

    spec = ModelSpec(family="detr", model=model, random_weights=True, input_shape=SHAPE)
    loaded = load(spec)
    for seed in seeds_for(spec, 3):
        with torch.no_grad():
            boxes, scores, labels = loaded.module(*loaded.make_inputs(seed))
        confident = scores > 0.5
        assert int(confident.sum()) >= least
        assert len(labels[confident].unique()) >= least and float(scores.std()) > 0.1  # varied, not one class
        assert float(boxes[confident].std(0).min()) > 10  # boxes spread over the 128 px image


def test_an_uncalibrated_random_detr_is_what_the_calibration_fixes():
    """The planted degenerate case: without calibration every query scores about 1/91 for its best class."""
    from deploybridge.parity.synthetic_inputs import smooth_images
    from deploybridge_detr.family import MODELS
    from deploybridge_detr.model import Detections, MinimalDETR

    torch.manual_seed(0)
    raw = Detections(MinimalDETR(MODELS["detr_r18_tiny"]).eval())
    with torch.no_grad():
        _, scores, _ = raw(smooth_images(1000, SHAPE))
    assert float(scores.max()) < 0.2


def test_calibration_never_sees_a_verification_input(monkeypatch):
    from deploybridge.parity.verification import seeds_for
    from deploybridge_detr import calibration, family

    seen = []
    real = calibration.calibrate

    monkeypatch.setattr(calibration, "calibrate", lambda detr, images, **kw: (seen.extend(images), real(detr, images, **kw)))
    spec = ModelSpec(family="detr", model="detr_r18_tiny", random_weights=True, input_shape=SHAPE)
    loaded = family.load(spec)
    assert len(seen) == family.CALIBRATION_IMAGES
    for seed in seeds_for(spec, 3):
        assert not any(torch.equal(image, loaded.make_inputs(seed)[0]) for image in seen)
