"""Results as rich tables: tensor parity, task parity, framework parity, the checks not run, the AP / mIoU delta and the
export-warning triage."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from rich.markup import escape
from rich.table import Table

from deploybridge.cli import console
from deploybridge.errors import first_line
from deploybridge.parity.verification import Verification


def _fmt(x: float | None) -> str:
    return "—" if x is None else f"{x:.3g}"


def _input_label(check) -> str:
    """The input's seed, and its size where it is not the export's (the other shapes of a dynamic export)."""
    name = Path(check.seed).name if isinstance(check.seed, str) else str(check.seed)  # an --inputs image: its file name
    shape = list(check.input_shape or [])
    shown = shape if shape and shape[0] != 1 else shape[2:]  # a batch is shown; one image by its size
    return name + (f" at {'x'.join(map(str, shown))}" if shape else "")


def verification_table(v: Verification) -> Table:
    table = Table(title=f"parity: PyTorch vs {v.backend}", title_justify="left")
    for col in ("input seed", "output", "shape", "max abs", "max rel", "atol", "rtol", "result"):
        table.add_column(col)
    for check in v.inputs:
        label = _input_label(check)
        if check.detections_ref is not None:
            counts = f"{check.detections_ref} vs {check.detections_got}"
            ok = check.detections_ref == check.detections_got
            extra = f", {check.reordered} reordered" if check.reordered else ""
            extra += f", {check.boundary_swaps} swapped at the top-k cut (not compared)" if check.boundary_swaps else ""
            table.add_row(label, "detections", counts + extra, "", "", "", "",
                          "[green]same count[/]" if ok else "[red]COUNT DIFFERS[/]")
        if check.nothing_compared:  # passed, but proved nothing on this input
            table.add_row(label, "", "", "", "", "", "", f"[yellow]nothing to compare: {check.nothing_compared}[/]")
        for c in check.outputs:
            result = "[green]ok[/]" if c.passed else f"[red]FAIL[/] {c.note}".rstrip()
            table.add_row(label, c.name, "x".join(map(str, c.ref_shape)), _fmt(c.max_abs), _fmt(c.max_rel),
                          f"{c.atol:.3g}", f"{c.rtol:.3g}", result)
    return table


def _metric(value) -> str:
    """A task metric's cell: a fraction just below 1 keeps the digits that show it is not 1 (0.99995, not "1"); a
    per-class dict (segmentation's class IoU) shows its three worst classes."""
    if isinstance(value, dict):
        worst = sorted(value.items(), key=lambda kv: kv[1])[:3]
        return ", ".join(f"{k}: {_metric(v)}" for k, v in worst) + (", ..." if len(value) > 3 else "")
    if not isinstance(value, float):
        return str(value)
    text = f"{value:.3g}"
    return f"{value:.10g}" if text == "1" and value != 1.0 else text


def task_table(v: Verification) -> Table | None:
    checks = [(_input_label(i), i.task) for i in v.inputs if i.task]
    if not checks:
        return None
    table = Table(title=f"{checks[0][1]['task']} parity: PyTorch vs {v.backend}", title_justify="left")
    keys = list(checks[0][1]["metrics"])
    for col in ["input seed", *keys, "result"]:
        table.add_column(col.replace("_", " "))
    for label, t in checks:
        cells = [_metric(t["metrics"][k]) if k in t["metrics"] else "n/a" for k in keys]  # a batch too small to rank
        table.add_row(label, *cells, "[green]ok[/]" if t["passed"] else "[red]FAIL[/] " + "; ".join(t["failures"]))
    return table


def evaluation_table(e) -> Table:
    """AP (detectors) or mIoU with each class's IoU (semantic segmenters) of each runner, and the deltas."""
    scores = e.scores
    table = Table(title=f"{e.metric} on {e.dataset} ({e.images} images)", title_justify="left")
    metrics = list(dict.fromkeys(m for values in scores.values() for m in values))
    table.add_column("runner")
    for m in metrics:
        table.add_column("mIoU" if m == "miou" else m.replace("iou_", "IoU ").replace("_", " "))
    for name, values in scores.items():
        table.add_row(name, *(f"{values[m]:.4f}" if m in values else "—" for m in metrics))
    for name in list(scores)[1:]:
        cells = []
        for m in metrics:
            d = e.delta[f"{name}:{m}"]
            cells.append(f"[{'green' if abs(d) <= e.max_delta else 'red'}]{d:+.4f}[/]")
        table.add_row(f"Δ {name} - {next(iter(scores))}", *cells)
    return table


def evaluation_line(e) -> str:
    """The gate's verdict: "ΔAP within ±0.1 points: ..." (every delta, in points)."""
    state = f"[green]Δ{e.metric} within[/]" if e.passed else f"[bold red]Δ{e.metric} OUTSIDE[/]"
    return f"{state} ±{e.max_delta * 100:.1f} {e.metric} points: " + ", ".join(f"{k} {d * 100:+.2f}" for k, d in e.delta.items())


VERDICT_STYLE = {"fixed": "green", "harmless": "dim", "fixable": "yellow", "unknown": "bold yellow"}


def triage_table(triaged: Sequence[dict]) -> Table | str | None:
    """Export warnings with a verdict each; the harmless ones are only counted (report.json lists them)."""
    shown = [w for w in triaged if w["verdict"] != "harmless"]
    harmless = sum(1 for w in triaged if w["verdict"] == "harmless")
    if not triaged:
        return None
    if not shown:
        return f"export warnings: {harmless} known harmless, each with its reason in report.json"
    caption = f"{harmless} more known harmless, each with its reason in report.json" if harmless else None
    table = Table(title="export warnings", title_justify="left", caption=caption, caption_justify="left")
    for col in ("verdict", "count", "where", "warning", "rewrite / why"):
        table.add_column(col)
    for w in shown:
        style = VERDICT_STYLE[w["verdict"]]
        first = first_line(w["message"])
        table.add_row(f"[{style}]{w['verdict']}[/]", str(w["count"]), escape(w["source"]), escape(first[:110]),
                      escape(f"{w['rewrite']}: {w['why']}" if w["rewrite"] else w["why"]))
    return table


def print_verification(v: Verification, evaluation=None) -> None:
    out = console.out()
    out.print(verification_table(v))
    task = task_table(v)
    if task is not None:
        out.print(task)
    if evaluation is not None:
        out.print(evaluation_table(evaluation))
        out.print(evaluation_line(evaluation))
    if v.framework:
        out.print(framework_line(v.framework))
    for line in v.not_run:  # every check run_checks could not run, with the reason
        out.print(f"[yellow]{escape(line)}[/]")
    style = "green" if v.passed else "bold red"
    out.print(f"[{style}]verification {v.summary()}[/]")


def framework_line(framework: dict) -> str:
    """The exported wrapper against the framework's own predict (parity.framework.check), summed over the inputs."""
    rows = framework["inputs"]
    return (f"[{'green' if framework['passed'] else 'bold red'}]{framework['framework']} vs the exported wrapper:[/]"
            f" {sum(r['matched'] for r in rows)} of {sum(max(r['framework_count'], r['wrapper_count']) for r in rows)}"
            f" instances matched (IoU >= {framework['thresholds']['match_iou']}), min IoU {min(r['min_iou'] for r in rows):.3f},"
            f" max score deviation {max(r['max_score_deviation'] for r in rows):.2g}")
