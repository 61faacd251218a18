"""deploy bench."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer


def bench(
    folders: List[Path] = typer.Argument(..., help="Artifact folders written by `deploy convert`."),
    backends: Optional[str] = typer.Option(None, "--backends", help="Other backends to run each artifact on, comma-separated"
                                           " (e.g. onnxruntime,openvino), or 'all' for every registered one; the"
                                           " artifact's own backend is always benched."),
    runs: int = typer.Option(20, "--runs", min=1, help="Timed runs per runtime."),
    warmup: int = typer.Option(3, "--warmup", min=0, help="Untimed warm-up runs per runtime."),
    pause_ms: float = typer.Option(50.0, "--pause-ms", min=0, help="Pause after every run, so one runtime's spinning"
                                   " worker threads do not slow the next (measured: 50 ms; 0 for none)."),
    threads: Optional[int] = typer.Option(None, "--threads", min=1, help="Threads for PyTorch and every backend (default: torch's)."),
    json_out: bool = typer.Option(False, "--json", help="Print the results as JSON."),
    markdown_out: bool = typer.Option(False, "--markdown", help="Print the results as one Markdown table."),
    no_rss: bool = typer.Option(False, "--no-rss", help="Skip the peak RSS column (a separate process per runtime)."),
    allow_unverified: bool = typer.Option(False, "--allow-unverified", help="Bench an artifact whose conversion failed"
                                          " verification (refused otherwise, exit 2); a warning says so."),
) -> int:
    """Time PyTorch eager and backends on artifacts: median / p10 / p90 ms, FPS, speed-up over eager, size, parity, peak RSS.

    Per artifact the PyTorch model is rebuilt from the manifest's spec; each backend is checked on the bench input
    (tensor and task parity, as `deploy verify`) before it is timed: one that is not installed, cannot load the
    artifact or fails parity gets a row saying so. Runtimes are timed interleaved, run by run, so the speed-up over
    eager comes from one run; peak RSS is measured in a separate process per runtime.
    """
    from deploybridge.cli import bench_tables, console
    from deploybridge.errors import DeployError
    from deploybridge.plugins import Host
    from deploybridge.runtime.bench import BenchSettings, bench_artifact, checked_manifest

    if json_out and markdown_out:
        raise DeployError("--json and --markdown both print the results; pick one")
    # every folder checked before any is benched: a typo or an unverified artifact last must not cost the others' time
    checked = [checked_manifest(folder, allow_unverified) for folder in folders]
    names = [n.strip() for n in (backends or "").split(",") if n.strip()]
    settings = BenchSettings(runs=runs, warmup=warmup, threads=threads, rss=not no_rss, pause_ms=pause_ms,
                             allow_unverified=allow_unverified)
    quiet = json_out or markdown_out
    progress = (lambda line: None) if quiet else (lambda line: console.err().print(f"… {line}", markup=False))
    host = Host()
    results = []
    for folder, manifest in zip(folders, checked):
        result = bench_artifact(host, folder, names, settings, progress, manifest)
        if result.warning:
            console.err().print(f"warning: {result.warning}", markup=False)
        results.append(result)
    if json_out:
        console.print_json([r.to_json() for r in results])
    elif markdown_out:
        sys.stdout.write(bench_tables.markdown(results))
    else:
        for result in results:
            console.out().print(bench_tables.rich_table(result))
            for note in bench_tables.notes(result):
                console.out().print(note, markup=False)
    return 0


def add_to(app: typer.Typer) -> None:
    app.command("bench")(bench)
