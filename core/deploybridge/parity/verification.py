"""Verification: the reference (PyTorch) and the backend on the same inputs, every input checked by tensor parity
and, for a known task, task parity; also at the family's other shapes for dynamic exports, and again later from an
artifact folder alone (``deploy verify``)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import numpy as np

from deploybridge.errors import DeployError, first_line
from deploybridge.parity.tensor import InputCheck, OutputCheck, compare_outputs, tolerances_for
from deploybridge.records import LoadedModel, ModelSpec, OutputSpec, Tolerance

if TYPE_CHECKING:
    from deploybridge.plugins import Host


@dataclass
class Verification:
    backend: str
    passed: bool
    inputs: list[InputCheck]
    tolerances: dict[str, dict]
    task_tolerances: dict[str, float] = field(default_factory=dict)
    inconclusive: str | None = None  # why the checks had nothing to compare (deploybridge.parity.conclusive)
    framework: dict | None = None  # the wrapper against the framework's own predict (parity.framework.check), if run
    not_run: list[str] = field(default_factory=list)  # checks run_checks could not run: "check: not run, reason"

    def to_json(self) -> dict:
        return asdict(self)

    def mark_inconclusive(self, reason: str | None, allowed: bool = False) -> None:
        """Record that the checks compared nothing; unless ``allowed``, that is not a pass."""
        self.inconclusive = reason
        if reason and not allowed:
            self.passed = False

    def summary(self) -> str:
        bad = [c for i in self.inputs for c in i.outputs if not c.passed]
        errors = [c.max_abs for i in self.inputs for c in i.outputs if c.max_abs is not None]
        # rows are not compared by value when counts or shapes differ (int8 may keep or drop a faint detection): say so,
        # never print such outputs as an error of 0
        unpaired = sum(c.max_abs is None for i in self.inputs for c in i.outputs)
        worst = f"{max(errors):.3g}" if errors else "not computed"
        worst += f" ({unpaired} output check(s) not compared by value: counts or shapes differ, or NaN)" if unpaired else ""
        if self.inconclusive:
            from deploybridge.parity.conclusive import WHAT_TO_DO

            accepted = " (accepted with --allow-inconclusive)" if self.passed else ""
            return f"INCONCLUSIVE{accepted}: {self.inconclusive}; {WHAT_TO_DO}"
        state = "PASSED" if self.passed else "FAILED"
        text = f"{state}: {len(self.inputs)} inputs, max abs error {worst}, {len(bad)} output check(s) out of tolerance"
        tasks = [i.task for i in self.inputs if i.task]
        if tasks:
            failed = sum(not t["passed"] for t in tasks)
            text += f", {tasks[0]['task']} parity failed on {failed} of {len(tasks)} inputs" if failed else f", {tasks[0]['task']} parity ok"
            at_threshold = sum(i.threshold_ties for i in self.inputs)
            if at_threshold:
                text += (f" ({at_threshold} detection(s) kept by one side only with a score within the tie margin of"
                         " the model's score threshold: not compared)")
            at_tie = sum(t["metrics"].get("keypoints_at_tie", 0) for t in tasks)
            if at_tie:
                text += (f" ({at_tie} keypoint(s) left out: the reference's heatmap had another peak within the tie"
                         " margin, either is right)")
        if self.framework and not self.framework.get("passed", True):
            text += f", {self.framework.get('framework') or 'framework'} parity FAILED"
        notes = self.tolerance_notes()
        return text + (f"; tolerances: {'; '.join(notes)}" if notes else "")

    def tolerance_notes(self) -> list[str]:
        """The outputs whose atol did not come from a measured noise floor: capped at the ceiling, or not measured."""
        return [f"{name} {t['basis']}" for name, t in self.tolerances.items()
                if str(t.get("basis", "")).startswith(("capped", "default, noise floor not measured"))] + [
            f"{name}: {t['peer']}" for name, t in self.tolerances.items() if t.get("peer")]


def _backend_failed(seed: int, outputs: Sequence[OutputSpec], ref: Mapping[str, np.ndarray],
                    tolerances: Mapping[str, Tolerance], exc: Exception) -> InputCheck:
    note = f"backend failed on this input: {first_line(exc)}"
    return InputCheck(seed=seed, passed=False, outputs=[
        OutputCheck(o.name, list(ref[o.name].shape), [], None, None, tolerances[o.name].atol, tolerances[o.name].rtol,
                    False, note) for o in outputs])


def verify(
    backend: str, outputs: Sequence[OutputSpec], seeds: Sequence[int],
    reference: Callable[[int], tuple[dict, dict]], run_backend: Callable[[dict], dict],
    tolerances: Mapping[str, Tolerance], on_input: Callable[[int], None] | None = None,
    task: str | None = None, task_tolerances: Mapping[str, float] | None = None, allow_inconclusive: bool = False,
    ties: Callable[[dict], Mapping[str, np.ndarray]] | None = None, score_threshold: float | None = None,
) -> Verification:
    """``reference(seed)`` returns (inputs, reference outputs) as numpy dicts; ``ties(inputs)`` the reference's
    elements chosen at a tie on those inputs (:func:`tie_finder`), which both checks leave out and count, as they do
    detections one side alone kept at the model's ``score_threshold`` (:func:`threshold_ties`).

    Both checks must pass: tensor parity (every output within tolerance) and,
    for a known ``task``, task-aware parity (same objects, classes, pixels). A verification whose reference outputs
    leave nothing to compare is inconclusive, not a pass, unless ``allow_inconclusive``.
    """
    from deploybridge.parity.conclusive import inconclusive_reason, nothing_compared
    from deploybridge.parity.task import DEFAULT_TASK_TOLERANCES, task_parity
    from deploybridge.parity.output_names import model_name
    from deploybridge.parity.ties import threshold_ties, tie_margin

    task_tol = {**DEFAULT_TASK_TOLERANCES, **(task_tolerances or {})}
    first = outputs[0].name if outputs else None
    margin = tie_margin(tolerances[first].noise_floor, tolerances[first].atol) if first in tolerances else 0.0
    at_cut = tolerances.get(model_name("scores", [o.name for o in outputs if o.per_detection]) or "")
    score_margin = tie_margin(at_cut.noise_floor, at_cut.atol) if at_cut else 0.0
    checks = []
    for k, seed in enumerate(seeds):
        inputs, ref = reference(seed)
        try:
            got = run_backend(inputs)
        except Exception as exc:  # an artifact that crashes on a valid input fails verification, loudly
            checks.append(_backend_failed(seed, outputs, ref, tolerances, exc))
            if on_input:
                on_input(k)
            continue
        tied = ties(inputs) if ties else None
        ref_c, got_c, kept, at_threshold = threshold_ties(outputs, ref, got, score_threshold, score_margin)
        if tied and kept is not None:  # tie masks are over the reference's rows: cut them alike
            tied = {k: np.asarray(v)[kept] for k, v in tied.items() if len(v) == len(kept)}
        check = compare_outputs(seed, outputs, ref_c, got_c, tolerances, tied)
        check.threshold_ties = at_threshold
        check.nothing_compared = nothing_compared(outputs, ref, task)
        task_check = task_parity(task, ref_c, got_c, task_tol, margin, tied)
        if task_check is not None:
            check.task = task_check.to_json()
            check.passed &= task_check.passed
        checks.append(check)
        if on_input:
            on_input(k)
    verification = Verification(
        backend=backend,
        passed=all(c.passed for c in checks),
        inputs=checks,
        tolerances={n: asdict(t) for n, t in tolerances.items()},
        task_tolerances=task_tol if task else {},
    )
    verification.mark_inconclusive(inconclusive_reason(outputs, [reference(seed)[1] for seed in seeds], task),
                                   allow_inconclusive)
    return verification


def run_checks(backend: str, loaded: LoadedModel, seeds: Sequence[int | str], reference: Callable, runner: Callable[[dict], dict],
               tolerances: Mapping[str, Tolerance], task_tolerances: Mapping[str, float] | None = None,
               on_input: Callable[[int], None] | None = None, allow_inconclusive: bool = False) -> Verification:
    """Every check of an artifact, one function for `deploy convert` and `deploy verify` so they cannot drift apart:
    the seeded inputs (tensor and task parity, conclusiveness), the family's other input shapes for a dynamic export,
    and the exported wrapper against the framework's own predict. A check that cannot run is listed in ``not_run``
    with the reason. ``reference``: :func:`reference_runner`'s, shared by all of them (memoised)."""
    from deploybridge.parity.ties import tie_finder

    ties = tie_finder(loaded, tolerances, task_tolerances)
    verification = verify(backend, loaded.outputs, seeds, reference, runner, tolerances, on_input, loaded.task,
                          task_tolerances, allow_inconclusive, ties, loaded.score_threshold)
    # the other shapes take a synthetic input: an --inputs image has one size (the export's)
    synthetic = next((s for s in seeds if not isinstance(s, str)), None)
    if synthetic is None:
        from deploybridge.parity.synthetic_inputs import verification_seeds

        synthetic = verification_seeds(0, 1)[0]
    verify_other_shapes(verification, loaded, reference, runner, tolerances, synthetic, task_tolerances, ties)
    framework_parity(verification, loaded, reference, seeds)
    return verification


