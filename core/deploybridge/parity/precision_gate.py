"""What verification holds a reduced-precision artifact to, and which checks gate it.

float16 keeps float32's checks with tolerances scaled to float16's rounding (``noise_floor.as_float16``).

int8 is different in kind: each activation is rounded to one of 256 levels of its calibrated range, so an output
moves by a few per cent of its scale, not by a few float32 ulps, and a detection near the score threshold may come
or go. Tensor parity at the float32 noise floor (and its exact detection count) would reject every int8 artifact,
so for int8:

* task parity gates, with the bounds in :data:`INT8_TASK_BOUNDS` (the same objects, classes, boxes within a few
  pixels, masks overlapping);
* ``--eval``'s ΔAP gates with :data:`MAX_DELTA_AP` ["int8"] (1 AP point, the usual int8 post-training target);
* tensor parity is still run and reported, at :data:`INT8_SCALE_FRACTION` of each output's scale, and gates only
  a model without a task (a backbone or an embedding without its task: then it is the only check there is).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Mapping

from deploybridge.records import Tolerance

INT8_SCALE_FRACTION = 0.1  # an output's allowed deviation under int8, as a fraction of its largest magnitude
# task bounds for int8 (float32's are in parity/tasks/*); why each value, in docs/verification.md
INT8_TASK_BOUNDS = {
    "min_compared_score": 0.5,         # the objects a user keeps at a usual threshold; fainter ones come and go
    "min_matched_fraction": 0.75,      # one object in four may cross the 0.5 line (0.51 -> 0.49 measured)
    "max_score_deviation": 0.1,
    "min_label_agreement": 0.95,
    "max_box_deviation_px": 4.0,
    "max_keypoint_deviation_px": 4.0,
    "min_mask_iou": 0.8,
    "max_interior_flip_fraction": 0.1,  # int8 mask logits near 0 flip in patches, not only at edges (docs)
    "min_top1_agreement": 1.0,         # ties within the int8 tolerance excused (tie margin: twice the atol)
    "min_pixel_agreement": 0.99,
    "min_class_iou": 0.9,              # int8 moves up to 1 % of pixels; a class's IoU bound is not yet measured on int8
    "min_cosine_similarity": 0.99,
}
MAX_DELTA_AP = {"fp32": 0.001, "fp16": 0.001, "int8": 0.01}  # |ΔAP| on the [0, 1] scale


def int8_tolerances(tolerances: Mapping[str, Tolerance], scales: Mapping[str, float]) -> dict[str, Tolerance]:
    """Each output's tolerance for int8: INT8_SCALE_FRACTION of the output's scale on the verification inputs (never
    narrower than the float32 one). The noise floor is dropped so the task tie margin follows the int8 atol."""
    out = {}
    for name, tol in tolerances.items():
        scale = float(scales.get(name, 0.0))
        is_bool_fraction = scale == 1.0 and tol.atol < 0.01  # boolean outputs: atol is a flipped fraction
        atol = max(tol.atol, 0.02 if is_bool_fraction else INT8_SCALE_FRACTION * scale)
        out[name] = replace(tol, atol=atol, noise_floor=None,
                            basis=f"int8: {INT8_SCALE_FRACTION:.0%} of the output's scale {scale:.3g} (reported; task"
                                  " parity gates int8)")
    return out


def tolerances(mode: str, fp32: Mapping[str, Mapping], references, user_set: bool,
               given_task: Mapping[str, float]) -> tuple[dict[str, Tolerance], dict[str, float]]:
    """(tensor tolerances, task bounds) for verifying ``mode``, from the float32 verification's tolerances (``fp32``,
    as the manifest stores them) and the reference outputs: float16 scales the measured floor, int8 takes a fraction
    of each output's scale; tolerances the user set (--atol/--rtol) stand."""
    from dataclasses import fields

    from deploybridge.parity import noise_floor as noise
    from deploybridge.records import OutputSpec

    names = {f.name for f in fields(Tolerance)}
    base = {n: Tolerance(**{k: v for k, v in t.items() if k in names}) for n, t in fp32.items()}
    task = task_tolerances(mode, given_task)
    if user_set:
        return base, task
    scales = noise.output_scales(references)
    if mode == "int8":
        return int8_tolerances(base, scales), task
    measured = all(t.noise_floor is not None for t in base.values())
    floor = noise.Floor({n: t.noise_floor for n, t in base.items()}) if measured else noise.Floor(None, "not measured")
    floor = noise.as_float16(floor, noise.bool_outputs(references[0]))
    return noise.tolerances_from_floor([OutputSpec(n) for n in base], floor, base, scales), task


def task_tolerances(mode: str, given: Mapping[str, float]) -> dict[str, float]:
    """The task bounds verification uses at ``mode``: int8's, with the user's --task-tolerance on top."""
    return {**(INT8_TASK_BOUNDS if mode == "int8" else {}), **dict(given)}


def judge(verification, mode: str, allow_inconclusive: bool = False) -> None:
    """Re-decide ``verification.passed`` for an int8 artifact: each input passes on task parity where the model has a
    task (tensor parity stays in the report), on tensor parity otherwise; framework parity and conclusiveness as
    before. float32 and float16 are left as run_checks decided."""
    if mode != "int8":
        return
    for check in verification.inputs:
        if check.task is not None:
            check.passed = bool(check.task.get("passed"))
    passed = all(c.passed for c in verification.inputs)
    if verification.framework is not None:
        passed &= bool(verification.framework.get("passed", True))
    if verification.inconclusive and not allow_inconclusive:
        passed = False
    verification.passed = passed
    note = "tensor parity (int8): reported, not a gate where task parity runs (int8 rounds to 256 levels per tensor)"
    if any(c.task is not None for c in verification.inputs) and note not in verification.not_run:
        verification.not_run.append(note)


def max_delta_ap(manifest_or_mode) -> float:
    """The |ΔAP| bound for a precision ("int8") or an artifact's manifest (its "precision" entry)."""
    mode = manifest_or_mode if isinstance(manifest_or_mode, str) else ((manifest_or_mode or {}).get("precision") or {}).get("mode", "fp32")
    return MAX_DELTA_AP.get(mode, MAX_DELTA_AP["fp32"])
