"""Whether a verification had anything to compare: a check that compared nothing is not a pass.

A random-weight detector that finds nothing on any verification input "matches" its artifact 0 of 0, and an output
that is the same constant on every input (all zeros, say) agrees with any engine that also outputs that constant,
including one that computes nothing. Either way the verdict is inconclusive: exit 1 unless the user accepts it.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from deploybridge.records import OutputSpec

WHAT_TO_DO = ("verify on inputs where the model gives real outputs: your own images (--inputs DIR), a checkpoint"
              " (--weights), other seeds (--seed), or accept it knowingly with --allow-inconclusive")


def inconclusive_reason(outputs: Sequence[OutputSpec], references: Sequence[Mapping[str, np.ndarray]]) -> str | None:
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
    return None


def nothing_compared(outputs: Sequence[OutputSpec], reference: Mapping[str, np.ndarray]) -> str | None:
    """Why one input's check compared nothing (for the report, input by input), or None: no detections, or every
    float output a single constant. The verdict is judged over all inputs by :func:`inconclusive_reason`."""
    per_detection = [o.name for o in outputs if o.per_detection]
    if per_detection and len(reference[per_detection[0]]) == 0:
        return "no detections in the reference"
    dense = [np.asarray(reference[o.name]) for o in outputs if not o.per_detection]
    dense = [v for v in dense if v.dtype.kind in "fc" and v.size]
    if dense and all(np.all(v == v.flat[0]) for v in dense):
        return "every output is one constant"
    return None
