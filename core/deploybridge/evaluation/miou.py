"""`--eval` on a semantic segmenter: mean IoU of PyTorch and of the artifact on a COCO dataset, and their difference.

Ground truth: each image's class map rasterised from its instance annotations in the json's order, a later instance
painting over an earlier one (the shapes dataset lists them back to front, as it draws them); pixels of no instance
are background (class 0); crowd regions are left out. Predictions: the argmax of the model's first output (N x C x H
x W scores), fed and mapped back onto the image as `deploy run` does (:func:`deploybridge.runtime.image_io.class_map`).
Each class's IoU comes from the confusion matrix summed over the whole dataset; mIoU is their mean over the classes
present in the ground truth or the prediction, background included (as torchvision's segmentation references count
it). The gate is the AP one: |ΔmIoU| and every class's |ΔIoU| within ``max_delta`` (0.001 for float32).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from deploybridge.errors import DeployError

MAX_DELTA_MIOU = 0.001
IGNORE = -1  # a crowd region: counted for no class


@dataclass
class MiouResult:
    dataset: str
    images: int
    metric: str = "mIoU"
    miou: dict[str, dict[str, float]] = field(default_factory=dict)  # runner -> {"miou", "iou_<class>", ...}
    delta: dict[str, float] = field(default_factory=dict)  # "<runner>:<metric>" -> runner - reference
    max_delta: float = MAX_DELTA_MIOU
    passed: bool = True

    @property
    def scores(self) -> dict[str, dict[str, float]]:
        return self.miou

    def to_json(self) -> dict:
        return asdict(self)


def class_index(model_categories: Sequence[str] | None, categories: Sequence[Mapping], classes: int) -> dict[int, int]:
    """Dataset category id -> the model's class index: by name where the model names its classes and every category
    is among them, else the id itself (torchvision's convention: background 0, then the dataset's ids)."""
    names = list(model_categories or [])
    if names and all(c["name"] in names for c in categories):
        mapping = {int(c["id"]): names.index(c["name"]) for c in categories}
    else:
        mapping = {int(c["id"]): int(c["id"]) for c in categories}
    beyond = [cid for cid, k in mapping.items() if not 0 < k < classes]
    if beyond:
        raise DeployError(f"dataset category {beyond[0]} has no class among this model's {classes} outputs (0 is"
                          " background); give a dataset whose categories the model predicts")
    return mapping


def ground_truth(annotations: Sequence[Mapping], to_class: Mapping[int, int], height: int, width: int) -> np.ndarray:
    """H x W class map (int64) of one image's annotations painted in order; crowd regions :data:`IGNORE`."""
    from pycocotools import mask as mask_utils

    truth = np.zeros((height, width), np.int64)
    for ann in annotations:
        segm = ann.get("segmentation")
        if not segm:
            raise DeployError(f"annotation {ann.get('id')} has no segmentation; mIoU needs mask annotations")
        if isinstance(segm, list):  # polygons
            rle = mask_utils.merge(mask_utils.frPyObjects(segm, height, width))
        elif isinstance(segm.get("counts"), list):  # uncompressed RLE
            rle = mask_utils.frPyObjects(segm, height, width)
        else:
            rle = segm
        mask = mask_utils.decode(rle).astype(bool)
        if mask.shape != truth.shape:
            raise DeployError(f"annotation {ann.get('id')}'s mask is {mask.shape[1]}x{mask.shape[0]}, its image"
                              f" {width}x{height}; fix the dataset's sizes")
        truth[mask] = IGNORE if ann.get("iscrowd") else to_class[int(ann["category_id"])]
    return truth


def confusion(truth: np.ndarray, predicted: np.ndarray, classes: int) -> np.ndarray:
    """classes x classes pixel counts, rows the ground truth, columns the prediction; ignored pixels left out."""
    keep = truth != IGNORE
    pairs = truth[keep] * classes + np.clip(predicted[keep], 0, classes - 1)
    return np.bincount(pairs, minlength=classes * classes).reshape(classes, classes)


