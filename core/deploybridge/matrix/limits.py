"""A child process under a time and a memory limit. The memory of the whole process tree (a conversion starts its
own workers) is read from /proc while it runs; over the cap the tree is killed and the cell says so, rather than
the machine swapping or the kernel's out-of-memory killer choosing another victim."""
from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

POLL_S = 0.2
GIB = 1024**3


@dataclass
class Finished:
    code: int | None
    stdout: str
    stderr: str
    problem: str | None = None  # why it was stopped or died: timed out, out of memory, killed by a signal
    peak_gib: float = 0.0


def run_limited(cmd: Sequence[str], env: Mapping[str, str], timeout_s: float, memory_gib: float | None,
                kill_at_start: bool = False) -> Finished:
    """Run ``cmd`` in a session of its own; stop it at ``timeout_s`` or when its tree's RSS passes ``memory_gib``.
    ``kill_at_start``: SIGKILL it at once, as the kernel would (the test of a killed cell)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(list(cmd), env=dict(env), stdout=out, stderr=err, start_new_session=True)
        problem, peak, start = None, 0.0, time.monotonic()
        if kill_at_start:
            _kill(proc)
        while proc.poll() is None:
            peak = max(peak, tree_rss(proc.pid) / GIB)
            if memory_gib and peak > memory_gib:
                problem = f"out of memory at {memory_gib:g} GiB (the cell's cap; its processes held {peak:.1f} GiB)"
            elif time.monotonic() - start > timeout_s:
                problem = f"timed out after {timeout_s:g} s"
            if problem:
                _kill(proc)
                break
            time.sleep(POLL_S)
        code = proc.wait()
        if problem is None and code < 0:
            name = signal.Signals(-code).name
            problem = f"killed by {name}" + (" (the kernel's out-of-memory killer, or a person)" if name == "SIGKILL" else "")
        out.seek(0)
        err.seek(0)
        return Finished(code, out.read(), err.read(), problem, peak)


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and every process below it (0 for those already gone)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
            total += next(int(ln.split()[1]) * 1024 for ln in status.splitlines() if ln.startswith("VmRSS:"))
        except (OSError, StopIteration, ValueError):
            continue
        for task in Path(f"/proc/{p}/task").glob("*/children"):
            try:
                todo += [int(c) for c in task.read_text().split()]
            except OSError:
                pass
    return total
