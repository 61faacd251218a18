"""--random-weights made informative for MMDetection models (the generic steps: deploybridge.parity.head_calibration).
MMDetection initialises a classifier with std-0.01 weights and a
prior-probability bias, so a random detector scores every candidate about 0.01 (sigmoid heads) or 1/(classes + 1)
(softmax heads), below ``score_thr``: it detects nothing and verification compares nothing (inconclusive).

The classifier is rescaled (per output channel, to a chosen std) and its bias shifted so that about ``target``
candidates pass ``score_thr`` on *every* calibration image: a random network's logits spread up to ~2x wider on one
image than on another, so a count met on average leaves some images with none. The calibration images are never
verification inputs (``calibration_seeds``). The thresholds stay the model's own, and the calibrated weights are the
model's weights: the wrapper and MMDetection's predict run on the same ones.
"""
from __future__ import annotations

from typing import Sequence

from deploybridge.parity.head_calibration import outputs_per_image, rescale, shift_background, shift_sigmoid

CALIBRATION_IMAGES = 6
# candidates over score_thr on the least-scoring calibration image: (anchor, class) / (proposal, class) pairs
DENSE_TARGET, TWO_STAGE_TARGET = 20, 25


def knows(model) -> bool:
    """Whether calibrate_random knows this model's classifiers (RetinaNet-like heads, Faster/Mask/Cascade R-CNN);
    every other head is calibrated by calibration_generic."""
    return hasattr(model, "roi_head") or hasattr(getattr(model, "bbox_head", None), "retina_cls")


def calibrate_random(model, module, images: Sequence[torch.Tensor]) -> None:
    """Calibrate the classifiers of a random ``model`` (wrapped as ``module``, a DenseDetector, TwoStageDetector or
    CascadeDetector) on ``images``, in forward order: RetinaNet's class conv; Faster/Mask/Cascade R-CNN's RPN
    objectness (spread out, so the proposals are not picked among near-ties), then the box heads' class layers (a
    cascade's stage by stage)."""
    import torch

    normalise = module.normalise
    if hasattr(model, "bbox_head"):  # dense
        head = model.bbox_head
        run = lambda image: head(model.extract_feat(normalise(image)))  # noqa: E731
        logits = rescale(head.retina_cls, outputs_per_image(head.retina_cls, run, images), -4.0, 1.0)
        shift_sigmoid(head.retina_cls, logits, float(head.test_cfg.score_thr), DENSE_TARGET, margin=0.0)
        return
    rpn = model.rpn_head
    run = lambda image: rpn(model.extract_feat(normalise(image)))  # noqa: E731
    rescale(rpn.rpn_cls, outputs_per_image(rpn.rpn_cls, run, images), 0.0, 2.0)
    heads = model.roi_head.bbox_head
    layers = [head.fc_cls for head in heads] if isinstance(heads, torch.nn.ModuleList) else [heads.fc_cls]
    # stage by stage: a stage's logits depend on the earlier stages only (their boxes refine its RoIs), so each
    # stage's outputs after its own rescaling stay its outputs
    logits = [rescale(layer, outputs_per_image(layer, module, images), 0.0, 3.0) for layer in layers]
    # the scores are the softmax of the stages' mean logits (one stage: its own), so one background shift found on
    # the mean, applied to every stage, moves the mean's background by that shift
    means = [sum(per_stage) / len(layers) for per_stage in zip(*logits)]
    last, before = layers[-1], float(layers[-1].bias.detach()[-1])
    shift_background(last, means, float(model.test_cfg.rcnn.score_thr), TWO_STAGE_TARGET)
    with torch.no_grad():
        for layer in layers[:-1]:
            layer.bias[-1] += float(last.bias[-1]) - before
