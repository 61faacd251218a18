"""Image files in and out of the artifact's input contract (float32 RGB in [0, 1], NCHW, fixed size)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from deploybridge.errors import DeployError


def load_rgb(path: Path) -> np.ndarray:
    """HxWx3 uint8 RGB, or a one-line DeployError for a missing or non-image file."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise DeployError(f"{path}: no such image file")
    try:
        with Image.open(path) as im:
            return np.array(im.convert("RGB"))
    except (UnidentifiedImageError, OSError):
        raise DeployError(f"{path} is not an image Pillow can read (PNG, JPEG, ...); give image files") from None


def to_input(pixels: np.ndarray, shape) -> tuple[np.ndarray, tuple[float, float]]:
    """Resize to the artifact's H x W; return the NCHW float input and the (sy, sx) factors back to the original."""
    from PIL import Image

    h, w = int(shape[2]), int(shape[3])
    h0, w0 = pixels.shape[:2]
    if (h0, w0) != (h, w):
        pixels = np.array(Image.fromarray(pixels).resize((w, h), Image.BILINEAR))
    x = (pixels.astype(np.float32) / 255.0).transpose(2, 0, 1)[None]
    return np.ascontiguousarray(x), (h0 / h, w0 / w)


def detections_to_original(out: dict, scale: tuple[float, float], size: tuple[int, int]) -> dict:
    """Map boxes (and masks) predicted at the artifact size back onto the original image."""
    sy, sx = scale
    out = dict(out)
    if "boxes" in out:
        out["boxes"] = out["boxes"] * np.array([sx, sy, sx, sy], np.float32)
    if "masks" in out and (sy, sx) != (1.0, 1.0) and len(out["masks"]):
        h0, w0 = size
        m = out["masks"]
        rows = np.minimum((np.arange(h0) / sy).astype(int), m.shape[2] - 1)
        cols = np.minimum((np.arange(w0) / sx).astype(int), m.shape[3] - 1)
        out["masks"] = m[:, :, rows][:, :, :, cols]
    return out
