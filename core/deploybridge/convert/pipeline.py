"""The conversion pipeline: load -> rewrite -> export -> graph passes -> build -> verify -> artifact.

Each stage lives in its own module; this one only sequences them, times them
and assembles the manifest.
"""
from __future__ import annotations

import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ContextManager, Mapping, Sequence

from deploybridge import __version__
from deploybridge.convert import artifact, artifact_readme, onnx_io, precision_search, rewriting
from deploybridge.convert import warning_triage as triage
from deploybridge.convert.manifest import build_manifest
from deploybridge.convert.resolve import load_model, model_or_default, resolve_backend, resolve_family
from deploybridge.errors import DeployError
from deploybridge.parity import noise_floor as noise
from deploybridge.parity.tensor import tolerances_for
from deploybridge.parity.user_inputs import accepting_images
from deploybridge.parity.reference import reference_runner
from deploybridge.parity.verification import Verification, run_checks, seeds_for
from deploybridge.plugins import Host
from deploybridge.records import Backend, ModelSpec, Tolerance
from deploybridge.runtime import segments

Stage = Callable[[str], ContextManager[Any]]


def _no_stage(name: str) -> ContextManager[Any]:
    return nullcontext()


@dataclass
class ConvertOptions:
    out: Path
    force: bool = False
    backend: str = "onnxruntime"
    exporter: str | None = None
    opset: int = 17
    passes: Sequence[str] = ()
    disabled_rewrites: Sequence[str] = ()
    backend_options: Mapping[str, Any] = field(default_factory=dict)
    num_inputs: int | None = None  # seeded inputs; None: 3, or 0 when images are given
    inputs: Sequence[str] = ()  # the user's image files (absolute paths, deploybridge.parity.user_inputs.image_files)
    tolerance: Tolerance | None = None
    task_tolerances: Mapping[str, float] = field(default_factory=dict)
    eval_dataset: str | None = None
    fp16_io: bool = False  # with the to_fp16 pass: float16 inputs and outputs too
    allow_inconclusive: bool = False  # a verification that compared nothing may pass (said loudly)
    precision: str = "fp32"  # "fp16" / "int8": lowered after the float32 verification by convert.precision_search
    calibration: Path | None = None  # int8 calibration images (default: the family's inputs at calibration seeds)
    compare_backends: str | None = None  # "all" or "a,b": time the verified artifact on them too (convert.recommend)


@dataclass
class ConvertResult:
    artifact: Path  # where it was published: --out, or --out.unverified beside a verified artifact (artifact.staged)
    manifest: dict
    report: dict
    verification: Verification
    evaluation: Any = None  # with --eval: evaluation.ap_delta.EvalResult (AP) or evaluation.miou.MiouResult (segmenters)

    @property
    def passed(self) -> bool:
        return self.manifest["verified"]  # verification, and --eval if given (manifest.build_manifest)


# -- versions -----------------------------------------------------------------
def versions(host: Host, plugin: str, backend: Backend) -> dict[str, str | None]:
    import onnx
    import torch

    return {
        "deploybridge": __version__,
        "torch": torch.__version__,
        "onnx": onnx.__version__,
        backend.name: backend.version(),
        f"plugin:{plugin}": host.statuses[plugin].version if plugin in host.statuses else None,
    }


