"""`--eval`: AP of PyTorch and of the artifact on a COCO dataset, and their difference.

Detectron2's deployment guide promises AP within 0.1 points of the original;
deploybridge fails the verification when |ΔAP| exceeds that for fp32.
"""
from __future__ import annotations

import json
import tempfile
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence

import numpy as np

from deploybridge.errors import DeployError
from deploybridge.parity.output_names import canonical_names
from deploybridge.records import Task

MAX_DELTA_AP = 0.001  # 0.1 AP points on the [0, 1] scale


@dataclass
class EvalResult:
    dataset: str
    images: int
    ap: dict[str, dict[str, float]] = field(default_factory=dict)  # runner -> {"box_ap", "mask_ap"}
    delta: dict[str, float] = field(default_factory=dict)
    max_delta: float = MAX_DELTA_AP
    passed: bool = True
    metric = "AP"  # what the tables and messages name (evaluation.miou.MiouResult: "mIoU"); not in the json

    @property
    def scores(self) -> dict[str, dict[str, float]]:
        return self.ap

    def to_json(self) -> dict:
        return asdict(self)


@contextmanager
def resolve_dataset(name: str, size: int) -> Iterator[Path]:
    """``shapes`` (the validation split, generated on demand) or a COCO annotations json; yields its path."""
    if name == "shapes":
        from deploybridge.evaluation.datasets.shapes import validation_split

        with tempfile.TemporaryDirectory(prefix="deploybridge-shapes-") as tmp:
            yield validation_split(Path(tmp), size=size)
        return
    path = Path(name)
    if not path.is_file():
        raise DeployError(f"dataset {path} not found; give a COCO annotations .json (images relative to it) or 'shapes'")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise DeployError(f"{path} is not a COCO annotations json") from None
    if not isinstance(data, dict) or not data.get("images") or not data.get("annotations"):
        raise DeployError(f"{path} has no images or no annotations; AP needs ground truth")
    yield path


def torch_runner(module, output_names) -> Callable[[np.ndarray], dict]:
    """A tensor-in/tensor-out module as an ``evaluate`` runner."""
    import torch

    def run(x: np.ndarray) -> dict:
        with torch.no_grad():
            return {n: t.numpy() for n, t in zip(output_names, module(torch.from_numpy(x)))}

    return run


def evaluate(annotations: Path, runners: dict[str, Callable[[np.ndarray], dict]], input_shape, with_masks: bool,
             preprocessing: Mapping | None = None, max_delta: float = MAX_DELTA_AP) -> EvalResult:
    """``runners`` map a name ("pytorch", backend) to ``run(input ndarray) -> outputs by name`` (boxes, scores,
    labels and/or masks). Each image goes through each runner as `deploy run` sends it
    (:func:`deploybridge.runtime.image_io.detect`: fed as ``preprocessing`` says, read back onto the image), and
    labels become the dataset's category ids as the preprocessing says (:func:`coco_ap.category_ids`)."""
    results = detections(annotations, runners, input_shape, with_masks, preprocessing)
    return score(annotations, results, with_masks, max_delta)


def detections(annotations: Path, runners: dict[str, Callable[[np.ndarray], dict]], input_shape, with_masks: bool,
               preprocessing: Mapping | None = None, image_ids: Sequence[int] | None = None) -> dict[str, list]:
    """Each runner's COCO result records on the dataset's images (only ``image_ids``, when given: one shard of a
    fanned-out evaluation, deploybridge.evaluation.shards). Per image, so shards merged are the whole run."""
    from deploybridge.evaluation.coco_ap import category_ids, to_coco_results
    from deploybridge.runtime.image_io import detect, load_rgb

    coco = json.loads(Path(annotations).read_text())
    to_category = category_ids(preprocessing, coco.get("categories") or [])
    wanted = None if image_ids is None else set(image_ids)
    results: dict[str, list] = {name: [] for name in runners}
    for img in coco["images"]:
        if wanted is not None and img["id"] not in wanted:
            continue
        pixels = load_rgb(Path(annotations).parent / img["file_name"])
        for name, run in runners.items():
            out = detect(pixels, run, input_shape, preprocessing)
            results[name] += to_coco_results(img["id"], out["boxes"], out["scores"], to_category(out["labels"]),
                                             out.get("masks") if with_masks else None)
    return results


def score(annotations: Path, results: Mapping[str, list], with_masks: bool, max_delta: float = MAX_DELTA_AP) -> EvalResult:
    """AP per runner from its records, and each runner's difference to the first (the reference)."""
    from deploybridge.evaluation.coco_ap import coco_ap

    coco = json.loads(Path(annotations).read_text())
    res = EvalResult(dataset=str(annotations), images=len(coco["images"]), max_delta=max_delta)
    for name, dets in results.items():
        res.ap[name] = {"box_ap": coco_ap(annotations, dets, "bbox")}
        if with_masks:
            res.ap[name]["mask_ap"] = coco_ap(annotations, dets, "segm")
    ref_name, *others = list(results)
    for name in others:
        for metric, value in res.ap[name].items():
            res.delta[f"{name}:{metric}"] = value - res.ap[ref_name][metric]
    res.passed = all(abs(d) <= max_delta for d in res.delta.values())
    return res


def ap_delta_on_dataset(loaded, runner: Callable[[dict], dict], backend: str, dataset: str, input_shape,
                        max_delta: float = MAX_DELTA_AP) -> EvalResult:
    """AP of PyTorch (``loaded``) and of the artifact (``runner``) on ``dataset``, both fed each image as `deploy run`
    feeds the artifact: the family's ``preprocessing`` (detectors and mask-only instance segmenters). A semantic
    segmenter gets mIoU instead (:func:`deploybridge.evaluation.miou.miou_delta_on_dataset`)."""
    if Task.parse(loaded.task) is Task.SEMANTIC_SEGMENTATION:
        from deploybridge.evaluation.miou import miou_delta_on_dataset

        return miou_delta_on_dataset(loaded, runner, backend, dataset, input_shape, max_delta)
    runners, with_masks = instance_runners(loaded, runner, backend)
    with resolve_dataset(dataset, int(input_shape[2])) as annotations:
        result = evaluate(annotations, runners, input_shape, with_masks, loaded.preprocessing, max_delta)
    if dataset == "shapes":  # generated in a temporary folder: name it, not its path
        result.dataset = "the shapes validation split"
    return result


def instance_runners(loaded, runner: Callable[[dict], dict], backend: str) -> tuple[dict, bool]:
    """({"pytorch": ..., backend: ...} as ``evaluate`` runners, whether mask AP applies); a one-line error for a model
    whose outputs are not instances."""
    outputs = set(canonical_names(loaded.output_names))  # "classes" read as "labels"
    if not ({"scores", "labels"} <= outputs and outputs & {"boxes", "masks"}):  # instances: what `deploy run` reads
        raise DeployError(f"--eval computes detection AP or segmentation mIoU; this model's task is"
                          f" {loaded.task or 'unknown'} (outputs {', '.join(loaded.output_names)}): drop --eval")
    name = loaded.input_names[0]
    return {"pytorch": torch_runner(loaded.module, loaded.output_names), backend: lambda x: runner({name: x})}, "masks" in outputs
