"""float32 against the lowered precision, side by side: verification, task parity, ΔAP and speed on this machine.

Speed is measured in the conversion's own process, the two artifacts interleaved run by run (after a warm-up), so a
machine that slows down during the measurement slows both alike; medians, not means (one scheduler hiccup on a
shared machine moves a mean). The input is the first verification input.
"""
from __future__ import annotations

import time
from typing import Callable, Mapping

import numpy as np

RUNS, WARMUP = 10, 2


def interleaved_ms(runners: Mapping[str, Callable[[dict], dict]], feed: dict, runs: int = RUNS,
                   warmup: int = WARMUP) -> dict[str, float]:
    """Median milliseconds per runner, timed alternately on the same input."""
    times: dict[str, list[float]] = {name: [] for name in runners}
    for k in range(warmup + runs):
        for name, run in runners.items():
            start = time.perf_counter()
            run(feed)
            if k >= warmup:
                times[name].append((time.perf_counter() - start) * 1000.0)
    return {name: round(float(np.median(t)), 2) for name, t in times.items()}


def _task_worst(verification) -> dict:
    """The worst of each task metric over the verification inputs (the ones a bound holds: min or max)."""
    worst: dict[str, float] = {}
    for check in verification.inputs:
        for key, value in ((check.task or {}).get("metrics") or {}).items():
            if not isinstance(value, (int, float)) or key.endswith("count") or key == "matched":
                continue
            low = key.startswith(("min_", "matched_fraction", "label_agreement", "top1", "pixel", "cosine", "mask_iou"))
            worst[key] = min(worst.get(key, value), value) if low else max(worst.get(key, value), value)
    return worst


def _column(verification, evaluation, ms: float) -> dict:
    return {"verification": "passed" if verification.passed else "FAILED", "task": _task_worst(verification),
            "max_abs_error": max((c.max_abs or 0.0 for i in verification.inputs for c in i.outputs), default=0.0),
            "delta_ap": dict(evaluation.delta) if evaluation is not None else None, "median_ms": ms}


def compare(mode: str, fp32_runner, lowered_runner, feed: dict, fp32_verification, fp32_evaluation, verification,
            evaluation, options: Mapping) -> dict:
    """The report's side-by-side entry: {"fp32": column, mode: column, "speedup": fp32 ms / lowered ms, "threads"}."""
    ms = interleaved_ms({"fp32": fp32_runner, mode: lowered_runner}, feed)
    return {"fp32": _column(fp32_verification, fp32_evaluation, ms["fp32"]),
            mode: _column(verification, evaluation, ms[mode]),
            "speedup": round(ms["fp32"] / ms[mode], 2) if ms[mode] else None,
            "runs": RUNS, "threads": options.get("threads")}


def print_precision(precision: Mapping) -> None:
    """The precision search and the side-by-side table, as `deploy convert` prints them."""
    from rich.table import Table

    from deploybridge.cli import console

    out = console.out()
    mode, cmp = precision["mode"], precision.get("comparison") or {}
    for r in precision["rounds"]:
        out.print(f"{mode} round {r['number']}: {r['kept_fp32']} node(s) kept in float32 -> "
                  f"{'passed' if r['passed'] else 'failed'}: {r['summary'][:160]}")
    for g in precision["kept_fp32"]:
        ops = ", ".join(f"{op} x{n}" for op, n in sorted(g["ops"].items(), key=lambda kv: -kv[1])[:6])
        out.print(f"kept in float32: {g['count']} node(s) ({ops}): {g['why']}")
    if not cmp:
        return
    table = Table(title=f"float32 vs {mode} on this machine (median of {cmp.get('runs')} interleaved runs)")
    table.add_column("")
    table.add_column("fp32", justify="right")
    table.add_column(mode, justify="right")
    a, b = cmp["fp32"], cmp[mode]
    table.add_row("verification", a["verification"], b["verification"])
    table.add_row("max abs error vs PyTorch", f"{a['max_abs_error']:.3g}", f"{b['max_abs_error']:.3g}")
    for key in sorted(set(a["task"]) | set(b["task"])):
        table.add_row(f"worst {key}", _fmt(a["task"].get(key)), _fmt(b["task"].get(key)))
    for key in sorted(set(a["delta_ap"] or {}) | set(b["delta_ap"] or {})):
        metric = key.split(":", 1)[-1]
        label = "ΔmIoU" if metric == "miou" else f"ΔAP {metric}" if metric.endswith("_ap") else f"ΔIoU {metric.removeprefix('iou_')}"
        table.add_row(f"{label} (points)", _points((a["delta_ap"] or {}).get(key)),
                      _points(next((v for k, v in (b["delta_ap"] or {}).items() if k.endswith(metric)), None)))
    table.add_row("median ms", f"{a['median_ms']:.1f}", f"{b['median_ms']:.1f}")
    table.add_row("speed-up", "1.00x", f"{cmp['speedup']:.2f}x" if cmp.get("speedup") else "-")
    out.print(table)


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.3g}"


def _points(value) -> str:
    return "-" if value is None else f"{value * 100:+.2f}"
