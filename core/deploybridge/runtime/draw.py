"""Drawing detections on images (Pillow): boxes, class names, scores and translucent masks."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

PALETTE = [(230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180), (70, 240, 240), (240, 50, 230),
           (210, 245, 60), (250, 190, 212), (0, 128, 128)]


def label_name(label: int, categories: Sequence[str] | None) -> str:
    if categories and 0 <= label < len(categories) and categories[label]:
        return str(categories[label])
    return str(label)


def draw_detections(pixels: np.ndarray, det: Mapping[str, np.ndarray], categories: Sequence[str] | None = None, title: str = ""):
    """Return a PIL image of ``pixels`` (HxWx3 uint8) with ``det`` drawn on it."""
    from PIL import Image, ImageDraw

    canvas = pixels.astype(np.float32).copy()
    masks = det.get("masks")
    for k in range(len(det.get("scores", []))):
        colour = np.array(PALETTE[int(det["labels"][k]) % len(PALETTE)], np.float32)
        if masks is not None and len(masks):
            m = masks[k, 0] > 0.5
            canvas[m] = 0.55 * canvas[m] + 0.45 * colour
    image = Image.fromarray(canvas.clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for k in range(len(det.get("scores", []))):
        colour = PALETTE[int(det["labels"][k]) % len(PALETTE)]
        x1, y1, x2, y2 = (float(v) for v in det["boxes"][k])
        # an inverted box (x2 < x1: a random or broken model) is drawn where it is, not refused by PIL (exit 3)
        x1, x2, y1, y2 = min(x1, x2), max(x1, x2), min(y1, y2), max(y1, y2)
        draw.rectangle([x1, y1, x2, y2], outline=colour, width=2)
        draw.text((x1 + 2, max(0.0, y1 - 11)), f"{label_name(int(det['labels'][k]), categories)} {float(det['scores'][k]):.2f}", fill=colour)
    if title:
        draw.text((4, 4), title, fill=(255, 255, 255))
    return image


def side_by_side(left, right):
    from PIL import Image

    out = Image.new("RGB", (left.width + right.width + 8, max(left.height, right.height)), (255, 255, 255))
    out.paste(left, (0, 0))
    out.paste(right, (left.width + 8, 0))
    return out


def filter_detections(det: Mapping[str, np.ndarray], thresholds: Mapping[int, float] | float) -> dict:
    """Keep detections whose score reaches their class threshold (a float applies to every class)."""
    scores, labels = det["scores"], det["labels"]
    if isinstance(thresholds, (int, float)):
        keep = scores >= thresholds
    else:
        keep = np.array([s >= thresholds.get(int(lbl), thresholds.get(-1, 0.5)) for s, lbl in zip(scores, labels)], bool)
    return {k: v[keep] if hasattr(v, "__len__") and len(v) == len(scores) else v for k, v in det.items()}


def draw_comparison(reference, runner, seed: int, loaded, path) -> None:
    """PyTorch's detections beside the artifact's on the first verification input (the conversion report's picture),
    shown as a person sees it whatever the family feeds (0-1 RGB, 0-255 BGR: the family's ``preprocessing``)."""
    from deploybridge.runtime.image_io import as_detections, to_display

    inputs, ref = reference(seed)
    got = runner(inputs)
    pixels = to_display(inputs[loaded.input_names[0]], loaded.preprocessing)
    shown = 0.5  # a readable picture; verification compared every detection
    left = draw_detections(pixels, filter_detections(as_detections(ref), shown), loaded.categories, f"PyTorch (score >= {shown})")
    right = draw_detections(pixels, filter_detections(as_detections(got), shown), loaded.categories, f"artifact (score >= {shown})")
    side_by_side(left, right).save(path)
