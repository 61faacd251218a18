"""The conversion pipeline: load -> rewrite -> export -> graph passes -> build -> verify -> artifact.

Each stage lives in its own module; this one only sequences them, times them
and assembles the manifest.
"""
from __future__ import annotations

import difflib
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ContextManager, Mapping, Sequence

from deploybridge import __version__
from deploybridge.convert import artifact
from deploybridge.parity import noise_floor as noise
from deploybridge.convert import onnx_io
from deploybridge.convert import rewriting
from deploybridge.runtime import segments
from deploybridge.convert import warning_triage as triage
from deploybridge.convert.manifest import build_manifest
from deploybridge.errors import DeployError
from deploybridge.plugins import Host
from deploybridge.records import Backend, Family, LoadedModel, ModelSpec, Tolerance
from deploybridge.parity.tensor import Verification, tolerances_for, verify

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
    num_inputs: int = 3
    tolerance: Tolerance | None = None
    task_tolerances: Mapping[str, float] = field(default_factory=dict)
    eval_dataset: str | None = None
    fp16_io: bool = False  # with the to_fp16 pass: float16 inputs and outputs too


@dataclass
class ConvertResult:
    artifact: Path
    manifest: dict
    report: dict
    verification: Verification
    evaluation: Any = None  # deploybridge.evaluation.ap_delta.EvalResult with --eval

    @property
    def passed(self) -> bool:
        return self.verification.passed and (self.evaluation is None or self.evaluation.passed)


def evaluate_on_dataset(loaded: LoadedModel, runner: Callable[[dict], dict], backend: str, dataset: str, input_shape):
    """AP of PyTorch and of the artifact on ``dataset`` (detectors only)."""
    from deploybridge.evaluation import ap_delta as dataset_eval

    if loaded.task != "detection" and loaded.to_detections is None:
        raise DeployError(f"--eval computes detection AP; this model's task is {loaded.task or 'unknown'}")
    feed = loaded.input_from_rgb or (lambda x: x)
    read = loaded.to_detections or (lambda out: out)
    model = dataset_eval.torch_runner(loaded.module, loaded.output_names)
    runners = {
        "pytorch": lambda x: read(model(feed(x))),
        backend: lambda x: read(runner({loaded.input_names[0]: feed(x)})),
    }
    with dataset_eval.resolve_dataset(dataset, int(input_shape[2])) as annotations:
        result = dataset_eval.evaluate(annotations, runners, input_shape, "masks" in loaded.output_names)
    if dataset == "shapes":  # generated in a temporary folder: name it, not its path
        result.dataset = "the shapes validation split"
    return result


# -- resolving names ----------------------------------------------------------
def _closest(name: str, names: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(names), n=3)
    return f" (did you mean {', '.join(close)}?)" if close else ""


def resolve_family(host: Host, spec: ModelSpec, plugin: str | None) -> Family:
    families = host.families()
    name = spec.family
    if not name and plugin:
        owned = [f for f in families.values() if f.owner == plugin]
        if len(owned) == 1:
            name = owned[0].name
    if not name:
        name = host.pm.hook.deploy_detect_family(spec=spec)
    if not name:
        hint = f" among plugin '{plugin}' families" if plugin else ""
        raise DeployError(f"no family handles model '{spec.model}'{hint}; pass --plugin NAME or --family NAME (see `deploy plugins`)")
    if name not in families:
        raise DeployError(f"unknown family '{name}'{_closest(name, list(families))}; `deploy plugins` lists the families")
    return families[name]


def resolve_backend(host: Host, name: str) -> Backend:
    backends = host.backends()
    if name not in backends:
        raise DeployError(f"unknown backend '{name}'{_closest(name, list(backends))}; available: {', '.join(backends)}")
    reason = backends[name].unavailable()
    if reason:
        raise DeployError(f"backend '{name}' is not usable here: {reason}")
    return backends[name]


def load_model(family: Family, spec: ModelSpec) -> LoadedModel:
    if family.models and spec.model not in family.models:
        raise DeployError(f"unknown model '{spec.model}' for family '{family.name}'{_closest(spec.model, family.models)}; known: {', '.join(family.models)}")
    return family.load(spec)


