"""--compare-backends: the verified artifact timed on every other installed backend that loads model.onnx; the manifest
names the fastest backend and precision measured on this machine ("recommended").

Each backend goes through `deploy bench`'s own row logic (deploybridge.runtime.bench): not installed, cannot load and
failed parity on the verification inputs are listed with their one-line reason and never timed, since a time for
wrong outputs would be read as a result. The candidates are timed interleaved run by run with the bench's pause, so a
machine that slows down slows them all alike. After --int8/--fp16 the float32 runner the precision search compared
against is timed in the same rounds (its artifact is not in the folder: the line says how to get it).
"""
from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any, Callable, Sequence

RUNS, WARMUP, PAUSE_S = 10, 2, 0.05  # the pause: runtime.bench.settle measured why


def requested(host, own: str, value: str | None) -> list[str]:
    """The backends --compare-backends names ("all" or a comma list), own first; a typo exits 2 before any work."""
    from deploybridge.runtime.bench import backend_names

    return backend_names(host, own, ["all"] if value == "all" else [v.strip() for v in (value or "").split(",") if v.strip()])


def precision_of(manifest: dict) -> str:
    options = manifest["backend"].get("options") or {}
    mode = (manifest.get("precision") or {}).get("mode")
    return mode or ("fp16" if "to_fp16" in manifest["passes"] or options.get("fp16") else "fp32")


def machine(threads: int) -> dict:
    model = platform.processor() or platform.machine()
    try:
        model = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name"))
    except (OSError, StopIteration):
        pass  # not Linux: platform's answer
    return {"cpu": model, "cores": os.cpu_count(), "threads": threads}


def measure(host, folder: Path, manifest: dict, loaded, seeds: Sequence, reference: Callable, value: str,
            fp32_runner: Callable | None = None, threads: int | None = None) -> dict:
    """The "recommended" entry: every requested backend checked on the verification inputs (the parity `deploy bench`
    holds it to), the passing ones timed interleaved, the fastest named."""
    import torch

    from deploybridge.parity import precision_gate
    from deploybridge.parity.verification import verify
    from deploybridge.records import Tolerance
    from deploybridge.runtime.bench import BenchRow, Candidate, checked_backend, interleave, summarise

    mode = precision_of(manifest)
    tolerances = {n: Tolerance(**t) for n, t in manifest["tolerances"].items()}
    threads = threads or torch.get_num_threads()

    def check(name: str, runner: Callable):
        verification = verify(name, loaded.outputs, seeds, reference, runner, tolerances, task=loaded.task,
                              task_tolerances=manifest.get("task_tolerances") or {}, allow_inconclusive=True)
        precision_gate.judge(verification, mode, allow_inconclusive=True)  # int8: task parity gates, as in convert
        return verification

    feed = reference(seeds[0])[0]
    candidates, own = [], manifest["backend"]["name"]
    for name in requested(host, own, value):
        if name != own and host.backends()[name].build_from_module is not None:
            row = BenchRow(name, f"not compared: builds from the PyTorch module, not model.onnx (convert with --backend {name})")
            candidates.append((mode, Candidate(row)))
            continue
        candidates.append((mode, checked_backend(host, name, Path(folder), manifest, threads, check, feed)))
    if fp32_runner is not None and mode != "fp32":  # float32 verified before the search lowered it
        candidates.append(("fp32", Candidate(BenchRow(own, "ok", parity="ok"), lambda: fp32_runner(feed))))
    interleave([c for _, c in candidates if c.run is not None], WARMUP, RUNS, PAUSE_S)
    summarise([c for _, c in candidates])
    measured = [{"backend": c.row.runtime, "precision": p, "median_ms": _round(c.row.median_ms),
                 "parity": c.row.parity, "status": c.row.status} for p, c in candidates]
    return {**choose(measured), "measured": measured, "runs": RUNS, "warmup": WARMUP, "machine": machine(threads)}


def choose(measured: Sequence[dict]) -> dict:
    """The fastest entry whose parity is ok; a failing or untimed one never, however fast."""
    ok = [m for m in measured if m["parity"] == "ok" and m["status"] == "ok" and m["median_ms"] is not None]
    best = min(ok, key=lambda m: m["median_ms"], default=None)
    return {k: (best or {}).get(k) for k in ("backend", "precision", "median_ms")}


def _round(ms: float | None) -> float | None:
    return None if ms is None else round(ms, 2)


def lines(manifest: dict, out: Path) -> list[str]:
    """What `deploy convert` prints: the fastest verified backend and precision, or what it measured and the hint."""
    rec = manifest.get("recommended")
    if not rec:
        cmp = (manifest.get("precision") or {}).get("comparison") or {}
        own, mode = manifest["backend"]["name"], precision_of(manifest)
        hint = "pass --compare-backends all to time this artifact on the other installed backends and name the fastest"
        if cmp.get(mode) and cmp.get("fp32"):
            return [f"measured on this machine: {own} {mode} {cmp[mode]['median_ms']:.1f} ms, fp32"
                    f" {cmp['fp32']['median_ms']:.1f} ms; {hint}"]
        return [hint]
    if rec["backend"] is None:
        return ["no backend passed parity on the verification inputs: nothing to recommend"] + _skipped(rec)
    others = ", ".join(f"{m['backend']} {m['precision']} {m['median_ms']:.1f} ms" for m in rec["measured"]
                       if m["median_ms"] is not None and (m["backend"], m["precision"]) != (rec["backend"], rec["precision"]))
    use = f"use it with `deploy run {out}" + ("`" if rec["backend"] == manifest["backend"]["name"] else f" --backend {rec['backend']}`")
    if rec["precision"] != precision_of(manifest):  # the float32 graph the search lowered is not in the folder
        use = f"convert again without --{precision_of(manifest)} to get it"
    return [f"fastest verified on this machine: {rec['backend']} {rec['precision']}, {rec['median_ms']:.1f} ms"
            + (f" ({others})" if others else "") + f"; {use}"] + _skipped(rec)


def _skipped(rec: dict) -> list[str]:
    return [f"  {m['backend']}: {m['status'][:160]}" for m in rec["measured"] if m["status"] != "ok"]

