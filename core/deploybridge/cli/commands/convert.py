"""deploy convert."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

STAGES = ["load", "export", "graph passes", "build", "verify", "evaluate"]


def convert(
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Model name within the family, e.g. maskrcnn_resnet50_fpn"
                                        " (families that take --config default it to the config name)."),
    out: Path = typer.Option(..., "--out", "-o", help="Artifact folder to create (written atomically)."),
    plugin: Optional[str] = typer.Option(None, "--plugin", "-p", help="Load only this plugin's entry point (plus built-ins)."),
    family: Optional[str] = typer.Option(None, "--family", help="Family name, when the plugin registers several."),
    config: Optional[str] = typer.Option(None, "--config", help="Framework config (families that use configs)."),
    weights: Optional[str] = typer.Option(None, "--weights", "-w", help="Local checkpoint file, or a pretrained weights name found in the local torch cache."),
    random_weights: bool = typer.Option(False, "--random-weights", help="Random weights, initialised so outputs are not degenerate (for trying the pipeline)."),
    seed: int = typer.Option(0, "--seed", help="Seed for random weights and verification inputs."),
    backend: str = typer.Option("onnxruntime", "--backend", "-b", help="Backend to build and verify."),
    exporter: Optional[str] = typer.Option(None, "--exporter", help="legacy (TorchScript-based) or dynamo; default: the family's choice."),
    opset: int = typer.Option(17, "--opset", help="ONNX opset to export."),
    input_shape: Optional[str] = typer.Option(None, "--input-shape", help="Input shape N,C,H,W (default: the family's)."),
    dynamic: Optional[str] = typer.Option(None, "--dynamic", help="Input axes left free in the export: a comma list of"
                                          " batch, height, width; verified at --min-shape, the input shape and --max-shape."),
    min_shape: Optional[str] = typer.Option(None, "--min-shape", help="With --dynamic: smallest input N,C,H,W (default:"
                                            " batch 1, H and W three quarters of the input's, on a multiple of 32)."),
    max_shape: Optional[str] = typer.Option(None, "--max-shape", help="With --dynamic: largest input N,C,H,W (default:"
                                            " batch 4, H and W one and a half times the input's, on a multiple of 32)."),
    option: List[str] = typer.Option([], "--option", help="Family option KEY=VALUE (repeatable), e.g. num_classes=5."),
    passes: List[str] = typer.Option([], "--pass", help="Run this graph pass too (repeatable; see `deploy rewrites`)."),
    truncate_nms: bool = typer.Option(False, "--truncate-nms", help="Run NonMaxSuppression on the host (NumPy) instead of in the"
                                      " engine: the graph is cut into segments around every NMS (pass truncate_before_nms)."),
    fp16: bool = typer.Option(False, "--fp16", help="Convert the compute-heavy ops to float16 (pass to_fp16; --backend torchscript casts"
                              " the whole module instead); inputs and outputs stay float32 and tolerances are scaled to float16's rounding."),
    fp16_io: bool = typer.Option(False, "--fp16-io", help="With --fp16: float16 inputs and outputs too (callers may keep"
                                 " passing float32: the backend casts)."),
    int8: bool = typer.Option(False, "--int8", help="Static int8 (QDQ) after the float32 artifact verifies; nodes go back to"
                              " float32 until task parity (and --eval's ΔAP, within 1 point) passes. ONNX-built backends."),
    calibration: Optional[Path] = typer.Option(None, "--calibration", help="With --int8: a folder of images to calibrate on,"
                                               " fed as `deploy run` feeds them (default: the family's calibration inputs)."),
    no_rewrite: List[str] = typer.Option([], "--no-rewrite", help="Do not apply this rewrite (repeatable)."),
    threads: Optional[int] = typer.Option(None, "--threads", help="Backend intra-op threads."),
    provider: List[str] = typer.Option([], "--provider", help="ONNX Runtime execution provider (repeatable, in priority order)."),
    num_inputs: Optional[int] = typer.Option(None, "--num-inputs", min=0, help="How many seeded synthetic inputs verification"
                                             " compares (default 3, or 0 with --inputs; give both to use both)."),
    inputs: List[Path] = typer.Option([], "--inputs", help="Verify on these image files or folders of images (repeatable),"
                                      " fed as `deploy run` feeds them (the model's resize and normalisation)."),
    atol: Optional[float] = typer.Option(None, "--atol", help="Override the absolute tolerance for every output."),
    task_tolerance: List[str] = typer.Option([], "--task-tolerance", help="Task-aware tolerance KEY=VALUE (repeatable), e.g. max_box_deviation_px=2."),
    rtol: Optional[float] = typer.Option(None, "--rtol", help="Override the relative tolerance for every output."),
    eval_dataset: Optional[str] = typer.Option(None, "--eval", help="Also compare AP (detectors) or mIoU (semantic segmenters) of PyTorch and the artifact on a COCO json, or 'shapes' (the shapes validation split); fails if |ΔAP| or |ΔmIoU| > 0.1 points."),
    force: bool = typer.Option(False, "--force", "-f", help="Replace an existing --out folder (a result that fails"
                               " verification never replaces a verified artifact: it is written to OUT.unverified)."),
    allow_inconclusive: bool = typer.Option(False, "--allow-inconclusive", help="Pass a verification that compared nothing (no detections on any input, a constant output) instead of exiting 1; the manifest and report still say it was inconclusive."),
    compare_backends: Optional[str] = typer.Option(None, "--compare-backends", help="After verification, time the artifact"
                                                   " on these backends too ('all' or a comma list; each checked for parity on the"
                                                   " verification inputs): the manifest's 'recommended' names the fastest verified one."),
    json_out: bool = typer.Option(False, "--json", help="Print the manifest as JSON on stdout instead of the summary."),
) -> int:
    """Export a model, build it for a backend, verify parity and write an artifact folder.

    Example: deploy convert --plugin torchvision --model maskrcnn_resnet50_fpn --random-weights --out out/maskrcnn
    """
    from deploybridge.cli import console
    from deploybridge.convert import pipeline
    from deploybridge.cli import options as cli_options
    from deploybridge.cli import tables
    from deploybridge.errors import DeployError
    from deploybridge.plugins import Host
    from deploybridge.records import ModelSpec

    from deploybridge.parity.user_inputs import image_files

    if num_inputs == 0 and not inputs:
        raise DeployError("--num-inputs 0 leaves verification nothing to compare; give --inputs IMAGES or more seeded inputs")
    if not model and not config and not (plugin or family):
        raise DeployError("give --model NAME (or --config for families that build from configs, or --plugin NAME for its"
                          " default model); see `deploy plugins`")
    model = model or config or ""  # none: the family's default model
    if weights and random_weights:
        raise DeployError("--weights and --random-weights exclude each other; give one")
    if weights and not Path(weights).exists() and ("/" in weights or Path(weights).suffix):
        raise DeployError(f"weights file {weights} not found; give an existing checkpoint path")
    if weights and Path(weights).exists():
        weights = str(Path(weights).resolve())  # `deploy verify` may run from another folder
    spec = ModelSpec(family=family or "", model=model, weights=weights, random_weights=random_weights, seed=seed,
                     input_shape=cli_options.parse_shape(input_shape), config=config, options=cli_options.parse_options(option),
                     dynamic=cli_options.dynamic_request(dynamic, min_shape, max_shape))
    opts = pipeline.ConvertOptions(
        out=out, force=force, backend=backend, exporter=exporter, opset=opset, passes=[*passes, *(["truncate_before_nms"] if truncate_nms else []), *(["to_fp16"] if fp16 or fp16_io else [])],
        fp16_io=fp16_io,
        disabled_rewrites=no_rewrite,
        backend_options=cli_options.backend_options(threads, provider), num_inputs=num_inputs, inputs=image_files(inputs),
        tolerance=cli_options.tolerance_override(atol, rtol), eval_dataset=eval_dataset,
        task_tolerances=cli_options.task_tolerances(task_tolerance), allow_inconclusive=allow_inconclusive,
        precision=_precision(int8, fp16 or fp16_io, calibration), calibration=calibration,
        compare_backends=compare_backends,
    )
    from deploybridge.convert import artifact

    artifact.check_destination(out, force)  # before loading plugins and torch
    host = Host(only=[plugin] if plugin else None)
    if fp16 or fp16_io:
        opts = _fp16_in_module(host, opts, fp16_io)
    stages = (STAGES if eval_dataset else STAGES[:-1]) + (["compare backends"] if compare_backends else [])
    with console.StageProgress(stages, quiet=json_out) as progress:
        result = pipeline.convert(host, spec, opts, plugin=plugin, stage=progress.stage)
    if json_out:
        console.print_json(result.manifest)
    else:
        triage = tables.triage_table(result.manifest["export_warnings"])
        if triage is not None:
            console.out().print(triage)
        tables.print_verification(result.verification, result.evaluation)
        if result.manifest.get("precision"):
            from deploybridge.convert.precision_report import print_precision

            print_precision(result.manifest["precision"])
        m = result.manifest
        if m["verified"]:
            from deploybridge.convert.recommend import lines

            for line in lines(m, Path(result.artifact)):
                console.out().print(line, markup=False, highlight=False)
        console.out().print(
            f"artifact: [bold]{result.artifact}[/] ({m['spec']['family']}/{m['spec']['model']}, {m['export']['exporter']} exporter,"
            f" opset {m['export']['opset']}, backend {m['backend']['name']})"
        )
    if result.passed:
        return 0
    if result.verification.inconclusive and not result.verification.passed:
        console.err().print(f"[bold red]verification inconclusive[/]: {result.verification.summary().split(': ', 1)[1]}")
    else:
        console.err().print("[bold red]verification failed[/]: the artifact does NOT match PyTorch; do not deploy it"
                            " (report.json has the details)")
    beside = f"; {out} still holds the verified artifact" if Path(result.artifact) != Path(out) else ""
    console.err().print(f"kept UNVERIFIED for debugging in {result.artifact}{beside} (`deploy run` and `deploy threshold`"
                        " refuse it without --allow-unverified)")
    if not result.verification.inconclusive:
        console.err().print(f"run `deploy debug {result.artifact}` to find the first node that departs from PyTorch, its"
                            " module and the rewrite that fixes it")
    return 1


def _fp16_in_module(host, opts, fp16_io: bool):
    """--fp16 for a backend that compiles the PyTorch module itself (TorchScript): the backend casts the module and
    its inputs (backend option fp16, which also scales tolerances), instead of the to_fp16 pass on model.onnx."""
    from deploybridge.convert.resolve import resolve_backend
    from deploybridge.errors import DeployError

    chosen = resolve_backend(host, opts.backend)
    if chosen.build_from_module is None:
        return opts
    if "fp16" not in chosen.precisions:
        raise DeployError(f"backend '{chosen.name}' runs {', '.join(chosen.precisions)} only; drop --fp16")
    if fp16_io:
        raise DeployError(f"--fp16-io is for ONNX backends; {chosen.name} takes float32 inputs and casts them itself: use --fp16")
    opts.passes = [p for p in opts.passes if p != "to_fp16"]
    opts.backend_options = {**opts.backend_options, "fp16": True}
    return opts


def _precision(int8: bool, fp16: bool, calibration: Optional[Path]) -> str:
    """fp32, fp16 or int8 from the flags; one-line errors for flags that do not go together or a bad folder."""
    from deploybridge.errors import DeployError

    if int8 and fp16:
        raise DeployError("--int8 and --fp16 exclude each other; give one (int8 keeps what it cannot lower in float32)")
    if calibration is not None:
        if not int8:
            raise DeployError("--calibration is for --int8; add --int8 or drop --calibration")
        from deploybridge.convert.quantize import calibration_images

        calibration_images(calibration)  # a missing or empty folder fails now, before the model is loaded
    return "int8" if int8 else "fp16" if fp16 else "fp32"


def add_to(app: typer.Typer) -> None:
    app.command("convert")(convert)