# -- reference runs -----------------------------------------------------------
def reference_runner(loaded: LoadedModel, spec: ModelSpec) -> Callable[[int], tuple[dict, dict]]:
    """seed -> (inputs, reference outputs) as numpy dicts; memoised, since the noise floor and parity both need it."""
    import functools

    import torch

    @functools.cache
    def run(seed: int, shape: tuple | None = None) -> tuple[dict, dict]:
        inputs = loaded.make_inputs(seed) if shape is None else loaded.make_inputs_at(seed, shape)
        try:
            with torch.no_grad():
                out = loaded.module(*inputs)
        except DeployError:  # the model says itself what is wrong (e.g. an op a compatibility layer lacks)
            raise
        except Exception as exc:
            first = (str(exc).strip().splitlines() or [""])[0][:200]
            shape = "x".join(str(d) for d in inputs[0].shape)
            raise DeployError(f"model '{spec.model}' fails on input {shape}: {type(exc).__name__}: {first}; check --input-shape") from exc
        out = (out,) if isinstance(out, torch.Tensor) else tuple(out)
        if len(out) != len(loaded.outputs):
            raise DeployError(f"family '{spec.family}' declares {len(loaded.outputs)} outputs but the model returned {len(out)}")
        as_np = lambda ts, names: {n: t.detach().cpu().numpy() for n, t in zip(names, ts)}  # noqa: E731
        return as_np(inputs, loaded.input_names), as_np(out, loaded.output_names)

    return run


def verify_other_shapes(verification: Verification, loaded: LoadedModel, reference, runner, tolerances, seed: int,
                        task_tolerances) -> None:
    """A dynamic-shape export is also verified at the family's other input shapes: a size the exporter baked into
    the graph (the dynamo exporter does with SOLO's CoordConv grid) fails here instead of in production."""
    if not (loaded.dynamic_axes and loaded.other_shapes and loaded.make_inputs_at):
        return
    for shape in loaded.other_shapes:
        extra = verify(verification.backend, loaded.outputs, [seed], lambda s, shape=tuple(shape): reference(s, shape), runner,
                       tolerances, None, loaded.task, task_tolerances)
        for check in extra.inputs:
            check.input_shape = list(shape)
        verification.inputs += extra.inputs
        verification.passed &= extra.passed


def seeds_for(spec: ModelSpec, n: int) -> list[int]:
    # Seeds are offset from the weight seed so inputs differ from the calibration images.
    return [1000 + spec.seed + k for k in range(n)]


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
    family = resolve_family(host, spec, plugin)
    spec = ModelSpec(**{**spec.__dict__, "family": family.name})
    timings: dict[str, float] = {}

    @contextmanager
    def timed(name: str):
        start = time.perf_counter()
        with stage(name):
            yield
        timings[name] = round(time.perf_counter() - start, 3)

    with artifact.staged(opts.out, opts.force) as tmp:
        with timed("load"):
            loaded = load_model(family, spec)
            reference = reference_runner(loaded, spec)
            seeds = seeds_for(spec, opts.num_inputs)
            reference(seeds[0])  # fails early, with the input shape in the message, if the model rejects it
        exporter = opts.exporter or loaded.default_exporter
        if exporter in export.EXPORTERS and exporter not in loaded.exporters:
            raise DeployError(f"this {family.name} model exports with the {' or '.join(loaded.exporters)} exporter only"
                              f" ({loaded.exporter_reason}); drop --exporter {exporter}")
        reason = "chosen with --exporter" if opts.exporter else loaded.exporter_reason
        onnx_path = tmp / artifact.MODEL
        with timed("export"):
            chosen = rewriting.select(host.rewrites(), exporter, opts.opset, opts.disabled_rewrites, backend.name, family.name)
            with rewriting.applied(chosen, opts.opset) as applied_rewrites:
                info = export.export_onnx(loaded, loaded.make_inputs(seeds[0]), onnx_path, exporter, opts.opset,
                                          applied_rewrites.translation_table)
            info.triage = triage.triage(info.warnings, host.rewrites(), applied_rewrites.names)
        with timed("graph passes"):
            selected = passes_mod.select(host.graph_passes(), family.name, opts.passes, backend.name)
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
            engine_files = segments.build(backend, onnx_path, tmp, dict(opts.backend_options))
        with timed("verify"):
            tolerances = tolerances_for(loaded.outputs, opts.tolerance)
            if opts.tolerance is None:
                floor = noise.measure(loaded, seeds, reference)
                if any(p.name == "to_fp16" for p in selected):
                    floor = noise.as_float16(floor)
                tolerances = noise.tolerances_from_floor(loaded.outputs, floor, tolerances)
            runner = segments.load(backend, tmp, {}, dict(opts.backend_options), host.host_ops())
            verification = verify(backend.name, loaded.outputs, seeds, reference, runner, tolerances, on_input,
                                  loaded.task, opts.task_tolerances)
            verify_other_shapes(verification, loaded, reference, runner, tolerances, seeds[0], opts.task_tolerances)
            framework = None
            if loaded.framework_reference is not None:
                from deploybridge.parity import framework as framework_parity

                framework = framework_parity.check(loaded.framework_reference, loaded.make_inputs, reference, seeds)
                framework["framework"] = loaded.framework_name
                verification.passed &= framework["passed"]
        evaluation = None
        if opts.eval_dataset:
            with timed("evaluate"):
                shape = reference(seeds[0])[0][loaded.input_names[0]].shape  # memoised: no new input
                evaluation = evaluate_on_dataset(loaded, runner, backend.name, opts.eval_dataset, shape)
        manifest = build_manifest(
            spec=spec, loaded=loaded, model=model, onnx_path=onnx_path, owner=family.owner, backend=backend, opts=opts,
            export_info=info, reason=reason, rewrites=applied_rewrites, passes=[p.name for p in selected],
            engine_files=engine_files, seeds=seeds, verification=verification, evaluation=evaluation,
            versions=versions(host, family.owner, backend), host_ops=host.host_ops(),
        )
        manifest["framework_parity"] = framework
        report = {
            "stages_seconds": timings,
            "export_warnings": info.triage,
            "ops": onnx_io.op_histogram(model),
            "verification": verification.to_json(),
        }
        if loaded.task == "detection":
            report["picture"] = "report.png"
            _draw_comparison(reference, runner, seeds[0], loaded, tmp / "report.png")
        artifact.write_json(tmp / artifact.MANIFEST, manifest)
        artifact.write_json(tmp / artifact.REPORT, report)
    result = ConvertResult(Path(opts.out), manifest, report, verification, evaluation)
    try:
        host.pm.hook.deploy_convert_finished(result=result)
    except Exception as exc:  # a notification must not turn a good conversion into a failure
        import warnings

        warnings.warn(f"a deploy_convert_finished hook failed: {exc}")
    return result


