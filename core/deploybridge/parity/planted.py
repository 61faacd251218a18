"""The smallest errors that matter, planted into a backend's outputs, so a user (and the tests) can watch
verification catch each one: ``deploy verify DIR --plant NAME``.

A check that has never been seen to fail proves nothing. Each error here is the size below which a deployment would
still be right for every practical purpose, and above which it is wrong: verification must fail on every one, in
float32 and float16 alike (docs/verification.md has the table from a real run).
"""
from __future__ import annotations

import math
from typing import Callable, Mapping

import numpy as np

from deploybridge.errors import DeployError
from deploybridge.parity.matching import binary, edge
from deploybridge.parity.output_names import model_name

PLANTED = {
    "mask_region": "a region of 1 % of one object's mask flipped (the largest object, at its middle)",
    "label_swap": "one object's label swapped for another class",
    "box_shift": "one box shifted 2 px to the right",
    "score_shift": "one score changed by 0.05",
}
NEEDS = {"mask_region": "masks", "label_swap": "labels", "box_shift": "boxes", "score_shift": "scores"}
# errors in a semantic segmentation's N x C x H x W scores (its first output)
SEGMENTATION_PLANTED = {
    "class_region": "2 % of the pixels of one class (the least frequent in the first image, at its middle) given"
                    " their second-best class",
    "zeros": "the segmentation scores all zeros (seed 004: a TensorRT engine whose output was all zeros)",
}
# errors in an embedder's N x D vectors (its first output)
EMBEDDING_PLANTED = {
    "rank_flip": "the first query's vector moved the least that makes its second-best gallery match its best (a re-id"
                 " mismatch that a per-vector cosine bound can let through)",
}
CLASS_REGION_FRACTION = 0.02  # twice what min_class_iou 0.99 lets through


def check_plant(name: str, output_names, task=None) -> None:
    """A one-line error for an unknown error name, or one the artifact has no output (or not the task) for."""
    from deploybridge.records import Task

    if name in EMBEDDING_PLANTED:
        if Task.parse(task) is not Task.EMBEDDING:
            raise DeployError(f"--plant {name} changes an embedder's vectors; this artifact's task is"
                              f" {Task.parse(task).value if Task.parse(task) else 'not declared'}")
        return
    if name in SEGMENTATION_PLANTED:
        if Task.parse(task) is not Task.SEMANTIC_SEGMENTATION:
            raise DeployError(f"--plant {name} changes a semantic segmentation's class scores; this artifact's task is"
                              f" {Task.parse(task).value if Task.parse(task) else 'not declared'}")
        return
    if name not in PLANTED:
        raise DeployError(f"unknown planted error '{name}'; choose one of {', '.join([*PLANTED, *SEGMENTATION_PLANTED, *EMBEDDING_PLANTED])}")
    if model_name(NEEDS[name], output_names) is None:  # "classes" is a "labels" output
        raise DeployError(f"--plant {name} changes the '{NEEDS[name]}' output, which this artifact does not have"
                          f" (outputs: {', '.join(output_names)})")


def _middle_region(mask: np.ndarray, fraction: float) -> np.ndarray:
    """Indices (flat) of the ceil(fraction x area) pixels of the mask's interior nearest its centroid."""
    inside = mask & ~edge(mask)
    ys, xs = np.nonzero(inside)
    if not len(ys):
        return np.zeros(0, np.int64)
    count = min(len(ys), math.ceil(fraction * int(mask.sum())))
    nearest = np.argsort((ys - ys.mean()) ** 2 + (xs - xs.mean()) ** 2, kind="stable")[:count]
    return ys[nearest] * mask.shape[1] + xs[nearest]


