"""deploy matrix."""
from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import Optional

import typer

from deploybridge.matrix.plan import DEFAULT_BACKENDS, DEFAULT_PRECISIONS


def _names(value: Optional[str]) -> list[str]:
    return [n.strip() for n in (value or "").split(",") if n.strip()]


def _default_memory_gib(jobs: int) -> float:
    """The machine's memory shared by the cells that run at once, less 2 GiB for everything else, at most 16."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    except (ValueError, OSError):
        return 8.0
    return round(max(1.0, min(16.0, (total - 2) / max(1, jobs))), 1)


def matrix(
    rows: str = typer.Option("seeds", "--rows", help="Which rows: seeds (every seed model and the embedded shapes"
                             " models; docs/support-matrix.md) or torchvision-builders (every detection, keypoint and"
                             " segmentation builder torchvision ships, random weights; docs/support-torchvision.md)."),
    families: Optional[str] = typer.Option(None, "--families", help="Only these families' rows (comma-separated)."),
    models: Optional[str] = typer.Option(None, "--models", help="Only these rows (comma-separated; a row's name such as"
                                         " shapes_retinanet, or family:model for any other model, random weights)."),
    backends: str = typer.Option(",".join(DEFAULT_BACKENDS), "--backends", help="Backends (comma-separated)."),
    precisions: str = typer.Option(",".join(DEFAULT_PRECISIONS), "--precisions", help="Precisions (fp32, fp16, int8),"
                                   " each on the backends that offer it."),
    executor: str = typer.Option("local", "--executor", help="local (a pool on this machine), ray or dask (the extras"
                                 " deploybridge(ray) / (dask): pip install ray, or dask and distributed)."),
    address: Optional[str] = typer.Option(None, "--address", help="An existing Ray or Dask cluster; without it the"
                                          " command starts a local one of --jobs workers and stops it at the end."),
    jobs: int = typer.Option(os.cpu_count() or 1, "--jobs", min=1, help="Cells at once (default: one per core; each"
                             " cell computes on one thread: two heavy jobs on one core slow both tenfold)."),
    timeout: float = typer.Option(1800, "--timeout", min=1, help="Seconds a cell may take; past it the cell is red."),
    memory_gib: Optional[float] = typer.Option(None, "--memory-gib", min=0.1, help="Memory a cell may hold (its whole"
                                               " process tree); over it the cell is red. Default: the machine's memory"
                                               " over --jobs, less 2 GiB, at most 16."),
    bench_runs: int = typer.Option(10, "--bench-runs", min=0, help="Timed runs per verified cell (0: no timing)."),
    eval_dataset: Optional[str] = typer.Option(None, "--eval", help="A COCO annotations json (or 'shapes'): ΔAP of"
                                               " every verified detector / instance segmenter on it, its images in"
                                               " shards across the executor, merged and scored once."),
    eval_shards: Optional[int] = typer.Option(None, "--eval-shards", min=1, help="Shards per evaluated cell (default:"
                                              " --jobs)."),
    out: Path = typer.Option(Path("artifacts/matrix"), "--out", help="Artifacts (one folder per cell) and the cache."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Run every cell again, cached or not."),
    write: Optional[Path] = typer.Option(None, "--write", help="Write the table as Markdown (docs/support-matrix.md)."),
    check: Optional[Path] = typer.Option(None, "--check", help="Compare with a written table, timings apart: exit 1"
                                         " and the differing rows when they differ."),
    json_out: bool = typer.Option(False, "--json", help="Print the cells as JSON."),
) -> int:
    """Convert and verify models x backends x precisions, one process per cell, and print the support table.

    Each cell is `deploy convert` (and `deploy bench` when it verified) in a process of its own, under --timeout and
    --memory-gib: green (verified: parity, Δ on the row's dataset, ms), red (the one-line reason), inconclusive
    (nothing to compare), or skipped (its stack or backend is not installed here, with how to install it). Cells are
    cached by a hash of the model's arguments, files, options and versions: a re-run recomputes only what changed.
    Exit 0 when the table was made (red cells are results), 1 when --check finds differences, 2 on bad input.
    """
    from deploybridge.cli import console
    from deploybridge.errors import DeployError
    from deploybridge.matrix import cache, report
    from deploybridge.matrix.execute import KILL_ENV
    from deploybridge.matrix.executors import EXECUTORS, run_cells
    from deploybridge.matrix.plan import choose_entries, plan
    from deploybridge.plugins import Host

    if executor not in EXECUTORS:
        raise DeployError(f"unknown executor '{executor}'; choose from {', '.join(EXECUTORS)}")
    if check is not None and not check.is_file():
        raise DeployError(f"{check} not found; write one first with --write")
    if eval_dataset and eval_dataset != "shapes" and not Path(eval_dataset).is_file():
        raise DeployError(f"dataset {eval_dataset} not found; give a COCO annotations .json or 'shapes'")
    entries = choose_entries(_names(families), _names(models), rows)
    todo, results = plan(entries, _names(backends), _names(precisions), Host())
    settings = {"out": str(out.resolve()), "timeout_s": timeout, "memory_gib": memory_gib or _default_memory_gib(jobs),
                "bench_runs": bench_runs, "threads": 1, "kill": os.environ.get(KILL_ENV)}
    store, skipped_here = out / "cache", len(results)
    cells, keys = [], {}
    for cell in todo:
        data = cell.to_json()
        keys[cell.id] = cache.cell_key(data, settings)
        hit = None if no_cache else cache.load(store, keys[cell.id])
        (results.append(hit) if hit else cells.append(data))
    total, progress = len(todo) + skipped_here, console.err()
    progress.print(f"deploy matrix: {total} cells, {skipped_here} skipped here, {len(todo) - len(cells)} from the cache,"
                   f" {len(cells)} to run on {executor}, {jobs} at once", markup=False)
    with console.counted(len(cells), "cells") as finished:
        def done(result) -> None:
            result.key = keys.get(result.id, "")
            cache.store(store, result)
            results.append(result)
            why = f": {result.reason}" if result.reason else ""
            finished(f"[{len(results)}/{total}] {result.id} {result.status}{why} ({result.seconds:.0f} s)", report.summary(results))

        run_cells(cells, settings, executor, jobs, address, done)
    if eval_dataset:
        from deploybridge.matrix.evaluate import evaluate_cells

        evaluate_cells(results, eval_dataset, eval_shards or jobs, settings, executor, jobs, address,
                       lambda line: progress.print(line, markup=False))
    command = "deploy matrix " + shlex.join(sys.argv[2:] if sys.argv[1:2] == ["matrix"] else [])
    page = report.markdown(results, command.strip(), cache.versions(""))
    if json_out:
        console.print_json([r.to_json() for r in report.ordered(results)])
    else:
        console.out().print(report.rich_table(results))
        console.out().print(report.summary(results), markup=False)
    if write is not None:
        write.parent.mkdir(parents=True, exist_ok=True)
        tmp = write.with_name(f".{write.name}.tmp")
        tmp.write_text(page)
        tmp.replace(write)
        progress.print(f"wrote {write}", markup=False)
    if check is not None:
        differ = report.differences(check.read_text(), page)
        if differ:
            progress.print(f"{check} differs from this run (timings apart):\n" + "\n".join(differ), markup=False)
            return 1
        progress.print(f"{check} matches this run (timings apart)", markup=False)
    return 0


def add_to(app: typer.Typer) -> None:
    app.command("matrix")(matrix)
