"""Seed 004's minimal DETR (Carion et al. 2020, the paper's 'DETR in 50 lines' demo) with DETR's own
post-processing in the graph: a torchvision ResNet, a 1x1 projection, learned row/column positional encodings,
``torch.nn.Transformer``, fixed learned object queries, a class head (last class = no object) and a box MLP
(sigmoid cx, cy, w, h). No NMS: one row per query, like DETR's ``PostProcess``."""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Config:
    backbone: str  # a torchvision.models builder: resnet50, resnet18
    hidden: int
    encoder_layers: int
    decoder_layers: int
    heads: int
    num_queries: int
    feedforward: int
    num_classes: int = 91  # DETR's COCO head: category ids 0..90, index 91 = no object
    max_side: int = 50  # positional table size: feature maps up to 50 x 50 (1600 px at stride 32)


class BoxMLP(nn.Module):
    """DETR's box head: a few linear layers with ReLU between them."""

    def __init__(self, hidden: int, out: int, layers: int):
        super().__init__()
        dims = [hidden] * layers + [out]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))

    def forward(self, x):
        for k, layer in enumerate(self.layers):
            x = layer(x)
            if k < len(self.layers) - 1:
                x = torch.relu(x)
        return x


class MinimalDETR(nn.Module):
    """images (1, 3, H, W) float RGB in [0, 1] -> logits (1, Q, C+1), boxes (1, Q, 4) sigmoid cx, cy, w, h."""

    def __init__(self, cfg: Config):
        super().__init__()
        import torchvision

        resnet = getattr(torchvision.models, cfg.backbone)(weights=None)
        channels = resnet.fc.in_features
        self.backbone = nn.Sequential(*list(resnet.children())[:-2])  # conv1 .. layer4, stride 32
        self.input_proj = nn.Conv2d(channels, cfg.hidden, 1)
        with warnings.catch_warnings():  # "enable_nested_tensor is True, but ...": sequence-first, no fast path wanted
            warnings.filterwarnings("ignore", message="enable_nested_tensor")
            self.transformer = nn.Transformer(cfg.hidden, cfg.heads, cfg.encoder_layers, cfg.decoder_layers,
                                              cfg.feedforward, dropout=0.0)
        self.query_pos = nn.Parameter(torch.rand(cfg.num_queries, cfg.hidden))
        self.row_embed = nn.Parameter(torch.rand(cfg.max_side, cfg.hidden // 2))
        self.col_embed = nn.Parameter(torch.rand(cfg.max_side, cfg.hidden // 2))
        self.class_embed = nn.Linear(cfg.hidden, cfg.num_classes + 1)
        self.bbox_embed = BoxMLP(cfg.hidden, 4, 3)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, images):
        h = self.input_proj(self.backbone((images - self.mean) / self.std))
        height, width = h.shape[-2:]
        pos = torch.cat([self.col_embed[:width].unsqueeze(0).repeat(height, 1, 1),
                         self.row_embed[:height].unsqueeze(1).repeat(1, width, 1)], dim=-1).flatten(0, 1).unsqueeze(1)
        # sequence-first (S, N, E), as the demo: the source is the positions plus the projected features
        src = pos + 0.1 * h.flatten(2).permute(2, 0, 1)
        queries = self.query_pos.unsqueeze(1).repeat(1, images.shape[0], 1)
        out = self.transformer(src, queries).transpose(0, 1)  # (N, Q, E)
        # heads on (N * Q, E) rows: head_calibration reads a 2-D output as rows x channels (3-D+ as NCHW)
        rows = out.reshape(-1, out.shape[-1])
        batch, queries = out.shape[0], out.shape[1]
        return (self.class_embed(rows).view(batch, queries, -1),
                self.bbox_embed(rows).sigmoid().view(batch, queries, 4))


class Detections(nn.Module):
    """DETR's PostProcess on one image: boxes (Q, 4) xyxy in input pixels, scores (Q,) = the best class probability
    other than no-object, labels (Q,) int64 = that class. Fixed count: every query is a row."""

    def __init__(self, detr: MinimalDETR):
        super().__init__()
        self.detr = detr

    def forward(self, images):
        logits, boxes = self.detr(images)
        probs = logits[0].softmax(-1)[:, :-1]
        scores, labels = probs.max(-1)
        cx, cy, w, h = boxes[0].unbind(-1)
        height, width = images.shape[-2], images.shape[-1]
        xyxy = [(cx - 0.5 * w) * width, (cy - 0.5 * h) * height, (cx + 0.5 * w) * width, (cy + 0.5 * h) * height]
        return torch.stack(xyxy, dim=-1), scores, labels
