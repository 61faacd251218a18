"""Image files in and out of a model's input contract: one path for `deploy run`, `--eval` and the report picture.

The default contract is torchvision's: float32 RGB in [0, 1], NCHW, resized to
the artifact's size. A model whose ``preprocessing`` (the family's, recorded in
the manifest) says otherwise (MMDetection's: BGR as cv2 loads it, 0-255, resized
keeping the aspect ratio, padded bottom-right) is fed that way; the graph
normalises.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Mapping

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


def _is_0_255(pre: Mapping) -> bool:
    return str(pre.get("value_range", "")).startswith("0-255")


def to_input(pixels: np.ndarray, shape, preprocessing: Mapping | None = None) -> tuple[np.ndarray, tuple[float, float]]:
    """Resize to the artifact's H x W as ``preprocessing`` says; return the NCHW float input and the (sy, sx)
    factors from the resized image back to the original."""
    from PIL import Image

    pre = preprocessing or {}
    h, w = int(shape[2]), int(shape[3])
    h0, w0 = pixels.shape[:2]
    nh, nw = h, w
    resize = pre.get("resize")
    if isinstance(resize, dict) and resize.get("keep_ratio"):  # MMDetection's Resize(keep_ratio=True)
        factor = min(h / h0, w / w0)
        nh, nw = min(h, max(1, round(h0 * factor))), min(w, max(1, round(w0 * factor)))
    if (h0, w0) != (nh, nw):
        pixels = np.array(Image.fromarray(pixels).resize((nw, nh), Image.BILINEAR))
    canvas = np.zeros((h, w, 3), np.float32)  # padded bottom-right with zeros, as MMDetection pads
    canvas[:nh, :nw] = pixels
    if pre.get("loaded_channel_order") == "BGR":
        canvas = canvas[..., ::-1]
    if not _is_0_255(pre):
        canvas = canvas / 255.0
    return np.ascontiguousarray(canvas.transpose(2, 0, 1)[None], dtype=np.float32), (h0 / nh, w0 / nw)


def to_display(x: np.ndarray, preprocessing: Mapping | None = None) -> np.ndarray:
    """A model input (1 x 3 x H x W, fed as ``preprocessing`` says) as the HxWx3 uint8 RGB picture a person sees:
    :func:`to_input`'s channel order and value range undone."""
    pre = preprocessing or {}
    picture = np.asarray(x, np.float32)[0].transpose(1, 2, 0)
    if pre.get("loaded_channel_order") == "BGR":
        picture = picture[..., ::-1]
    if not _is_0_255(pre):
        picture = picture * 255.0
    return np.ascontiguousarray(picture.round().clip(0, 255).astype(np.uint8))


def detect(pixels: np.ndarray, run: Callable[[np.ndarray], dict], shape, preprocessing: Mapping | None = None) -> dict:
    """One image through a model, as `deploy run` and `--eval` both do it: fed as ``preprocessing`` says
    (:func:`to_input`), ``run(input) -> outputs by name`` read as detections (:func:`as_detections`) on the
    image's own size (:func:`detections_to_original`). Labels stay the model's own (see
    :func:`deploybridge.evaluation.coco_ap.category_ids` for a dataset's category ids)."""
    x, scale = to_input(pixels, shape, preprocessing)
    return detections_to_original(as_detections(run(x)), scale, pixels.shape[:2])


def class_map(pixels: np.ndarray, run: Callable[[np.ndarray], np.ndarray], shape, preprocessing: Mapping | None = None) -> np.ndarray:
    """One image through a semantic segmenter: fed as :func:`detect` feeds it, ``run(input) -> 1 x C x H x W`` class
    scores, their argmax mapped back onto the image's own size (nearest pixel: a class map has no in-between)."""
    x, (sy, sx) = to_input(pixels, shape, preprocessing)
    classes = np.asarray(run(x))[0].argmax(0)
    h0, w0 = pixels.shape[:2]
    rows = np.minimum((np.arange(h0) / sy).astype(int), classes.shape[0] - 1)
    cols = np.minimum((np.arange(w0) / sx).astype(int), classes.shape[1] - 1)
    return classes[rows][:, cols]


def boxes_of(masks: np.ndarray) -> np.ndarray:
    """x1, y1, x2, y2 around each (N, H, W) mask; zeros for an empty one."""
    boxes = np.zeros((len(masks), 4), np.float32)
    for k, mask in enumerate(masks):
        ys, xs = np.nonzero(mask)
        if len(xs):
            boxes[k] = [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
    return boxes


def as_detections(out: dict) -> dict:
    """Outputs as boxes, scores, labels and N x 1 x H x W float masks: boxes drawn around masks when a model
    predicts masks only (SOLO), per-instance (N, H, W) masks given their channel axis; labels from an output the
    model names otherwise (Detectron2's "classes", :mod:`deploybridge.parity.output_names`)."""
    from deploybridge.parity.output_names import canonical

    out = canonical(out)
    masks = out.get("masks")
    if masks is not None:
        masks = np.asarray(masks)
        if masks.ndim == 3:
            masks = masks[:, None]
        out["masks"] = masks.astype(np.float32)
        if "boxes" not in out:
            out["boxes"] = boxes_of(masks[:, 0] > 0.5)
    return out


def detections_to_original(out: dict, scale: tuple[float, float], size: tuple[int, int]) -> dict:
    """Map boxes (masks, keypoints) predicted at the artifact size back onto the original image."""
    sy, sx = scale
    out = dict(out)
    if "boxes" in out:
        out["boxes"] = out["boxes"] * np.array([sx, sy, sx, sy], np.float32)
    if out.get("keypoints") is not None and len(out["keypoints"]):  # N x K x (x, y, visibility): x, y only
        out["keypoints"] = np.asarray(out["keypoints"], np.float32) * np.array([sx, sy, 1.0][:np.shape(out["keypoints"])[-1]], np.float32)
    if "masks" in out and (sy, sx) != (1.0, 1.0) and len(out["masks"]):
        h0, w0 = size
        m = out["masks"]
        rows = np.minimum((np.arange(h0) / sy).astype(int), m.shape[2] - 1)
        cols = np.minimum((np.arange(w0) / sx).astype(int), m.shape[3] - 1)
        out["masks"] = m[:, :, rows][:, :, :, cols]
    return out
