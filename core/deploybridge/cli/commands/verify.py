"""deploy verify."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer


def verify(
    folder: Path = typer.Argument(..., help="Artifact folder written by `deploy convert`."),
    backend: Optional[str] = typer.Option(None, "--backend", "-b", help="Backend to check (default: the artifact's)."),
    threads: Optional[int] = typer.Option(None, "--threads", help="Backend intra-op threads."),
    provider: List[str] = typer.Option([], "--provider", help="ONNX Runtime execution provider (repeatable)."),
    atol: Optional[float] = typer.Option(None, "--atol", help="Override the manifest's absolute tolerance for every output."),
    task_tolerance: List[str] = typer.Option([], "--task-tolerance", help="Task-aware tolerance KEY=VALUE (repeatable), e.g. max_box_deviation_px=2."),
    rtol: Optional[float] = typer.Option(None, "--rtol", help="Override the manifest's relative tolerance for every output."),
    eval_dataset: Optional[str] = typer.Option(None, "--eval", help="Also compare AP (detectors) or mIoU (semantic segmenters) on a COCO json, or 'shapes' (the shapes validation split)."),
    json_out: bool = typer.Option(False, "--json", help="Print the verification as JSON."),
    inputs: List[Path] = typer.Option([], "--inputs", help="Check on these image files or folders (repeatable) instead of the"
                                      " images the conversion was verified on; its seeded inputs are checked too."),
    plant: Optional[str] = typer.Option(None, "--plant", help="Plant one of the smallest errors that matter into the artifact's"
                                        " outputs and watch verification fail: mask_region, label_swap, box_shift, score_shift;"
                                        " class_region, zeros (semantic segmentation); rank_flip (embedders)"
                                        " (docs/verification.md). Exit 1 is the expected result."),
    allow_inconclusive: bool = typer.Option(False, "--allow-inconclusive", help="Pass a verification that compared nothing (no detections on any input, a constant output) instead of exiting 1; the manifest and report still say it was inconclusive."),
) -> int:
    """Re-run every check `deploy convert` ran, from the artifact and the model spec stored in its manifest.

    The model is rebuilt by its family plugin from the manifest (same weights or same seeded random weights) and
    compared with the artifact on the same seeded inputs, at the other input shapes of a dynamic export, and against
    the framework's own predict; every file is checked against its checksum first. Checks that could not run are
    listed with the reason.
    """
    from deploybridge.convert import artifact
    from deploybridge.convert.manifest import is_verified
    from deploybridge.cli import console
    from deploybridge.parity import verification
    from deploybridge.cli import options as cli_options
    from deploybridge.cli import tables
    from deploybridge.plugins import Host

    from deploybridge.parity.user_inputs import image_files

    # every file against its checksum first: a modified, missing or unlisted file fails (exit 2) before plugins load
    manifest = artifact.read_manifest(folder)
    owner = manifest["plugin"]["name"]
    # only the family's plugin, unless another backend is asked for: it may come from any plugin
    other_backend = backend is not None and backend != manifest["backend"]["name"]
    host = Host(only=[owner] if owner != "builtin" and not other_backend else None)
    with console.StageProgress(["verify"], quiet=json_out) as progress, progress.stage("verify"):
        _, result, evaluation = verification.verify_artifact(host, folder, backend, cli_options.backend_options(threads, provider),
                                                         cli_options.tolerance_override(atol, rtol), eval_dataset=eval_dataset,
                                                         task_tolerances=cli_options.task_tolerances(task_tolerance),
                                                         manifest=manifest, allow_inconclusive=allow_inconclusive,
                                                         inputs=image_files(inputs) or None, plant=plant)
    if json_out:
        console.print_json({**result.to_json(), "evaluation": evaluation.to_json() if evaluation else None})
    else:
        tables.print_verification(result, evaluation)
    if result.inconclusive and not result.passed:
        console.err().print(f"[bold red]verification inconclusive[/]: {result.summary().split(': ', 1)[1]}")
    if not result.passed and not result.inconclusive:
        console.err().print(f"run `deploy debug {folder}` to find the first node that departs from PyTorch, its module"
                            " and the rewrite that fixes it")
    if not is_verified(manifest):  # this check does not change the marker: only a conversion sets it
        console.err().print(f"note: the manifest marks {folder} UNVERIFIED (its conversion failed); `deploy run` and"
                            " `deploy threshold` refuse it without --allow-unverified; re-run `deploy convert` to replace it")
    return 0 if result.passed and (evaluation is None or evaluation.passed) else 1


def add_to(app: typer.Typer) -> None:
    app.command("verify")(verify)