# -- convert ------------------------------------------------------------------
def convert(host: Host, spec: ModelSpec, opts: ConvertOptions, plugin: str | None = None, stage: Stage = _no_stage,
            on_input: Callable[[int], None] | None = None) -> ConvertResult:
    from deploybridge.convert import export
    from deploybridge.convert import pass_runner as passes_mod

    artifact.check_destination(opts.out, opts.force)
    backend = resolve_backend(host, opts.backend)
    precision_search.check_request(backend, opts.precision)
    if opts.compare_backends:  # a misspelt name exits 2 now, not after the conversion
        from deploybridge.convert import recommend

        recommend.requested(host, backend.name, opts.compare_backends)
    family = resolve_family(host, spec, plugin)
    spec = ModelSpec(**{**spec.__dict__, "family": family.name, "model": model_or_default(family, spec.model)})
    timings: dict[str, float] = {}

    @contextmanager
    def timed(name: str):
        start = time.perf_counter()
        with stage(name):
            yield
        timings[name] = round(time.perf_counter() - start, 3)

    # an unverified result is published too (marked in the manifest), but never over a verified artifact (artifact.py)
    staging = artifact.staged(opts.out, opts.force)
    with staging as tmp:
        with timed("load"):
            loaded = load_model(family, spec)
            if opts.inputs:  # image paths stand in for seeds everywhere (parity.user_inputs)
                loaded = accepting_images(loaded)
            reference = reference_runner(loaded, spec)
            seeds = [*opts.inputs, *seeds_for(spec, opts.num_inputs if opts.num_inputs is not None else 0 if opts.inputs else 3)]
            reference(seeds[0])  # fails early, with the input shape in the message, if the model rejects it
        exporter = opts.exporter or loaded.default_exporter
        if exporter in export.EXPORTERS and exporter not in loaded.exporters:
            raise DeployError(f"this {family.name} model exports with the {' or '.join(loaded.exporters)} exporter only"
                              f" ({loaded.exporter_reason}); drop --exporter {exporter}")
        export.check_opset(exporter, opts.opset)
        reason = "chosen with --exporter" if opts.exporter else loaded.exporter_reason
        onnx_path = tmp / artifact.MODEL
        with timed("export"):
            chosen = rewriting.select(host.rewrites(), exporter, opts.opset, opts.disabled_rewrites, backend.name, family.name)
            with rewriting.applied(chosen, opts.opset) as applied_rewrites:
                info = export.export_onnx(loaded, loaded.make_inputs(seeds[0]), onnx_path, exporter, opts.opset,
                                          applied_rewrites.translation_table)
            info.triage = triage.triage(info.warnings, host.rewrites(), applied_rewrites.names, host.known_warnings())
        with timed("graph passes"):
            selected = passes_mod.select(host.graph_passes(), family.name, opts.passes, backend.name)
            if precision_search.applies(opts, backend):  # the search lowers the verified float32 graph itself
                selected = [p for p in selected if p.name != "to_fp16"]
            model = onnx_io.load_model(onnx_path)
            ctx = passes_mod.PassContext(family.name, backend.name, loaded.output_names, {"fp16_io": opts.fp16_io})
            model = passes_mod.run_passes(model, selected, ctx)
            onnx_io.set_metadata(model, {
                "deploybridge.version": __version__,
                "deploybridge.family": family.name,
                "deploybridge.model": spec.model,
                "deploybridge.exporter": exporter,
                "deploybridge.rewrites": ",".join(applied_rewrites.fired),
                "deploybridge.passes": ",".join(p.name for p in selected),
                "deploybridge.outputs": ",".join(loaded.output_names),
            })
            import onnx

            onnx.save(model, str(onnx_path))
        with timed("build"):
            if backend.build_from_module is not None:  # e.g. TorchScript: compiled from the module, model.onnx kept
                # the rewrites that name the exporter "trace" are in force while torch.jit.trace runs (docs/writing-a-rewrite.md)
                for_trace = rewriting.select(host.rewrites(), "trace", opts.opset, opts.disabled_rewrites, backend.name,
                                             family.name)
                with rewriting.applied(for_trace, opts.opset) as trace_rewrites:
                    engine_files = backend.build_from_module(loaded, loaded.make_inputs(seeds[0]), tmp, dict(opts.backend_options))
            else:
                # a --dynamic export's min/opt/max: the range a backend with optimisation profiles (TensorRT) builds for
                dynamic = {"dynamic": loaded.preprocessing["dynamic"]} if "dynamic" in loaded.preprocessing else {}
                engine_files = segments.build(backend, onnx_path, tmp, {**opts.backend_options, **dynamic})
        with timed("verify"):
            tolerances = tolerances_for(loaded.outputs, opts.tolerance)
            if opts.tolerance is None:
                float16 = any(p.name == "to_fp16" for p in selected) or bool(opts.backend_options.get("fp16"))
                tolerances = noise.verification_tolerances(loaded, seeds, reference, tolerances, float16)
            runner = segments.load(backend, tmp, {}, dict(opts.backend_options), host.host_ops())
            # the same checks `deploy verify` runs: other shapes and framework parity included
            verification = run_checks(backend.name, loaded, seeds, reference, runner, tolerances, opts.task_tolerances,
                                      on_input, opts.allow_inconclusive)
        evaluation = None
        if opts.eval_dataset:
            from deploybridge.evaluation.ap_delta import ap_delta_on_dataset

            with timed("evaluate"):
                shape = reference(seeds[0])[0][loaded.input_names[0]].shape  # memoised: no new input
                evaluation = ap_delta_on_dataset(loaded, runner, backend.name, opts.eval_dataset, shape)
        lowered = None
        if precision_search.applies(opts, backend):  # float32 above is the baseline the lowered graph is compared with
            with timed("precision search"):
                lowered = precision_search.search(
                    mode=opts.precision, backend=backend, loaded=loaded, spec=spec, opts=opts, folder=tmp, seeds=seeds,
                    reference=reference, engine_files=engine_files, fp32_runner=runner, fp32_verification=verification,
                    fp32_evaluation=evaluation, host_ops=host.host_ops(), on_input=on_input)
            fp32_runner = runner  # timed beside the lowered one by --compare-backends
            model, engine_files, runner = lowered.model, lowered.engine_files, lowered.runner
            verification, evaluation = lowered.verification, lowered.evaluation
        manifest = build_manifest(
            spec=spec, loaded=loaded, model=model, owner=family.owner, backend=backend, opts=opts,
            export_info=info, reason=reason, rewrites=applied_rewrites, passes=[p.name for p in selected],
            engine_files=engine_files, seeds=seeds, verification=verification, evaluation=evaluation,
            versions=versions(host, family.owner, backend), host_ops=host.host_ops(),
        )
        report = {
            "stages_seconds": timings,
            "export_warnings": info.triage,
            "ops": onnx_io.op_histogram(model),
            "verification": verification.to_json(),
        }
        if lowered is not None:
            lowered.annotate(manifest, report)
        if backend.build_from_module is not None and trace_rewrites.rewrites:
            manifest["trace_rewrites"] = trace_rewrites.to_json()
        if opts.compare_backends and manifest["verified"]:  # before finish: the manifest's checksum covers it
            with timed("compare backends"):
                manifest["recommended"] = recommend.measure(
                    host, tmp, manifest, loaded, seeds, reference, opts.compare_backends,
                    fp32_runner if lowered is not None else None, opts.backend_options.get("threads"))
        if loaded.task is not None and loaded.task.finds_objects:
            report["picture"] = "report.png"
            from deploybridge.runtime.draw import draw_comparison

            draw_comparison(reference, runner, seeds[0], loaded, tmp / "report.png")
        artifact_readme.write(tmp, manifest, host.host_ops())  # how to run it without deploybridge
        artifact.finish(tmp, manifest, report)  # the manifest last: it lists every other file with its checksum
    result = ConvertResult(staging.published, manifest, report, verification, evaluation)
    host.notify_convert_finished(result)  # isolated: a listener that raises is reported, the others run
    return result


