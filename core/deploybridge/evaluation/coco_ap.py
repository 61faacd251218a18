"""COCO AP with pycocotools, for detections from PyTorch or from an artifact."""
from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np


CLASS_INDEX = "0-based class index"  # how a family's preprocessing["labels"] starts when its labels are class indices


def category_ids(preprocessing: Mapping | None, categories: Sequence[Mapping]) -> Callable[[np.ndarray], np.ndarray]:
    """How a model's labels become the dataset's category ids. By default a label is a category id (torchvision's
    detectors: background 0, ids as the dataset numbers them). A family whose ``preprocessing["labels"]`` starts
    with :data:`CLASS_INDEX` (MMDetection's, SOLO's) predicts class indices: label i is the i-th of the dataset's
    ``categories`` in the order its json lists them, as MMDetection's CocoDataset maps them; a label past the last
    category becomes -1, which matches no ground truth."""
    if not str((preprocessing or {}).get("labels", "")).startswith(CLASS_INDEX):
        return lambda labels: np.asarray(labels).astype(np.int64)
    ids = np.array([int(c["id"]) for c in categories] + [-1], np.int64)
    return lambda labels: ids[np.minimum(np.asarray(labels).astype(np.int64), len(ids) - 1)]


def model_label(preprocessing: Mapping | None, categories: Sequence[Mapping]) -> Callable[[int], int]:
    """The inverse of :func:`category_ids`: a dataset category id -> the label the model (and `deploy run`) uses."""
    if not str((preprocessing or {}).get("labels", "")).startswith(CLASS_INDEX):
        return int
    index = {int(c["id"]): i for i, c in enumerate(categories)}
    return lambda category: index.get(int(category), -1)


def to_coco_results(image_id: int, boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray,
                    masks: np.ndarray | None = None, mask_threshold: float = 0.5) -> list[dict]:
    """Detections of one image (xyxy boxes; masks N x 1 x H x W probabilities) as COCO result records."""
    from pycocotools import mask as mask_utils

    results = []
    for k in range(len(scores)):
        x1, y1, x2, y2 = (float(v) for v in boxes[k])
        record = {"image_id": image_id, "category_id": int(labels[k]), "score": float(scores[k]),
                  "bbox": [x1, y1, x2 - x1, y2 - y1]}
        if masks is not None:
            binary = np.asfortranarray((masks[k, 0] > mask_threshold).astype(np.uint8))
            rle = mask_utils.encode(binary)
            record["segmentation"] = {"size": rle["size"], "counts": rle["counts"].decode("ascii")}
        results.append(record)
    return results


def coco_ap(annotations: Path, results: Sequence[dict], iou_type: str = "bbox") -> float:
    """AP@[.5:.95] of ``results`` against the COCO json ``annotations`` (0.0 when there are no results)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    if not results:
        return 0.0
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
        gt = COCO(str(annotations))
        dt = gt.loadRes(list(results))
        ev = COCOeval(gt, dt, iou_type)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return float(ev.stats[0])
