"""--random-weights made informative for Detectron2 models (the generic steps: deploybridge.parity.head_calibration).

Untouched, a random Detectron2 model is degenerate (measured: scores 0.9995 for one box, then ~1e-9): its
FrozenBatchNorm layers are identities, so activations grow block by block, and the classifiers start at std 0.01.
Here every frozen (or not yet trained) batch norm gets the statistics of its own input, the RPN objectness is
spread out (so proposals are not picked among near-ties), and each classifier is shifted so that about ``TARGET``
candidates pass the model's own score threshold on every calibration image.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Sequence

import torch

from deploybridge.parity.head_calibration import (normalise_frozen_statistics, outputs_per_image, rescale,
                                                  shift_background, shift_sigmoid)

CALIBRATION_IMAGES = 6
TARGET = 25  # (candidate, class) pairs over the score threshold on the least-scoring calibration image


@torch.no_grad()
def calibrate_random(model, images: Sequence[torch.Tensor]) -> None:
    """``images``: 1 x 3 x H x W tensors as the wrapper takes them (never verification inputs)."""
    from detectron2.layers import FrozenBatchNorm2d

    run = lambda image: model([{"image": image[0]}])  # noqa: E731
    # statistics over all calibration images at once (one batch): one image's alone leave others with no detection
    batch = [{"image": image[0]} for image in images]
    normalise_frozen_statistics(model, lambda _: model(batch), None, (FrozenBatchNorm2d, torch.nn.BatchNorm2d))
    if hasattr(model, "head") and hasattr(model.head, "cls_score"):  # RetinaNet: sigmoid per (anchor, class)
        layer = model.head.cls_score
        logits = rescale(layer, outputs_per_image(layer, run, images), -4.0, 1.0)
        shift_sigmoid(layer, logits, float(model.test_score_thresh), TARGET, margin=0.0)
        return
    with _boxes_only(model.roi_heads):
        rpn = getattr(model.proposal_generator, "rpn_head", None)
        if rpn is not None:
            rescale(rpn.objectness_logits, outputs_per_image(rpn.objectness_logits, run, images), 0.0, 2.0)
        predictors = model.roi_heads.box_predictor
        for predictor in (predictors if isinstance(predictors, torch.nn.ModuleList) else [predictors]):  # Cascade: 3
            layer = predictor.cls_score
            logits = rescale(layer, outputs_per_image(layer, run, images), 0.0, 3.0)
            shift_background(layer, logits, float(predictor.test_score_thresh), TARGET)


@contextmanager
def _boxes_only(heads):
    """Mask and keypoint heads switched off while the box classifiers are calibrated: they do not change which boxes
    are scored, and Keypoint R-CNN's per-detection heatmap decoding made calibration 4x slower (41 s vs 9 s)."""
    on = {flag: getattr(heads, flag) for flag in ("mask_on", "keypoint_on") if hasattr(heads, flag)}
    try:
        for flag in on:
            setattr(heads, flag, False)
        yield
    finally:
        for flag, value in on.items():
            setattr(heads, flag, value)
