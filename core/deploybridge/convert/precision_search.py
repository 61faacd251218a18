"""Automatic precision search for ``--int8`` and ``--fp16``: lower, verify, and give nodes back to float32 until
verification passes or nothing is left to try.

It runs after the float32 artifact was built and verified (the baseline it is compared with, side by side): round 1
lowers every node the precision can take (int8: every node onnxruntime.quantization quantizes; float16: the
``to_fp16`` pass's ops). Each failing round keeps one more group in float32 (``precision_groups``: post-processing,
output layers, input layers, then the most sensitive nodes measured), at most :data:`MAX_ROUNDS` rounds. A round
passes when verification passes as ``parity.precision_gate`` judges the precision, and ``--eval``'s ΔAP is within its
bound. Each lowered graph is first run in a child process, so a runtime that crashes on it (ONNX Runtime 1.2x
segfaults on some all-int8 detectors) fails that round instead of the conversion.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from deploybridge.convert.precision_groups import SENSITIVE_SHARES, Group, region_groups, sensitive_group, sensitivity
from deploybridge.errors import DeployError
from deploybridge.parity import precision_gate

MAX_ROUNDS = 6
PROBE_SECONDS = 300


@dataclass
class Round:
    number: int
    kept_fp32: int  # nodes in float32 this round (of those the precision could lower)
    passed: bool
    summary: str
    delta_ap: dict | None = None


@dataclass
class Lowered:
    """The search's outcome: the final graph built in the artifact folder, and what it took."""

    mode: str
    model: Any  # the final onnx ModelProto (model.onnx)
    engine_files: list[str]
    runner: Callable[[dict], dict]
    verification: Any
    evaluation: Any
    lowerable: int  # nodes the precision could lower
    fixed: list[Group] = field(default_factory=list)  # never lowered (host steps and after)
    kept: list[Group] = field(default_factory=list)  # given back to float32 by the search, in order
    rounds: list[Round] = field(default_factory=list)
    calibration: str | None = None
    comparison: dict = field(default_factory=dict)  # float32 vs this precision (precision_report.compare)

    @property
    def passed(self) -> bool:
        return bool(self.rounds and self.rounds[-1].passed)

    def to_json(self, ops: dict[str, str]) -> dict:
        return {"mode": self.mode, "passed": self.passed, "lowerable_nodes": self.lowerable,
                "kept_fp32": [g.to_json(ops) for g in [*self.fixed, *self.kept]],
                "rounds": [r.__dict__ for r in self.rounds], "calibration": self.calibration,
                "comparison": self.comparison}

    def annotate(self, manifest: dict, report: dict) -> None:
        """The precision entry of the manifest and report ("precision": mode, kept_fp32, rounds, comparison)."""
        ops = {n.name: n.op_type for n in self.model.graph.node}
        manifest["precision"] = self.to_json(ops)
        report["precision"] = manifest["precision"]
        if self.mode == "fp16" and "to_fp16" not in manifest["passes"]:
            manifest["passes"].append("to_fp16")


def applies(opts, backend) -> bool:
    """Whether this conversion lowers precision through the search (``--int8``/``--fp16`` on an ONNX-built backend)."""
    return getattr(opts, "precision", "fp32") in ("int8", "fp16") and backend.build_from_module is None


def check_request(backend, precision: str) -> None:
    """One line, exit 2, for a precision the backend does not declare (Backend.precisions)."""
    if precision != "fp32" and precision not in backend.precisions:
        raise DeployError(f"backend {backend.name} does not take --{precision} (its precisions: {', '.join(backend.precisions)});"
                          f" drop --{precision} or pick a backend that lists it in `deploy plugins`")


def _lower(mode: str, fp32_path: Path, out_path: Path, keep: Sequence[str], calib, scratch: Path, fp16_io: bool) -> None:
    if mode == "int8":
        from deploybridge.convert.quantize import quantize

        quantize(fp32_path, out_path, calib, keep, scratch / "calibration")
        return
    import onnx
    import onnx_graphsurgeon as gs

    from deploybridge.convert.passes.fp16 import to_fp16
    from deploybridge.convert.pass_runner import PassContext

    graph = gs.import_onnx(onnx.load(str(fp32_path)))
    ctx = PassContext("", "", [], {"fp16_io": fp16_io, "fp16_keep": set(keep)})
    onnx.save(gs.export_onnx(to_fp16(graph, ctx).cleanup()), str(out_path))