def _draw_comparison(reference, runner, seed: int, loaded: LoadedModel, path: Path) -> None:
    """PyTorch's detections beside the artifact's on the first verification input."""
    import numpy as np

    from deploybridge.runtime.draw import draw_detections, filter_detections, side_by_side

    inputs, ref = reference(seed)
    got = runner(inputs)
    pixels = (np.asarray(inputs[loaded.input_names[0]])[0].transpose(1, 2, 0) * 255).clip(0, 255).astype(np.uint8)
    shown = 0.5  # a readable picture; verification compared every detection
    left = draw_detections(pixels, filter_detections(ref, shown), loaded.categories, f"PyTorch (score >= {shown})")
    right = draw_detections(pixels, filter_detections(got, shown), loaded.categories, f"artifact (score >= {shown})")
    side_by_side(left, right).save(path)


# -- verify an existing artifact ---------------------------------------------
def verify_artifact(host: Host, folder: Path, backend_name: str | None = None, backend_options: Mapping[str, Any] | None = None,
                    tolerance: Tolerance | None = None, on_input: Callable[[int], None] | None = None,
                    eval_dataset: str | None = None, task_tolerances: Mapping[str, float] | None = None) -> tuple[dict, Verification, Any]:
    manifest = artifact.read_manifest(folder)
    spec = ModelSpec.from_json(manifest["spec"])
    backend = resolve_backend(host, backend_name or manifest["backend"]["name"])
    family = resolve_family(host, spec, manifest["plugin"]["name"])
    loaded = load_model(family, spec)
    declared = [o["name"] for o in manifest["outputs"]]
    if declared != loaded.output_names:
        raise DeployError(f"artifact outputs {declared} differ from what family '{family.name}' declares now {loaded.output_names}; re-run `deploy convert`")
    if tolerance is None:
        tolerances = {n: Tolerance(**t) for n, t in manifest["tolerances"].items()}
    else:
        tolerances = tolerances_for(loaded.outputs, tolerance)
    options = {**manifest["backend"].get("options", {}), **(backend_options or {})}
    runner = segments.load(backend, Path(folder), manifest, options, host.host_ops())
    seeds = manifest["verification"]["seeds"]
    verification = verify(backend.name, loaded.outputs, seeds, reference_runner(loaded, spec), runner, tolerances, on_input,
                          manifest.get("task"), {**(manifest.get("task_tolerances") or {}), **(task_tolerances or {})})
    evaluation = None
    if eval_dataset:
        shape = [d for d in manifest["inputs"][0]["shape"]]
        evaluation = evaluate_on_dataset(loaded, runner, backend.name, eval_dataset, shape)
    return manifest, verification, evaluation
