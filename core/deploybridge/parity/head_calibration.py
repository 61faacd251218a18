"""Random weights made informative, for any detector: classifier layers rescaled and shifted so that a random
network scores some candidates over its own threshold on every calibration image, and frozen normalisation layers
given statistics of real activations.

A random detector's classifier scores every candidate about the same (a prior-probability bias, std-0.01 weights),
below the score threshold: it detects nothing and verification compares nothing (inconclusive). Families call these
on calibration images that are never verification inputs (``synthetic_inputs.calibration_seeds``); the thresholds
stay the model's own, and the calibrated weights are the model's weights: the wrapper and the framework's own
prediction run on the same ones.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import torch


def rows(out: torch.Tensor) -> torch.Tensor:
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
    handles = [layer.register_forward_hook(lambda _m, _args, out, k=k: seen[k][-1].append(rows(out.detach())))
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


@torch.no_grad()
def normalise_frozen_statistics(model: torch.nn.Module, run: Callable, image, norm_type: type) -> int:
    """Give every ``norm_type`` layer (a frozen batch norm: fixed ``running_mean``/``running_var``, identity at random
    init) the per-channel mean and variance of its own input while ``run(image)`` runs, in forward order, so each
    feeds the next normalised activations (an identity FrozenBN lets activations grow block by block until one
    class wins everywhere). Returns how many layers were set."""
    def set_stats(module, args):
        x = args[0].detach()
        module.running_mean.copy_(x.mean((0, 2, 3)))
        module.running_var.copy_(x.var((0, 2, 3)).clamp_min(1e-4))

    layers = [m for m in model.modules() if isinstance(m, norm_type)]
    handles = [m.register_forward_pre_hook(set_stats) for m in layers]
    try:
        run(image)
    finally:
        for handle in handles:
            handle.remove()
    return len(layers)