def _lowerable(mode: str, model) -> list[str]:
    if mode == "int8":
        from deploybridge.convert.quantize import quantizable

        return quantizable(model)
    from deploybridge.convert.passes.fp16 import FP16_OPS

    return [n.name for n in model.graph.node if n.op_type in FP16_OPS and n.name]


def probe(path: Path, feeds: Sequence[dict], threads: int | None) -> str | None:
    """Run the engine part of the graph at ``path`` on ``feeds`` in a child process; None if it ran, else one line."""
    data = path.with_name("probe_inputs.npz")
    np.savez(data, **{f"{k}|{name}": v for k, feed in enumerate(feeds) for name, v in feed.items()})
    code = "from deploybridge.convert.precision_search import _probe_main; _probe_main()"
    try:
        done = subprocess.run([sys.executable, "-c", code, str(path), str(data), str(threads or 0)],
                              capture_output=True, text=True, timeout=PROBE_SECONDS)
    except subprocess.TimeoutExpired:
        return f"onnxruntime did not finish the lowered graph in {PROBE_SECONDS} s"
    if done.returncode < 0:
        return f"onnxruntime crashed (signal {-done.returncode}) running the lowered graph"
    if done.returncode:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        return f"onnxruntime failed on the lowered graph: {lines[-1][:200] if lines else 'exit ' + str(done.returncode)}"
    return None


def _probe_main() -> None:
    """Child process of :func:`probe`: argv path, inputs.npz, threads."""
    import onnx

    from deploybridge.convert.precision_groups import as_session_types
    from deploybridge.convert.quantize import _split, constants_as_initializers
    from deploybridge.runtime.backends.onnxruntime import make_session

    path, data, threads = Path(sys.argv[1]), np.load(sys.argv[2]), int(sys.argv[3])
    model = onnx.load(str(path))
    constants_as_initializers(model)
    part = path.with_name("probe.onnx")
    onnx.save(_split(model)[0], str(part))
    session = make_session(part, {"threads": threads} if threads else {})
    feeds: dict[str, dict] = {}
    for key in data.files:
        k, name = key.split("|", 1)
        feeds.setdefault(k, {})[name] = data[key]
    for feed in feeds.values():
        session.run(None, as_session_types(session, feed))


