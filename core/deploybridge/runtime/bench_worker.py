"""Peak RSS of one runtime on one artifact, in a process of its own (`deploy bench`'s "peak RSS (separate process)").

The bench process holds PyTorch and every runtime at once, so its own peak says nothing about any one of them. Here
each runner gets a fresh interpreter: ``python -m deploybridge.runtime.bench_worker JOB`` loads only what that runner
needs (a backend's process imports no torch unless its plugin does), runs the bench input ``runs`` times and prints
``{"peak_rss_mb": ...}`` (the most resident memory the process ever had, import and load included: :func:`peak_kib`).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

EAGER = "pytorch"  # deploybridge.runtime.bench.EAGER, repeated so this process does not import the bench module
TIMEOUT_S = 600


def measure_peak_rss(folder: Path, manifest: dict, inputs: dict, candidates: Sequence[Any], runs: int, threads: int) -> None:
    """Set ``row.peak_rss_mb`` (or ``row.rss_note``) of every timed candidate, one child process each."""
    with tempfile.TemporaryDirectory(prefix="deploybridge-bench-") as tmp:
        feed = Path(tmp) / "inputs.npz"
        np.savez(feed, **inputs)
        for c in candidates:
            if c.run is None:
                continue
            job = c.worker or {"runtime": EAGER, "options": {}, "plugins": [manifest["plugin"]["name"]]}
            job = {**job, "folder": str(folder), "inputs": str(feed), "runs": runs, "threads": threads}
            c.row.peak_rss_mb, c.row.rss_note = _spawn(job)


def _spawn(job: dict) -> tuple[float | None, str | None]:
    # the child sees the modules this process sees (plugins installed on sys.path at run time included)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    try:
        done = subprocess.run([sys.executable, "-m", "deploybridge.runtime.bench_worker", json.dumps(job)],
                              capture_output=True, text=True, env=env, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return None, f"not measured: the separate process ran over {TIMEOUT_S} s"
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return None, f"not measured: the separate process failed ({tail[:200]})"
    result = json.loads(lines[-1])
    return result.get("peak_rss_mb"), result.get("error")


def _host(plugins: Sequence[str]):
    from deploybridge.plugins import Host

    named = [p for p in plugins if p != "builtin"]
    return Host(only=named or ["builtin"])  # only the plugins this runner needs: their imports are part of its memory


def _eager_runner(job: dict, manifest: dict, inputs: dict) -> Callable[[], Any]:
    import torch

    from deploybridge.convert.resolve import load_model, resolve_family
    from deploybridge.records import ModelSpec

    torch.set_num_threads(job["threads"])
    spec = ModelSpec.from_json(manifest["spec"])
    loaded = load_model(resolve_family(_host(job["plugins"]), spec, manifest["plugin"]["name"]), spec)
    tensors = tuple(torch.from_numpy(inputs[n]) for n in loaded.input_names)

    def run():
        with torch.no_grad():
            return loaded.module(*tensors)

    return run


def _backend_runner(job: dict, manifest: dict, inputs: dict) -> Callable[[], Any]:
    from deploybridge.runtime import segments

    host = _host(job["plugins"])
    runner = segments.load(host.backends()[job["runtime"]], Path(job["folder"]), manifest, job["options"], host.host_ops())
    return lambda: runner(inputs)


def main(argv: Sequence[str]) -> int:
    job = json.loads(argv[0])
    manifest = json.loads((Path(job["folder"]) / "manifest.json").read_text())  # the bench checked its files already
    with np.load(job["inputs"]) as feed:
        inputs = {k: feed[k] for k in feed.files}
    make = _eager_runner if job["runtime"] == EAGER else _backend_runner
    run = make(job, manifest, inputs)
    for _ in range(job["runs"]):
        run()
    print(json.dumps({"peak_rss_mb": round(peak_kib() / 1024, 1)}))
    return 0


def peak_kib() -> int:
    """This process's peak resident memory in KiB: Linux's VmHWM, the high-water mark of this process's own address
    space. Not ``ru_maxrss``: Linux carries it over from the parent across fork and exec, so every child of a bench
    process holding PyTorch and all runtimes reported the parent's peak (905.6 MB for each runtime, measured)."""
    import resource

    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # elsewhere: KiB on Linux-likes, bytes on macOS


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