def verify_other_shapes(verification: Verification, loaded: LoadedModel, reference, runner, tolerances, seed: int,
                        task_tolerances, ties=None) -> None:
    """A dynamic-shape export is also verified at the family's other input shapes: a size the exporter baked into
    the graph (the dynamo exporter does with SOLO's CoordConv grid) fails here instead of in production."""
    if not loaded.dynamic_axes:
        verification.not_run.append("other input shapes: not run, the export has static shapes")
        return
    if not (loaded.other_shapes and loaded.make_inputs_at):
        verification.not_run.append("other input shapes: not run, the family names no other shapes for its dynamic export")
        return
    for shape in loaded.other_shapes:
        # whether there was anything to compare is judged on the main inputs, not on this one extra input
        extra = verify(verification.backend, loaded.outputs, [seed], lambda s, shape=tuple(shape): reference(s, shape), runner,
                       tolerances, None, loaded.task, task_tolerances, allow_inconclusive=True, ties=ties,
                       score_threshold=loaded.score_threshold)
        for check in extra.inputs:
            check.input_shape = list(shape)
        verification.inputs += extra.inputs
        verification.passed &= extra.passed


def framework_parity(verification: Verification, loaded: LoadedModel, reference, seeds: Sequence[int]) -> None:
    """The exported wrapper against the framework's own predict on the same seeds, where the family gives one and the
    framework can be imported (else listed as not run)."""
    from deploybridge.parity import framework

    if loaded.framework_reference is None:
        verification.not_run.append("framework parity: not run, the family gives no framework predict to compare the"
                                    " exported wrapper with")
        return
    try:
        result = framework.check(loaded.framework_reference, loaded.make_inputs, reference, seeds)
    except ImportError as exc:
        verification.not_run.append(f"framework parity: not run, {exc.name or first_line(exc)} is not importable")
        return
    verification.framework = {**result, "framework": loaded.framework_name}
    verification.passed &= result["passed"]


