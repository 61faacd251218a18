"""`deploy bench` results as a rich table per artifact and as one Markdown table (Ultralytics' benchmark table's
columns, plus the parity verdict and the speed-up over PyTorch eager measured in the same run)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from rich.markup import escape
from rich.table import Table

from deploybridge.runtime.bench import ArtifactBench, BenchRow

COLUMNS = ("runtime", "status", "size MB", "parity", "median ms", "p10 ms", "p90 ms", "FPS", "× eager",
           "peak RSS MB (separate process)")


def _num(x: float | None, digits: int = 1) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def _cells(row: BenchRow, runtime: str, status: str) -> list[str]:
    return [runtime, status, _num(row.size_mb), row.parity or "—", _num(row.median_ms), _num(row.p10_ms),
            _num(row.p90_ms), _num(row.fps), "—" if row.speedup is None else f"{row.speedup:.2f}×", _num(row.peak_rss_mb)]


def _kind(status: str) -> str:
    """"not installed: <hint>" -> "not installed": the table keeps the kind, the reason goes below it."""
    return status.split(":", 1)[0]


def _title(bench: ArtifactBench) -> str:
    shape = "x".join(map(str, bench.input_shape))
    return (f"{bench.model} ({bench.folder}), input {shape} seed {bench.input_seed}, {bench.threads} threads,"
            f" {bench.runs} runs after {bench.warmup} warm-up, interleaved, {bench.pause_ms:g} ms pause after each")


def rich_table(bench: ArtifactBench) -> Table:
    table = Table(title=escape(_title(bench)), title_justify="left")
    for col in COLUMNS:
        table.add_column(col, justify="left" if col in ("runtime", "status", "parity") else "right")
    styles = {"ok": "green", "FAIL": "red"}
    for k, row in enumerate(bench.rows):
        status = row.status if row.ok else f"{_kind(row.status)} [{k + 1}]"
        cells = [escape(c) for c in _cells(row, row.runtime, status)]
        status = "green" if row.ok else ("yellow" if row.status.startswith("not installed") else "red")
        cells[1] = f"[{status}]{cells[1]}[/]"
        if row.parity in styles:
            cells[3] = f"[{styles[row.parity]}]{cells[3]}[/]"
        table.add_row(*cells)
    return table


def notes(bench: ArtifactBench) -> list[str]:
    """Below the table: why a runtime was not timed (its [k] in the status column), peak RSS not measured, versions."""
    lines = [f"[{k + 1}] {r.runtime}: {r.status}" for k, r in enumerate(bench.rows) if not r.ok]
    lines += [f"{r.runtime}: peak RSS {r.rss_note}" for r in bench.rows if r.rss_note]
    versions = ", ".join(f"{r.runtime} {r.version}" for r in bench.rows if r.version)
    return lines + ([f"versions: {versions}"] if versions else [])


def markdown(benches: Sequence[ArtifactBench]) -> str:
    """One Markdown table over every artifact, each row naming its model, artifact folder and input; below it, why
    a peak RSS is missing."""
    head = ("model", "artifact", "input") + COLUMNS
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    missing = []
    for bench in benches:
        shape = "x".join(map(str, bench.input_shape))
        folder = Path(bench.folder).name
        for row in bench.rows:
            runtime = row.runtime + (f" {row.version}" if row.version else "")
            cells = [bench.model, folder, shape, *_cells(row, runtime, row.status)]
            lines.append("| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |")
            if row.rss_note:
                missing.append(f"- {bench.model} ({folder}), {row.runtime}: peak RSS {row.rss_note}")
    return "\n".join(lines + ([""] + missing if missing else [])) + "\n"
