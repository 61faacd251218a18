"""Drawing on images (Pillow): detections (boxes, class names, scores, translucent masks, keypoints with the COCO
skeleton) and a semantic segmentation's class map (a translucent colour per class, with a legend)."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

PALETTE = [(230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180), (70, 240, 240), (240, 50, 230),
           (210, 245, 60), (250, 190, 212), (0, 128, 128)]


# COCO person keypoints (0-based): nose, eyes, ears, shoulders, elbows, wrists, hips, knees, ankles; limbs as pairs
COCO_SKELETON = [(15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7), (6, 8), (7, 9),
                 (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6)]


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
    if det.get("keypoints") is not None:  # over every box and label: a skeleton stays whole
        for k in range(len(det.get("scores", []))):
            draw_skeleton(draw, np.asarray(det["keypoints"][k]), PALETTE[int(det["labels"][k]) % len(PALETTE)])
    if title:
        draw.text((4, 4), title, fill=(255, 255, 255))
    return image


def draw_skeleton(draw, keypoints: np.ndarray, colour) -> None:
    """One instance's keypoints (K x 2 or K x 3: x, y[, visibility]) as dots; with COCO's 17, joined by its limbs.
    Every keypoint of a kept instance is drawn (torchvision marks all visible; its heatmap scores are not a
    probability to threshold)."""
    points = [(float(x), float(y)) for x, y in keypoints[:, :2]]
    if len(points) == 17:
        for a, b in COCO_SKELETON:
            draw.line([points[a], points[b]], fill=colour, width=2)
    for x, y in points:
        draw.ellipse([x - 2, y - 2, x + 2, y + 2], fill=colour)


def class_colour(k: int) -> tuple[int, int, int]:
    """The palette's colour for the first classes, then hues a golden angle apart: distinct for 21 VOC classes and more."""
    import colorsys

    if 0 <= k < len(PALETTE):
        return PALETTE[k]
    r, g, b = colorsys.hsv_to_rgb((k * 0.618034) % 1.0, 0.85, 0.95)
    return int(r * 255), int(g * 255), int(b * 255)


LEGEND_WIDTH = 170
ALPHA = 0.45  # the class colour's share of a drawn pixel: the image stays readable under it


def draw_class_map(pixels: np.ndarray, classes: np.ndarray, categories: Sequence[str] | None = None, title: str = ""):
    """``pixels`` (HxWx3 uint8) with each class of ``classes`` (H x W) laid over it in its translucent colour, and a
    legend on the right: each class present, largest first, with its colour, name and share of the pixels. A class
    named ``__background__`` is listed but left uncoloured, so the scene shows through."""
    from PIL import Image, ImageDraw

    canvas = pixels.astype(np.float32).copy()
    present, counts = np.unique(classes, return_counts=True)
    coloured = {int(k): label_name(int(k), categories) != "__background__" for k in present}
    for k in present:
        if coloured[int(k)]:
            where = classes == k
            canvas[where] = (1 - ALPHA) * canvas[where] + ALPHA * np.array(class_colour(int(k)), np.float32)
    height, width = classes.shape
    rows = np.argsort(-counts, kind="stable")
    image = Image.new("RGB", (width + LEGEND_WIDTH, max(height, 16 * len(rows) + 8)), (255, 255, 255))
    image.paste(Image.fromarray(canvas.clip(0, 255).astype(np.uint8)), (0, 0))
    draw = ImageDraw.Draw(image)
    for row, k in enumerate(present[rows]):
        y = 4 + 16 * row
        fill = class_colour(int(k)) if coloured[int(k)] else None  # an empty swatch: uncoloured in the image
        draw.rectangle([width + 6, y, width + 18, y + 12], fill=fill, outline=(0, 0, 0))
        share = counts[rows[row]] / classes.size
        draw.text((width + 24, y), f"{label_name(int(k), categories)} {share:.1%}", fill=(0, 0, 0))
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