def seeds_for(spec: ModelSpec, n: int) -> list[int]:
    from deploybridge.parity.synthetic_inputs import verification_seeds

    return verification_seeds(spec.seed, n)


def verify_artifact(host: Host, folder: Path, backend_name: str | None = None, backend_options: Mapping[str, Any] | None = None,
                    tolerance: Tolerance | None = None, on_input: Callable[[int], None] | None = None,
                    eval_dataset: str | None = None, task_tolerances: Mapping[str, float] | None = None,
                    manifest: dict | None = None, allow_inconclusive: bool = False, inputs: Sequence[str] | None = None,
                    plant: str | None = None) -> tuple[dict, Verification, Any]:
    """Re-check an artifact folder: the model rebuilt from the manifest's spec against the artifact's engine, at the
    manifest's seeds and tolerances (or ``tolerance``), with every check `deploy convert` ran (:func:`run_checks`).
    ``manifest``: already read by ``artifact.read_manifest`` (which checks every file's checksum), so large artifacts
    are not hashed twice. ``inputs``: image files checked instead of the images the conversion was verified on (its
    seeded inputs stay); ``plant``: an error from deploybridge.parity.planted put into the artifact's outputs, which
    verification must catch."""
    from deploybridge.convert import artifact
    from deploybridge.convert.resolve import load_model, resolve_backend, resolve_family
    from deploybridge.evaluation.ap_delta import ap_delta_on_dataset
    from deploybridge.parity import reference
    from deploybridge.runtime import segments

    if manifest is None:
        manifest = artifact.read_manifest(folder)
    declared = [o["name"] for o in manifest["outputs"]]
    if plant:  # before the model is rebuilt: an unknown name or an output the artifact lacks is a one-line error
        from deploybridge.parity.planted import check_plant

        check_plant(plant, declared, manifest.get("task"))
    spec = ModelSpec.from_json(manifest["spec"])
    backend = resolve_backend(host, backend_name or manifest["backend"]["name"])
    family = resolve_family(host, spec, manifest["plugin"]["name"])
    loaded = load_model(family, spec)
    if declared != loaded.output_names:
        raise DeployError(f"artifact outputs {declared} differ from what family '{family.name}' declares now {loaded.output_names}; re-run `deploy convert`")
    if tolerance is None:
        tolerances = {n: Tolerance(**t) for n, t in manifest["tolerances"].items()}
    else:
        tolerances = tolerances_for(loaded.outputs, tolerance)
    options = {**manifest["backend"].get("options", {}), **(backend_options or {})}
    runner = segments.load(backend, Path(folder), manifest, options, host.host_ops())
    if plant:
        from deploybridge.parity.planted import planted_runner

        runner = planted_runner(runner, plant)
    seeds, gone = _inputs_to_check(manifest["verification"]["seeds"], inputs)
    if any(isinstance(s, str) for s in seeds):
        from deploybridge.parity.user_inputs import accepting_images

        loaded = accepting_images(loaded, manifest.get("preprocessing"))
    task_tol = {**(manifest.get("task_tolerances") or {}), **(task_tolerances or {})}
    verification = run_checks(backend.name, loaded, seeds, reference.reference_runner(loaded, spec), runner, tolerances, task_tol,
                              on_input, allow_inconclusive)
    from deploybridge.parity import precision_gate

    # an int8 artifact is gated by task parity, as its conversion was (parity.precision_gate)
    precision_gate.judge(verification, (manifest.get("precision") or {}).get("mode", "fp32"), allow_inconclusive)
    if gone:
        verification.not_run.append(f"inputs: {len(gone)} image(s) the conversion was verified on are gone ({gone[0]}"
                                    f"{', ...' if len(gone) > 1 else ''}); pass --inputs to check other images")
    if manifest.get("format") in artifact.OLD_FORMATS:
        verification.not_run.append(f"checksums: not run for files but {artifact.MODEL}, the manifest"
                                    f" ({manifest['format']}) lists no other")
    if manifest.get("evaluation") and not eval_dataset:
        verification.not_run.append("AP delta: not run, the conversion ran --eval; pass --eval DATASET to repeat it")
    evaluation = None
    if eval_dataset:
        shape = [d for d in manifest["inputs"][0]["shape"]]
        evaluation = ap_delta_on_dataset(loaded, runner, backend.name, eval_dataset, shape, precision_gate.max_delta_ap(manifest))
    return manifest, verification, evaluation


def _inputs_to_check(recorded: Sequence[int | str], inputs: Sequence[str] | None) -> tuple[list, list[str]]:
    """(the inputs `deploy verify` checks, the recorded images no longer on disk): the conversion's seeds, with its
    images or, given ``inputs``, those instead."""
    seeds = [s for s in recorded if not isinstance(s, str)]
    images = [s for s in recorded if isinstance(s, str)]
    if inputs:
        return [*inputs, *seeds], []
    gone = [s for s in images if not Path(s).is_file()]
    kept = [*[s for s in images if s not in gone], *seeds]
    if not kept:
        raise DeployError(f"none of the {len(images)} images this artifact was verified on exist any more (first: {gone[0]});"
                          " give --inputs IMAGES")
    return kept, gone
