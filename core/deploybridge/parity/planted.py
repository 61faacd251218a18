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


def check_plant(name: str, output_names) -> None:
    """A one-line error for an unknown error name, or one the artifact has no output for."""
    if name not in PLANTED:
        raise DeployError(f"unknown planted error '{name}'; choose one of {', '.join(PLANTED)}")
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


def plant(name: str, outputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``outputs`` with the error planted into its first object (the largest, for masks); unchanged without objects."""
    out = {k: np.array(v, copy=True) for k, v in outputs.items()}
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
