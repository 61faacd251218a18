"""Whether a verification had anything to compare: a check that compared nothing is not a pass.

A random-weight detector that finds nothing on any verification input "matches" its artifact 0 of 0, and an output
that is the same constant on every input (all zeros, say) agrees with any engine that also outputs that constant,
including one that computes nothing. Either way the verdict is inconclusive: exit 1 unless the user accepts it.
So is a semantic segmentation whose reference class map is one class everywhere on every input: its scores vary, but
an engine that outputs a constant (all zeros: class 0 everywhere) agrees pixel for pixel when that class is 0, and no
boundary between two classes is ever compared.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from deploybridge.records import OutputSpec

WHAT_TO_DO = ("verify on inputs where the model gives real outputs: your own images (--inputs DIR), a checkpoint"
              " (--weights), other seeds (--seed), or accept it knowingly with --allow-inconclusive")


def one_class(outputs: Sequence[OutputSpec], reference: Mapping[str, np.ndarray], task) -> int | None:
    """The class a semantic segmentation's reference class map (the argmax of its first output, N x C x H x W) shows
    at every pixel, or None (several classes, or not a segmentation)."""
    from deploybridge.records import Task

    if Task.parse(task) is not Task.SEMANTIC_SEGMENTATION or not outputs:
        return None
    scores = np.asarray(reference[outputs[0].name])
    if scores.ndim < 3 or scores.shape[1] < 2 or not scores.size:
        return None
    classes = np.unique(scores.argmax(1))
    return int(classes[0]) if len(classes) == 1 else None


PARALLEL_COSINE = 0.99999


def parallel_embeddings(outputs: Sequence[OutputSpec], references: Sequence[Mapping[str, np.ndarray]],
                        task) -> str | None:
    """Why an embedder's reference vectors say nothing: all of them, over every input, point the same way (an
    untrained embedder's collapse), so no artifact could rank them differently; or None."""
    from deploybridge.records import Task

    if Task.parse(task) is not Task.EMBEDDING or not outputs:
        return None
    rows = np.concatenate([np.asarray(ref[outputs[0].name], np.float64).reshape(len(ref[outputs[0].name]), -1)
                           for ref in references])
    if len(rows) < 2:
        return None
    unit = rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-300)
    least = float((unit @ unit.T).min())
    if least < PARALLEL_COSINE:
        return None
    return (f"the reference's {len(rows)} embeddings all point the same way (pairwise cosine similarity at least"
            f" {least:.6f}), so no ranking was compared")


def inconclusive_reason(outputs: Sequence[OutputSpec], references: Sequence[Mapping[str, np.ndarray]],
                        task=None) -> str | None:
    """Why the reference outputs on the verification inputs leave nothing to compare, or None."""
    if not references:
        return "there were no verification inputs"
    per_detection = [o.name for o in outputs if o.per_detection]
    if per_detection and all(len(ref[per_detection[0]]) == 0 for ref in references):
        return (f"the reference has no detections on any of the {len(references)} verification inputs, so detection"
                " parity compared nothing")
    for o in outputs:
        if o.per_detection:
            continue
        values = [np.asarray(ref[o.name]) for ref in references]
        if values[0].dtype.kind not in "fc" or not all(v.size for v in values):
            continue
        first = values[0].flat[0]
        if all(np.all(v == first) for v in values):
            return f"output '{o.name}' is the constant {first:.6g} on every verification input"
    parallel = parallel_embeddings(outputs, references, task)
    if parallel:
        return parallel
    single = [one_class(outputs, ref, task) for ref in references]
    if all(c is not None for c in single):
        shown = ", ".join(map(str, sorted(set(single))))
        return (f"the reference's class map is one class ({shown}) everywhere on each of the {len(references)}"
                " verification inputs, so segmentation parity compared no boundary between classes")
    return None


def nothing_compared(outputs: Sequence[OutputSpec], reference: Mapping[str, np.ndarray], task=None) -> str | None:
    """Why one input's check compared nothing (for the report, input by input), or None: no detections, every
    float output a single constant, or a segmentation's class map one class. The verdict is judged over all inputs
    by :func:`inconclusive_reason`."""
    per_detection = [o.name for o in outputs if o.per_detection]
    if per_detection and len(reference[per_detection[0]]) == 0:
        return "no detections in the reference"
    dense = [np.asarray(reference[o.name]) for o in outputs if not o.per_detection]
    dense = [v for v in dense if v.dtype.kind in "fc" and v.size]
    if dense and all(np.all(v == v.flat[0]) for v in dense):
        return "every output is one constant"
    single = one_class(outputs, reference, task)
    return None if single is None else f"the class map is class {single} everywhere"
