"""Random DETR weights made informative, on calibration images verification never uses.

A random DETR scores every query about 1/92 for every class (a std-0.01-ish linear head over LayerNorm outputs):
parity on such scores compares noise against noise. So, in forward order: the backbone's BatchNorms get real
activation statistics (identity statistics let a random ResNet's activations grow block by block), the decoder's
cross-attention is scaled down so the queries do not collapse into one, the 1x1 projection
is scaled so the image features are not drowned by the positional encoding (the demo adds 0.1 x features), the box
head's last layer spreads centres over the image with boxes about a quarter of its side, and the class head is
rescaled and its no-object logit lowered until every calibration image has ``confident`` queries over ``threshold``.
"""
from __future__ import annotations

import torch
from torch import nn

from deploybridge.parity import head_calibration as hc

THRESHOLD = 0.5  # a query counts as a detection when its best class probability passes this
CROSS_ATTENTION = 0.3  # the decoder's cross-attention output scale for random weights


@torch.no_grad()
def calibrate(detr: nn.Module, images: list[torch.Tensor], confident: int) -> dict:
    """Calibrate ``detr`` (a MinimalDETR in eval mode) on ``images`` (each 1 x 3 x H x W). Returns what it set."""
    layers = hc.normalise_frozen_statistics(detr, detr, torch.cat(images), nn.BatchNorm2d)
    # a random cross-attention gives every query about the same mix of the memory: through 6 post-norm layers the
    # queries collapse (detr_r50 at 128²: 66-95 of 100 queries over 0.5 with only 4-7 labels). Its output scaled
    # by CROSS_ATTENTION each query keeps its identity (36-39 over 0.5, 16-22 labels, box centres spread 3x wider)
    for layer in detr.transformer.decoder.layers:
        layer.multihead_attn.out_proj.weight.mul_(CROSS_ATTENTION)
        layer.multihead_attn.out_proj.bias.mul_(CROSS_ATTENTION)
    # projected features with std 3: 0.1 x features then weighs about as much as the positional table (rand, std 0.29)
    hc.rescale(detr.input_proj, hc.outputs_per_image(detr.input_proj, detr, images), mean=0.0, std=3.0)
    box_layer = detr.bbox_embed.layers[-1]
    hc.rescale(box_layer, hc.outputs_per_image(box_layer, detr, images), mean=0.0, std=1.5)
    box_layer.bias[2:] -= 1.0  # sigmoid(-1) = 0.27: widths and heights about a quarter of the image
    logits = hc.rescale(detr.class_embed, hc.outputs_per_image(detr.class_embed, detr, images), mean=0.0, std=4.0)
    hc.shift_background(detr.class_embed, logits, THRESHOLD, confident)
    return {"batch_norms": layers, "confident_target": confident, "threshold": THRESHOLD}
