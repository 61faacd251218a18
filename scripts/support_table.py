"""What the support-table scripts (detectron2_support.py, mmdet_support.py) share: run one `deploy convert` in its own
process (timed inside the machine lock when one is given) and read what it measured from the artifact's manifest."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

TIMED = ("import subprocess, sys, time; t = time.monotonic(); code = subprocess.run(sys.argv[1:]).returncode;"
         " sys.stderr.write(f'\\nconversion took {time.monotonic() - t:.1f} s\\n'); sys.exit(code)")


def convert(args: list[str], lock: str | None) -> tuple[subprocess.CompletedProcess, float]:
    """(finished `deploy convert ARGS` process, seconds it ran), through `flock LOCK` when given (the wait for the
    machine not counted)."""
    cmd = [sys.executable, "-m", "deploybridge", "convert", *args]
    if lock:
        cmd = ["flock", lock, sys.executable, "-c", TIMED, *cmd]
    started = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.monotonic() - started
    timed = re.search(r"\nconversion took ([\d.]+) s\n?$", proc.stderr)
    if timed:
        seconds, proc.stderr = float(timed.group(1)), proc.stderr[:timed.start()]
    return proc, seconds


def reason(proc: subprocess.CompletedProcess, width: int = 160) -> str:
    """The error line a failed conversion printed, fit for a table cell."""
    lines = [ln.strip() for ln in (proc.stderr or proc.stdout).strip().splitlines() if ln.strip()]
    text = next((ln for ln in reversed(lines) if ln.startswith(("error:", "Error:"))), lines[-1] if lines else "?")
    text = re.sub(r"\s+", " ", text.replace("|", "/"))
    return text[:width] + ("…" if len(text) > width else "")


def measured(out: Path) -> dict | None:
    """What verification measured, from OUT/manifest.json (None when no artifact was written)."""
    manifest = out / "manifest.json"
    if not manifest.is_file():
        return None
    data = json.loads(manifest.read_text())
    details = data["verification"]["details"]
    inputs = details["inputs"]
    bad = [o for i in inputs for o in i["outputs"] if not o.get("passed", True)]
    note = next((o["note"] for o in bad if o.get("note")), "")
    return {
        "worst": max((o.get("max_abs") or 0.0 for i in inputs for o in i["outputs"]), default=0.0),
        "got": sum(i.get("detections_got") or 0 for i in inputs),
        "ref": sum(i.get("detections_ref") or 0 for i in inputs),
        "matched": sum((i.get("task") or {}).get("metrics", {}).get("matched", 0) for i in inputs),
        "framework": details.get("framework") or {},
        "failed": sorted({o["name"] for o in bad}),
        "note": re.sub(r"\s+", " ", note.replace("|", "/"))[:140],
        "export_seconds": data.get("export", {}).get("seconds"),
        "inconclusive": details.get("inconclusive"),
    }


def replace_block(page: Path, start: str, end: str, text: str, heading: str = "") -> None:
    """Put ``text`` (which begins with ``start`` and ends with ``end``) in place of that block of ``page``; appended
    under ``heading`` when the page has none yet."""
    content = page.read_text()
    if start not in content:
        content += f"\n{heading}\n\n{start}\n{end}\n"
    page.write_text(content[:content.index(start)] + text + content[content.index(end) + len(end):])
