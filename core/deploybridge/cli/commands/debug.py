"""deploy debug."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Optional

import typer

SHOWN = 30  # table rows around the first divergence; debug.json has every compared tensor


def debug(
    folder: Path = typer.Argument(..., help="Artifact folder written by `deploy convert` (verified or not)."),
    backend: Optional[str] = typer.Option(None, "--backend", "-b", help="Backend to debug (default: the artifact's). On"
                                          " a backend other than onnxruntime, each tensor is compared with ONNX Runtime CPU float32."),
    inputs: Optional[Path] = typer.Option(None, "--inputs", help="Debug on this image instead of the first input the"
                                          " artifact was verified on."),
    fp16: bool = typer.Option(False, "--fp16", help="Lower the float32 graph to float16 and name the layers that"
                              " overflow or lose the most accuracy (against float32 ONNX Runtime)."),
    rtol: float = typer.Option(1e-3, "--rtol", help="A tensor diverges when its max abs error exceeds rtol x its"
                               " largest reference magnitude + atol."),
    atol: float = typer.Option(1e-6, "--atol", help="Absolute part of the bound."),
    out: Optional[Path] = typer.Option(None, "--out", help="Report folder: debug.json, errors.png, model-explorer.json"
                                       " (default: DIR.debug beside the artifact; replaced if it exists)."),
    json_out: bool = typer.Option(False, "--json", help="Print debug.json to stdout (docs/debugging.md has its fields)."),
) -> int:
    """Find the first tensor, in graph order, where the artifact departs from PyTorch, and name its op, ONNX node,
    PyTorch module and source line, its inputs' error against its own, and the registered rewrites or passes that
    match it.

    The model is rebuilt from the manifest and run once with a hook on every module; model.onnx runs on the same
    input with each tensor holding a module's output read out (host steps included). Exit 0: nothing diverges;
    1: a divergence was found (or, with --fp16 / an int8 artifact, the lowered graph departs from float32); 2: bad input.
    """
    from deploybridge.cli import console
    from deploybridge.convert import artifact
    from deploybridge.errors import DeployError
    from deploybridge.parity.debug import report
    from deploybridge.parity.debug.run import debug_artifact
    from deploybridge.plugins import Host

    if inputs is not None and not inputs.is_file():
        raise DeployError(f"--inputs {inputs}: no such image file; give one image")
    manifest = artifact.read_manifest(folder)  # exit 2 before any plugin loads: no artifact, a changed file
    owner = manifest["plugin"]["name"]
    other_backend = backend is not None and backend != manifest["backend"]["name"]
    host = Host(only=[owner] if owner != "builtin" and not other_backend else None)
    with console.StageProgress(["debug"], quiet=json_out) as progress, progress.stage("debug"):
        result = debug_artifact(host, folder, backend, str(inputs) if inputs else None, fp16, rtol, atol,
                                on_step=None if json_out else progress.note)
    target = out or folder.with_name(folder.name + ".debug")
    import onnx

    graph_name = onnx.load(str(folder / artifact.MODEL), load_external_data=False).graph.name
    with tempfile.TemporaryDirectory(prefix=".debug-", dir=target.parent if target.parent.exists() else None) as tmp:
        report.write(result, Path(tmp) / "report", graph_name, rtol)
        if target.exists():
            shutil.rmtree(target)
        shutil.move(str(Path(tmp) / "report"), str(target))
    if json_out:
        console.print_json(report.to_json(result))
    else:
        from deploybridge.cli.debug_tables import print_debug

        print_debug(result, target, SHOWN)
    return 1 if result.diverged else 0


def add_to(app: typer.Typer) -> None:
    app.command("debug")(debug)