def _class_region(scores: np.ndarray) -> np.ndarray:
    """``scores`` (N x C x H x W) with CLASS_REGION_FRACTION of one class's pixels in the first image given their
    second-best class (its two scores swapped there): the least frequent class with pixels away from its edge."""
    out = np.array(scores, copy=True)
    first = out[0]
    class_map = first.argmax(0)
    classes, areas = np.unique(class_map, return_counts=True)
    for c in classes[np.argsort(areas, kind="stable")]:
        region = _middle_region(class_map == c, CLASS_REGION_FRACTION)
        if len(region) >= math.ceil(CLASS_REGION_FRACTION * int((class_map == c).sum())):
            ys, xs = np.unravel_index(region, class_map.shape)
            runner_up = np.argsort(first[:, ys, xs], axis=0)[-2]
            best, second = first[c, ys, xs].copy(), first[runner_up, ys, xs].copy()
            first[c, ys, xs], first[runner_up, ys, xs] = second, best
            return out
    return out


def plant(name: str, outputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``outputs`` with the error planted into its first object (the largest, for masks); unchanged without objects.
    A segmentation error goes into the first output, the class scores."""
    out = {k: np.array(v, copy=True) for k, v in outputs.items()}
    if name in EMBEDDING_PLANTED:
        first = next(iter(out))
        out[first] = _rank_flip(out[first])
        return out
    if name in SEGMENTATION_PLANTED:
        scores = next(iter(out))
        out[scores] = _class_region(out[scores]) if name == "class_region" else np.zeros_like(out[scores])
        return out
    target = out[model_name(NEEDS[name], out)]  # under the model's own name ("classes" for "labels")
    if not len(target):
        return out
    if name == "mask_region":
        masks = target
        flat = masks.reshape(len(masks), -1)
        k = int(binary(flat).sum(1).argmax())
        plane = binary(masks[k]).reshape(masks.shape[-2:])
        region = _middle_region(plane, 0.01)
        flat[k, region] = ~flat[k, region] if masks.dtype == np.bool_ else 1.0 - flat[k, region]
        out["masks"] = flat.reshape(masks.shape)
    elif name == "label_swap":
        target[0] += 1  # a class the object was not given
    elif name == "box_shift":
        target[0, [0, 2]] += 2.0
    else:
        target[0] = target[0] - 0.05 if target[0] > 0.95 else target[0] + 0.05
    return out


def _rank_flip(vectors: np.ndarray) -> np.ndarray:
    """Row 0 (the first query) moved toward its second-best gallery row (odd rows) until that ranks first, by 1 % of
    their gap past the tie; a batch too small to hold a gallery of two is left as it is."""
    if len(vectors) < 4:
        return vectors
    unit = lambda v: v / max(float(np.linalg.norm(v)), 1e-30)  # noqa: E731
    q, gallery = vectors[0].astype(np.float64), vectors[1::2].astype(np.float64)
    sims = np.array([unit(q) @ unit(g) for g in gallery])
    best, second = np.argsort(-sims)[:2]
    direction = (unit(gallery[second]) - unit(gallery[best])) * np.linalg.norm(q)
    lo, hi = 0.0, 1.0
    while unit(q + hi * direction) @ (unit(gallery[second]) - unit(gallery[best])) <= 0:
        hi *= 2
    for _ in range(60):  # the least move that flips the two
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if unit(q + mid * direction) @ (unit(gallery[second]) - unit(gallery[best])) > 0 else (mid, hi)
    out = vectors.copy()
    out[0] = (q + hi * 1.01 * direction).astype(vectors.dtype)
    return out


def planted_runner(run: Callable[[dict], dict], name: str) -> Callable[[dict], dict]:
    """A backend runner whose outputs carry the planted error."""
    return lambda inputs: plant(name, run(inputs))


def caught_by(verification: Mapping) -> list[str]:
    """The checks that failed, named once each, from a verification's JSON (``deploy verify --json``): tensor parity
    per output, the task matcher's failures (numbers dropped), framework parity."""
    import re

    found: list[str] = []
    for check in verification.get("inputs", []):
        for output in check.get("outputs", []):
            if not output["passed"]:
                found.append(f"tensor parity: {output['name']}")
        for failure in (check.get("task") or {}).get("failures", []):
            found.append(f"{check['task']['task']} parity: " + re.sub(r"[-+]?\d[\d.e+-]*%?", "N", failure))
    framework = verification.get("framework") or {}
    if framework and not framework.get("passed", True):
        found.append("framework parity")
    return list(dict.fromkeys(found))
