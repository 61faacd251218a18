"""Deterministic example images for verification: smooth colour fields with
a few solid rectangles, so detectors and segmenters see edges and regions
rather than white noise."""
from __future__ import annotations

VERIFICATION_SEED_BASE = 1000
CALIBRATION_SEED_BASE = 1_000_000  # far above every verification seed: a model is never calibrated on what checks it


def verification_seeds(seed: int, n: int) -> list[int]:
    """The input seeds verification uses for a model built with ``seed`` (offset from the weight seed)."""
    return [VERIFICATION_SEED_BASE + seed + k for k in range(n)]


def calibration_seeds(seed: int, n: int) -> list[int]:
    """Input seeds for calibrating random weights (batch-norm statistics, head biases) of a model built with ``seed``:
    never one of its verification seeds, so verification does not run on the image the heads were tuned to."""
    return [CALIBRATION_SEED_BASE + 1000 * seed + k for k in range(n)]


def smooth_images(seed: int, shape: tuple[int, ...]):
    """Float32 NCHW tensor in [0, 1], identical for the same seed and shape on every machine."""
    import torch

    n, c, h, w = shape
    g = torch.Generator().manual_seed(seed)
    low = torch.rand(n, c, max(2, h // 32), max(2, w // 32), generator=g)
    images = torch.nn.functional.interpolate(low, size=(h, w), mode="bilinear", align_corners=False)
    for i in range(n):
        for _ in range(6):
            y0, x0 = (torch.rand(2, generator=g) * torch.tensor([h * 0.8, w * 0.8])).long().tolist()
            bh, bw = (torch.rand(2, generator=g) * torch.tensor([h * 0.4, w * 0.4]) + 4).long().tolist()
            images[i, :, y0:y0 + bh, x0:x0 + bw] = torch.rand(c, 1, 1, generator=g)
    return images.clamp_(0, 1).contiguous()
