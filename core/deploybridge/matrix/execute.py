"""One cell, run where the executor puts it: `deploy convert` (and `deploy bench` when it verified) as child
processes under the cell's limits, read back into a CellResult. Plain dicts in and out, so a Ray or Dask worker on
another machine needs nothing but deploybridge installed."""
from __future__ import annotations

import json
import os
import re
import signal
import sys
import tempfile
import time
from pathlib import Path

from deploybridge.matrix.cells import CellResult
from deploybridge.matrix.limits import run_limited

KILL_ENV = "DEPLOYBRIDGE_MATRIX_KILL"  # a cell id: its process is SIGKILLed (tests: a killed worker)


def execute_cell(cell: dict, settings: dict) -> dict:
    """``cell``: Cell.to_json(); ``settings``: out, timeout_s, memory_gib, bench_runs, threads, in_worker."""
    start = time.monotonic()
    kill = os.environ.get(KILL_ENV) == cell["id"] or settings.get("kill") == cell["id"]
    if kill and settings.get("in_worker"):
        os.kill(os.getpid(), signal.SIGKILL)  # the Ray / Dask worker itself dies, as under the OOM killer
    out = Path(settings["out"]) / cell["folder"]
    env = child_env(settings)
    deploy = [sys.executable, "-m", "deploybridge"]
    done = run_limited([*deploy, "convert", *cell["convert_args"], "--out", str(out), "--force"], env,
                       settings["timeout_s"], settings.get("memory_gib"), kill_at_start=kill)
    result = _read_conversion(cell, out, done)
    result.reason = stable(result.reason, settings["out"])
    if result.status == "green" and settings.get("bench_runs"):
        left = max(1.0, settings["timeout_s"] - (time.monotonic() - start))
        _add_timing(result, run_limited([*deploy, "bench", str(out), "--runs", str(settings["bench_runs"]), "--warmup",
                                         "2", "--no-rss", "--json"], env, left, settings.get("memory_gib")), cell)
    result.seconds = round(time.monotonic() - start, 1)
    return result.to_json()


def child_env(settings: dict) -> dict:
    """The environment of a cell's processes: this one's, each computing on ``settings["threads"]`` (one job per core)."""
    threads = str(settings.get("threads", 1))
    env = {**os.environ, "DEPLOYBRIDGE_THREADS": threads, "OMP_NUM_THREADS": threads}
    env.pop(KILL_ENV, None)
    return env


def stable(text: str, out: str) -> str:
    """A reason without the run's own paths (the matrix's --out, temporary folders), so two runs can be compared."""
    text = text.replace(out, "<out>")
    return re.sub(re.escape(tempfile.gettempdir().rstrip("/")) + r"/[^/\s]+", "<tmp>", text)


def _read_conversion(cell: dict, out: Path, done) -> CellResult:
    result = CellResult(cell["id"], cell["model"], cell["backend"], cell["precision"], "red")
    if done.problem:
        result.reason = done.problem
        return result
    manifest = read_json(out / "manifest.json") if done.code in (0, 1) else None
    if manifest is None:  # refused (2) or crashed (3): its one-line error
        lines = [ln for ln in done.stderr.splitlines() if ln.startswith("error:")] or done.stderr.strip().splitlines()
        result.reason = (lines[-1] if lines else f"deploy convert exited {done.code} without a word").removeprefix("error: ")
        return result
    verification = manifest.get("verification") or {}
    result.parity = verification.get("summary", "")
    evaluation = manifest.get("evaluation") or {}
    result.evaluation = {k: round(v, 4) for k, v in (evaluation.get("delta") or {}).items()}
    if done.code == 0:
        result.status = "green"
    elif verification.get("inconclusive"):
        result.status, result.reason = "inconclusive", verification["inconclusive"]
    else:
        result.reason = _first_failure(manifest) or result.parity
    return result


def _first_failure(manifest: dict) -> str:
    evaluation = manifest.get("evaluation") or {}
    if evaluation and not evaluation.get("passed", True):
        worst = max(evaluation.get("delta", {}).items(), key=lambda kv: abs(kv[1]), default=("", 0.0))
        return f"{worst[0]} delta {worst[1]:+.4f} over the bound {evaluation.get('max_delta')}"
    return ""


def _add_timing(result: CellResult, done, cell: dict) -> None:
    rows = []
    if done.code == 0 and not done.problem:
        try:
            rows = json.loads(done.stdout)[0]["rows"]
        except (json.JSONDecodeError, LookupError, TypeError):
            rows = []
    mine = [r for r in rows if r.get("runtime") == cell["backend"] and r.get("median_ms") is not None]
    if mine:
        result.ms, result.speedup = round(mine[0]["median_ms"], 2), mine[0].get("speedup")
    else:
        result.reason = f"verified, not timed: {done.problem or (done.stderr.strip().splitlines() or ['no rows'])[-1]}"


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