def ious(matrix: np.ndarray, names: Sequence[str]) -> dict[str, float]:
    """{"miou", "iou_<name>" ...} of a confusion matrix: each class with ground truth or prediction, and their mean."""
    inter = np.diag(matrix).astype(np.float64)
    union = matrix.sum(0) + matrix.sum(1) - inter
    per_class = {f"iou_{names[c]}": float(inter[c] / union[c]) for c in np.flatnonzero(union)}
    return {"miou": float(np.mean(list(per_class.values()))) if per_class else 0.0, **per_class}


def evaluate(annotations: Path, runners: Mapping[str, Callable[[np.ndarray], np.ndarray]], input_shape, classes: int,
             model_categories: Sequence[str] | None = None, preprocessing: Mapping | None = None,
             max_delta: float = MAX_DELTA_MIOU) -> MiouResult:
    """``runners`` map a name ("pytorch", backend) to ``run(input ndarray) -> 1 x C x H x W`` class scores; each
    image goes through each as `deploy run` sends it. The first runner is the reference of the deltas."""
    from deploybridge.runtime.image_io import class_map, load_rgb

    coco = json.loads(Path(annotations).read_text())
    to_class = class_index(model_categories, coco.get("categories") or [], classes)
    names = list(model_categories) if model_categories and len(model_categories) >= classes else \
        ["background", *(str(k) for k in range(1, classes))]
    by_image: dict[int, list] = {}
    for ann in coco.get("annotations", []):
        by_image.setdefault(ann["image_id"], []).append(ann)
    totals = {name: np.zeros((classes, classes), np.int64) for name in runners}
    for img in coco["images"]:
        pixels = load_rgb(Path(annotations).parent / img["file_name"])
        truth = ground_truth(by_image.get(img["id"], []), to_class, *pixels.shape[:2])
        for name, run in runners.items():
            totals[name] += confusion(truth, class_map(pixels, run, input_shape, preprocessing), classes)
    names = [n.strip("_") for n in names]  # "__background__" -> iou_background
    res = MiouResult(dataset=str(annotations), images=len(coco["images"]), max_delta=max_delta)
    res.miou = {name: ious(matrix, names) for name, matrix in totals.items()}
    ref_name, *others = list(runners)
    for name in others:
        for metric in dict.fromkeys([*res.miou[ref_name], *res.miou[name]]):
            res.delta[f"{name}:{metric}"] = res.miou[name].get(metric, 0.0) - res.miou[ref_name].get(metric, 0.0)
    res.passed = all(abs(d) <= max_delta for d in res.delta.values())
    return res


def torch_scores(module) -> Callable[[np.ndarray], np.ndarray]:
    """A segmenter module as an :func:`evaluate` runner: its first output's scores."""
    import torch

    def run(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            out = module(torch.from_numpy(x))
        if isinstance(out, Mapping):
            out = out["out"] if "out" in out else next(iter(out.values()))
        elif isinstance(out, (tuple, list)):
            out = out[0]
        return out.numpy()

    return run


def miou_delta_on_dataset(loaded, runner: Callable[[dict], dict], backend: str, dataset: str, input_shape,
                          max_delta: float = MAX_DELTA_MIOU) -> MiouResult:
    """mIoU of PyTorch (``loaded``) and of the artifact (``runner``) on ``dataset`` ('shapes' or a COCO json)."""
    from deploybridge.evaluation.ap_delta import resolve_dataset

    name, first = loaded.input_names[0], loaded.output_names[0]
    reference = torch_scores(loaded.module)
    shape = [1, *list(input_shape)[1:]]  # one image at a time; a fixed batch gets the image repeated
    batch = int(input_shape[0]) if isinstance(input_shape[0], int) and input_shape[0] > 1 else 1

    def repeated(run):
        return (lambda x: run(np.repeat(x, batch, axis=0))[:1]) if batch > 1 else run

    runners = {"pytorch": repeated(reference), backend: repeated(lambda x: np.asarray(runner({name: x})[first]))}
    probe = reference(np.zeros([batch, *shape[1:]], np.float32))
    with resolve_dataset(dataset, int(input_shape[2])) as annotations:
        result = evaluate(annotations, runners, shape, int(probe.shape[1]), loaded.categories, loaded.preprocessing,
                          max_delta)
    if dataset == "shapes":  # generated in a temporary folder: name it, not its path
        result.dataset = "the shapes validation split"
    return result
