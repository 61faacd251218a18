"""Tensor-in/tensor-out wrappers with fixed output names and order.

All wrappers take float32 RGB images in [0, 1] (NCHW); normalisation happens
inside the graph, so the artifact is fed exactly like the wrapper.
"""
from __future__ import annotations

import torch
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class Normalized(nn.Module):
    """Classifier or segmenter with ImageNet normalisation folded in front."""

    def __init__(self, model: nn.Module, segmentation: bool) -> None:
        super().__init__()
        self.model = model
        self.segmentation = segmentation
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        out = self.model((images - self.mean) / self.std)
        return out["out"] if self.segmentation else out


class Detector(nn.Module):
    """torchvision detector on a batch of one image -> (boxes, scores, labels[, masks][, keypoints, keypoints_scores]).

    Keypoints are N x K x 3 (x, y, visibility; torchvision marks every keypoint visible)."""

    def __init__(self, model: nn.Module, masks: bool, keypoints: bool = False) -> None:
        super().__init__()
        self.model = model
        self.masks = masks
        self.keypoints = keypoints

    def forward(self, images: torch.Tensor):
        det = self.model([images[0]])[0]
        out = (det["boxes"], det["scores"], det["labels"])
        out += (det["masks"],) if self.masks else ()
        return out + (det["keypoints"], det["keypoints_scores"]) if self.keypoints else out
