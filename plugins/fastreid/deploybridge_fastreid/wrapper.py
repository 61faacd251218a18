"""fastreid's model as a tensor-in/tensor-out module."""
from __future__ import annotations

import torch
import torch.nn.functional as F


class Embedder(torch.nn.Module):
    """images (0-255 RGB) -> features. fastreid's ``preprocess_image`` normalises its input tensor in place
    (``images.sub_(mean).div_(std)``): the caller's tensor would come back normalised, and a second run on it (the
    artifact, fed the same inputs) would normalise it twice. The model gets a copy."""

    def __init__(self, model: torch.nn.Module, normalize: bool = False):
        super().__init__()
        self.model = model
        self.normalize = normalize

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.model(images.clone())
        return F.normalize(features, dim=1) if self.normalize else features
