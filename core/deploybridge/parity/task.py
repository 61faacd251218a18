"""Task-aware parity: does the artifact find the same objects, classes and pixels, not only the same numbers?

The task is what a family declares on its LoadedModel (:class:`deploybridge.records.Task`); each task's matcher and
bounds live in one module of ``deploybridge.parity.tasks`` and are listed by ``TASK_BOUNDS``. A task whose outputs
are missing from the backend fails; it is never skipped.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Mapping

import numpy as np

from deploybridge.parity.output_names import canonical, canonical_names
from deploybridge.parity.tasks import dense, detection, embedding, keypoints, mask_instances
from deploybridge.records import Task

TASK_BOUNDS: dict[Task, dict[str, float]] = {
    Task.DETECTION: detection.BOUNDS,
    Task.INSTANCE_MASKS: {**detection.BOUNDS, **mask_instances.BOUNDS},
    Task.MASK_INSTANCES: mask_instances.BOUNDS,
    Task.KEYPOINTS: keypoints.BOUNDS,
    Task.SEMANTIC_SEGMENTATION: dense.SEGMENTATION_BOUNDS,
    Task.CLASSIFICATION: dense.CLASSIFICATION_BOUNDS,
    Task.EMBEDDING: embedding.BOUNDS,
}
REQUIRED_OUTPUTS: dict[Task, tuple[str, ...]] = {
    Task.DETECTION: detection.OUTPUTS,
    Task.INSTANCE_MASKS: (*detection.OUTPUTS, "masks"),
    Task.MASK_INSTANCES: mask_instances.OUTPUTS,
    Task.KEYPOINTS: keypoints.OUTPUTS,
}
DEFAULT_TASK_TOLERANCES = {k: v for bounds in TASK_BOUNDS.values() for k, v in bounds.items()}


@dataclass
class TaskCheck:
    task: str
    passed: bool
    metrics: dict = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return asdict(self)


def missing_outputs(task: Task | str | None, names) -> list[str]:
    """The outputs ``task`` needs that ``names`` lacks (dense tasks need one output, the first)."""
    task = Task.parse(task)
    if task is None:
        return []
    needed, names = REQUIRED_OUTPUTS.get(task, ()), canonical_names(names)  # "classes" counts as "labels"
    return [n for n in needed if n not in names] if needed else ([] if list(names) else ["(any output)"])


def above_score(outputs: Mapping[str, np.ndarray], floor: float) -> dict:
    """An instance task's outputs without the objects scoring below ``floor`` (every per-object array filtered)."""
    keep = np.asarray(outputs["scores"]).reshape(-1) >= floor
    return {k: (v[keep] if getattr(v, "ndim", 0) >= 1 and len(v) == len(keep) else v) for k, v in outputs.items()}


def task_parity(task: Task | str | None, ref: Mapping[str, np.ndarray], got: Mapping[str, np.ndarray],
                tol: Mapping[str, float] | None = None, tie_margin: float = 0.0,
                ties: Mapping[str, np.ndarray] | None = None) -> TaskCheck | None:
    """The task's matcher on one input's reference and backend outputs; None for a model without a task.
    ``ties``: the reference's elements chosen at a tie (``LoadedModel.at_tie``), left out by the keypoint matcher."""
    task = Task.parse(task)
    if task is None:
        return None
    ref, got = canonical(ref), canonical(got)  # the model's own names for labels ("classes") read as "labels"
    bounds = {**TASK_BOUNDS[task], **{k: v for k, v in (tol or {}).items() if k in DEFAULT_TASK_TOLERANCES}}
    lost = missing_outputs(task, got)
    if lost:
        return TaskCheck(task.value, False, {}, [f"backend lacks the {task.value} output(s) {', '.join(lost)}"])
    if bounds.get("min_compared_score") and task.finds_objects and "scores" in ref and "scores" in got:  # int8
        keep = np.asarray(ref["scores"]).reshape(-1) >= bounds["min_compared_score"]
        ties = {k: np.asarray(v)[keep] for k, v in (ties or {}).items() if len(v) == len(keep)}
        ref, got = above_score(ref, bounds["min_compared_score"]), above_score(got, bounds["min_compared_score"])
    if task in (Task.DETECTION, Task.INSTANCE_MASKS):
        metrics, failures, _ = detection.check(ref, got, bounds, with_masks=task is Task.INSTANCE_MASKS)
    elif task is Task.MASK_INSTANCES:
        metrics, failures = mask_instances.check(ref, got, bounds)
    elif task is Task.KEYPOINTS:
        metrics, failures = keypoints.check(ref, got, bounds, (ties or {}).get("keypoints"))
    else:
        name = next(iter(ref))
        r, g = ref[name], got.get(name)
        if g is None:
            return TaskCheck(task.value, False, {}, [f"backend lacks the output {name}"])
        if task is Task.EMBEDDING:
            metrics, failures = embedding.check(r, g, bounds, tie_margin)
        elif task is Task.CLASSIFICATION:
            metrics, failures = dense.classification(r, g, bounds, tie_margin)
        else:
            metrics, failures = dense.segmentation(r, g, bounds, tie_margin)
    return TaskCheck(task.value, not failures, metrics, failures)


def detection_parity(ref: Mapping[str, np.ndarray], got: Mapping[str, np.ndarray], tol: Mapping[str, float]) -> TaskCheck:
    """Detections, with their masks when both sides have them (instance masks)."""
    task = Task.INSTANCE_MASKS if "masks" in ref and "masks" in got else Task.DETECTION
    return task_parity(task, ref, got, tol)
