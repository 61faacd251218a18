"""--random-weights made informative: MMDetection initialises a classifier with std-0.01 weights and a
prior-probability bias, so a random detector scores every candidate about 0.01 (sigmoid heads) or 1/(classes + 1)
(softmax heads), below ``score_thr``: it detects nothing and verification compares nothing (inconclusive).

The classifier is rescaled (per output channel, to a chosen std) and its bias shifted so that about ``target``
candidates pass ``score_thr`` on *every* calibration image: a random network's logits spread up to ~2x wider on one
image than on another, so a count met on average leaves some images with none. The calibration images are never
verification inputs (``calibration_seeds``). The thresholds stay the model's own, and the calibrated weights are the
model's weights: the wrapper and MMDetection's predict run on the same ones.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import torch

CALIBRATION_IMAGES = 6
# candidates over score_thr on the least-scoring calibration image: (anchor, class) / (proposal, class) pairs
DENSE_TARGET, TWO_STAGE_TARGET = 20, 25


def _rows(out: torch.Tensor) -> torch.Tensor:
    """One row per candidate, one column per output channel (a conv's positions, a linear layer's rows)."""
    return out.reshape(-1, out.shape[-1]) if out.dim() == 2 else out.movedim(1, -1).reshape(-1, out.shape[1])


@torch.no_grad()
def outputs_per_image(layer: torch.nn.Module, run: Callable, images: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """``layer``'s outputs while ``run(image)`` runs, per image (all the calls on one image: heads run per level)."""
    return outputs_of([layer], run, images)[0]


@torch.no_grad()
def outputs_of(layers: Sequence[torch.nn.Module], run: Callable, images: Sequence[torch.Tensor]) -> list[list[torch.Tensor]]:
    """For each of ``layers``, its outputs per image, all from one ``run`` per image."""
    seen: list[list[list[torch.Tensor]]] = [[] for _ in layers]
    handles = [layer.register_forward_hook(lambda _m, _args, out, k=k: seen[k][-1].append(_rows(out.detach())))
               for k, layer in enumerate(layers)]
    try:
        for image in images:
            for calls in seen:
                calls.append([])
            run(image)
    finally:
        for handle in handles:
            handle.remove()
    return [[torch.cat(calls) for calls in per_layer if calls] for per_layer in seen]


@torch.no_grad()
def rescale(layer: torch.nn.Module, per_image: list[torch.Tensor], mean: float, std: float) -> list[torch.Tensor]:
    """Scale ``layer`` so that each output channel has ``mean`` and ``std`` over the calibration images; returns
    the outputs it now gives. Per channel: a shared feature mean would otherwise make one class win everywhere."""
    values = torch.cat(per_image)
    centre, scale = values.mean(0), std / values.std(0).clamp_min(1e-12)
    layer.weight.mul_(scale.view(-1, *([1] * (layer.weight.dim() - 1))))
    layer.bias.copy_((layer.bias - centre) * scale + mean)
    return [(v - centre) * scale + mean for v in per_image]


@torch.no_grad()
def shift_sigmoid(layer: torch.nn.Module, per_image: list[torch.Tensor], threshold: float, target: int,
                  margin: float = 0.5) -> None:
    """Every logit is one (position, class) score: the image whose ``target``-th largest logit is lowest gets it
    ``margin`` above the threshold's logit."""
    kth = min(float(v.flatten().topk(min(target, v.numel())).values[-1]) for v in per_image)
    layer.bias.add_(math.log(threshold / (1 - threshold)) - kth + margin)


@torch.no_grad()
def shift_median(layer: torch.nn.Module, per_image: list[torch.Tensor], value: float) -> None:
    """Shift ``layer``'s bias so that the median of its outputs over the calibration images is ``value``."""
    layer.bias.add_(value - float(torch.cat(per_image).flatten().median()))


@torch.no_grad()
def shift_background(layer: torch.nn.Module, per_image: list[torch.Tensor], threshold: float, target: int,
                     background: int = -1) -> None:
    """Softmax over classes and background: lower the background logit until the image with the fewest
    (row, class) probabilities over ``threshold`` has about ``target`` of them."""

    def shift_for(logits: torch.Tensor) -> float:
        foreground = [c for c in range(logits.shape[1]) if c != background % logits.shape[1]]

        def passing(shift: float) -> int:
            shifted = logits.clone()
            shifted[:, background] += shift
            return int((shifted.softmax(-1)[:, foreground] > threshold).sum())

        lo, hi = -50.0, 50.0
        for _ in range(40):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if passing(mid) > target else (lo, mid)
        return hi

    layer.bias[background] += min(shift_for(v) for v in per_image)


def calibrate_random(model, module, images: Sequence[torch.Tensor]) -> None:
    """Calibrate the classifiers of a random ``model`` (wrapped as ``module``, a DenseDetector or TwoStageDetector)
    on ``images``, in forward order: RetinaNet's class conv; Faster/Mask R-CNN's RPN objectness (spread out, so
    the proposals are not picked among near-ties), then the box head's class layer."""
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
    fc_cls = model.roi_head.bbox_head.fc_cls
    logits = rescale(fc_cls, outputs_per_image(fc_cls, module, images), 0.0, 3.0)
    shift_background(fc_cls, logits, float(model.test_cfg.rcnn.score_thr), TWO_STAGE_TARGET)
