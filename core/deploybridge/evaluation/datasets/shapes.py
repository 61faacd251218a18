"""The synthetic "shapes" dataset: the embedded default's ground truth.

RGB images with circles, squares and triangles of varied colour, size and
overlap on a noisy background, with COCO annotations (boxes, RLE masks of the
visible part, categories). Deterministic by seed: the same seed gives the
same pixels and annotations on every machine, so the validation split is
generated on demand instead of committed.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CATEGORIES = ("circle", "square", "triangle")
MIN_VISIBLE_PIXELS = 40
MIN_VISIBLE_FRACTION = 0.4


@dataclass(frozen=True)
class Instance:
    category_id: int  # 1-based, COCO style; 0 is background for detectors
    mask: np.ndarray  # bool HxW, visible part only

    @property
    def bbox(self) -> list[float]:
        ys, xs = np.nonzero(self.mask)
        return [float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)]


def _polygon(kind: str, cx: float, cy: float, r: float, angle: float) -> list[tuple[float, float]]:
    if kind == "circle":
        t = np.linspace(0, 2 * np.pi, 48, endpoint=False)
    elif kind == "square":
        t = angle + np.pi / 4 + np.arange(4) * np.pi / 2
    else:
        t = angle - np.pi / 2 + np.arange(3) * 2 * np.pi / 3
    return [(cx + r * np.cos(a), cy + r * np.sin(a)) for a in t]


def make_image(rng: np.random.Generator, height: int, width: int) -> tuple[np.ndarray, list[Instance]]:
    """One image (uint8 HxWx3) and its instances, drawn back to front."""
    from PIL import Image, ImageDraw

    base = rng.uniform(40, 215, 3)
    gradient = np.linspace(-25, 25, width)[None, :, None] * rng.uniform(-1, 1, 3)
    noise = rng.normal(0, 10, (height, width, 3))
    canvas = np.clip(base + gradient + noise, 0, 255).astype(np.uint8)
    image = Image.fromarray(canvas)
    ids = Image.new("I", (width, height), 0)
    drawn: list[tuple[int, int]] = []  # (category_id, full area)
    for k in range(int(rng.integers(2, 7))):
        kind_index = int(rng.integers(len(CATEGORIES)))
        r = float(rng.uniform(0.07, 0.22) * min(height, width))
        cx, cy = rng.uniform(r * 0.6, width - r * 0.6), rng.uniform(r * 0.6, height - r * 0.6)
        poly = _polygon(CATEGORIES[kind_index], cx, cy, r, float(rng.uniform(0, 2 * np.pi)))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        ImageDraw.Draw(image).polygon(poly, fill=colour)
        full = Image.new("1", (width, height), 0)
        ImageDraw.Draw(full).polygon(poly, fill=1)
        ImageDraw.Draw(ids).polygon(poly, fill=k + 1)
        drawn.append((kind_index + 1, int(np.asarray(full).sum())))
    id_map = np.asarray(ids)
    pixels = np.asarray(image).astype(np.float32) + rng.normal(0, 6, (height, width, 3))
    instances = []
    for k, (category, area) in enumerate(drawn):
        visible = id_map == k + 1
        if visible.sum() >= MIN_VISIBLE_PIXELS and visible.sum() >= MIN_VISIBLE_FRACTION * max(area, 1):
            instances.append(Instance(category, visible))
    return np.clip(pixels, 0, 255).astype(np.uint8), instances


def generate(out_dir: Path, num_images: int, seed: int, size: int = 192) -> Path:
    """Write ``images/*.png`` and ``annotations.json`` (COCO) into ``out_dir``; return the json path."""
    from PIL import Image
    from pycocotools import mask as mask_utils

    out_dir = Path(out_dir)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    images, annotations = [], []
    for i in range(num_images):
        pixels, instances = make_image(rng, size, size)
        name = f"{i:06d}.png"
        Image.fromarray(pixels).save(out_dir / "images" / name)
        images.append({"id": i + 1, "file_name": f"images/{name}", "height": size, "width": size})
        for inst in instances:
            rle = mask_utils.encode(np.asfortranarray(inst.mask.astype(np.uint8)))
            annotations.append({
                "id": len(annotations) + 1, "image_id": i + 1, "category_id": inst.category_id,
                "bbox": inst.bbox, "area": float(inst.mask.sum()), "iscrowd": 0,
                "segmentation": {"size": rle["size"], "counts": rle["counts"].decode("ascii")},
            })
    coco = {
        "info": {"description": f"deploybridge shapes, seed {seed}, {num_images} images of {size}x{size}"},
        "images": images,
        "annotations": annotations,
        "categories": [{"id": i + 1, "name": n, "supercategory": "shape"} for i, n in enumerate(CATEGORIES)],
    }
    path = out_dir / "annotations.json"
    path.write_text(json.dumps(coco))
    return path


DEFAULT_SIZE = 192
VALIDATION_SEED = 20261123
VALIDATION_IMAGES = 50


def validation_split(out_dir: Path, size: int = DEFAULT_SIZE, num_images: int = VALIDATION_IMAGES) -> Path:
    """The fixed validation split (generated on demand, never committed); returns its annotations.json."""
    return generate(out_dir, num_images, VALIDATION_SEED, size)


def validation_image(index: int, height: int = DEFAULT_SIZE, width: int | None = None) -> np.ndarray:
    """Image ``index`` of the validation split (uint8 HxWx3), drawn in memory as :func:`validation_split` draws it
    (identical pixels at the split's square size; the same scenes at another size)."""
    rng = np.random.default_rng(VALIDATION_SEED)
    for _ in range(index % VALIDATION_IMAGES):
        make_image(rng, height, width or height)
    return make_image(rng, height, width or height)[0]


def image_for_seed(seed: int, height: int, width: int) -> np.ndarray:
    """What the shapes-trained (embedded) models verify and calibrate on: a verification seed draws the validation
    split's image (seed ``1000 + k``: image k), any other seed (a calibration seed) a fresh scene of its own, never
    one verification sees and never a training image."""
    from deploybridge.parity.synthetic_inputs import CALIBRATION_SEED_BASE, VERIFICATION_SEED_BASE

    if VERIFICATION_SEED_BASE <= seed < CALIBRATION_SEED_BASE:
        return validation_image(seed - VERIFICATION_SEED_BASE, height, width)
    return make_image(np.random.default_rng(seed), height, width)[0]