def search(*, mode: str, backend, loaded, spec, opts, folder: Path, seeds: Sequence, reference, engine_files, fp32_runner,
           fp32_verification, fp32_evaluation, host_ops, on_input=None) -> Lowered:
    """Lower ``folder``'s float32 model.onnx to ``mode``, verify, widen the float32 set until it passes; the last
    round's graph is what ``folder`` holds afterwards (verified or not)."""
    import onnx

    from deploybridge.convert import precision_report
    from deploybridge.convert.quantize import after_host_steps, calibration
    from deploybridge.parity.verification import run_checks
    from deploybridge.runtime import segments

    options = dict(opts.backend_options)
    if not fp32_verification.passed:  # wrong in float32 already: lowering cannot fix it, and would hide where it broke
        fp32_verification.not_run.append(f"{mode} precision search: not run, the float32 artifact failed verification")
        import onnx

        return Lowered(mode, onnx.load(str(folder / "model.onnx")), list(engine_files), fp32_runner, fp32_verification,
                       fp32_evaluation, 0)
    with tempfile.TemporaryDirectory(prefix="deploybridge-precision-") as tmp_name:
        scratch = Path(tmp_name)
        fp32_path = scratch / "fp32.onnx"
        shutil.copyfile(folder / "model.onnx", fp32_path)
        fp32_model = onnx.load(str(fp32_path))
        lowerable = _lowerable(mode, fp32_model)
        calib = calibration(loaded, spec.seed, opts.calibration) if mode == "int8" else None
        fixed = [Group("host steps and what follows them: run in NumPy on the host, not by the engine",
                       [n.name for n in after_host_steps(fp32_model)])] if mode == "int8" else []
        fixed = [g for g in fixed if g.nodes]
        result = Lowered(mode, None, [], fp32_runner, None, None, len(lowerable), fixed,
                         calibration=calib.source if calib else None)
        pending = region_groups(fp32_model, lowerable)
        shares = list(SENSITIVE_SHARES)
        feeds = [reference(s)[0] for s in seeds]
        tolerances, task_tol = precision_gate.tolerances(mode, fp32_verification.tolerances, [reference(s)[1] for s in seeds],
                                                         opts.tolerance is not None, opts.task_tolerances)
        for number in range(1, MAX_ROUNDS + 1):
            keep = [n for g in result.kept for n in g.nodes]
            lowered_path = scratch / f"round{number}.onnx"
            _lower(mode, fp32_path, lowered_path, keep, calib, scratch, opts.fp16_io)
            crash = probe(lowered_path, feeds, options.get("threads"))
            if crash:
                result.rounds.append(Round(number, len(keep), False, crash))
            else:
                shutil.copyfile(lowered_path, folder / "model.onnx")
                shutil.rmtree(folder / segments.SEGMENTS, ignore_errors=True)
                result.engine_files = segments.build(backend, folder / "model.onnx", folder, options)
                result.runner = segments.load(backend, folder, {}, options, host_ops)
                result.verification = run_checks(backend.name, loaded, seeds, reference, result.runner, tolerances,
                                                 task_tol, on_input, opts.allow_inconclusive)
                precision_gate.judge(result.verification, mode, opts.allow_inconclusive)
                result.evaluation = _evaluate(mode, loaded, result.runner, backend.name, opts, reference, seeds)
                passed = result.verification.passed and (result.evaluation is None or result.evaluation.passed)
                delta = dict(result.evaluation.delta) if result.evaluation is not None else None
                result.rounds.append(Round(number, len(keep), passed, _why(result.verification, result.evaluation), delta))
                if passed:
                    break
            if number == MAX_ROUNDS:
                break
            if pending:
                result.kept.append(pending.pop(0))
            elif shares and not (crash or "").startswith("onnxruntime crashed"):  # a crashing graph is not run in-process
                scores = sensitivity(fp32_model, fp32_path, lowered_path, [n for n in lowerable if n not in set(keep)], calib.feeds[0] if calib else feeds[0], host_ops)
                if not scores:
                    break
                result.kept.append(sensitive_group(scores, shares.pop(0)))
            else:
                break
        result.model = onnx.load(str(folder / "model.onnx"))
        if result.verification is None:  # every round crashed: say so; the artifact keeps the float32 graph
            shutil.copyfile(fp32_path, folder / "model.onnx")
            result.model, result.verification, result.evaluation = fp32_model, fp32_verification, fp32_evaluation
            result.verification.passed = False
            result.verification.not_run.append(f"{mode}: every round failed before verification ({result.rounds[-1].summary})")
        if not result.passed:
            result.verification.passed = False
            result.verification.not_run.append(f"{mode} precision search: no round passed in {len(result.rounds)} rounds,"
                                               " nothing left to keep in float32; convert without --" + mode)
        result.comparison = precision_report.compare(mode, fp32_runner, result.runner, feeds[0], fp32_verification,
                                                     fp32_evaluation, result.verification, result.evaluation, options)
    return result


def _why(verification, evaluation) -> str:
    """A round's verdict in one line: the first task failure (input: what), else the verification summary."""
    for check in verification.inputs:
        failures = (check.task or {}).get("failures") or []
        if failures:
            return f"input {check.seed}: {failures[0]}"
    if evaluation is not None and not evaluation.passed:
        return "Δ{} outside ±{:.1f} points: {}".format(evaluation.metric, evaluation.max_delta * 100, ", ".join(
            f"{k} {d * 100:+.2f}" for k, d in evaluation.delta.items()))
    return verification.summary()


def _evaluate(mode: str, loaded, runner, backend: str, opts, reference, seeds):
    if not opts.eval_dataset:
        return None
    from deploybridge.evaluation.ap_delta import ap_delta_on_dataset

    shape = reference(seeds[0])[0][loaded.input_names[0]].shape
    return ap_delta_on_dataset(loaded, runner, backend, opts.eval_dataset, shape, precision_gate.max_delta_ap(mode))
