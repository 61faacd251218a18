"""`deploy bench`: PyTorch eager and every asked-for backend on one artifact, timed run by run in one process.

Each backend is first checked on the bench input (tensor and task parity against the rebuilt PyTorch model, as
``deploy verify`` checks): one that is not installed, cannot load the artifact or fails parity gets a row saying so
and is not timed, since a time for wrong outputs would be read as a result. The runners that pass are timed
interleaved (warm-up, then for each run every runner once), so a machine that slows down or speeds up during the
bench affects them all alike and the ratio to eager is measured in the same run. Peak RSS comes from a separate
process per runner (:mod:`deploybridge.runtime.bench_worker`), since one process holding every runtime cannot say
which of them used the memory.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from deploybridge.errors import DeployError, did_you_mean, first_line

if TYPE_CHECKING:
    from deploybridge.plugins import Host

EAGER = "pytorch"  # the row of the PyTorch model rebuilt from the manifest's spec


@dataclass(frozen=True)
class BenchSettings:
    runs: int = 20
    warmup: int = 3
    threads: int | None = None  # None: torch's default thread count, given to every backend too
    rss: bool = True  # measure peak RSS in a separate process per runner
    pause_ms: float = 50.0  # after every run, so one runtime's spinning threads do not slow the next (settle)
    allow_unverified: bool = False


@dataclass
class BenchRow:
    runtime: str                  # "pytorch" (eager) or a backend name
    status: str                   # "ok", "not installed: <hint>", "cannot load: <why>", "failed verification: <why>"
    version: str | None = None
    size_mb: float | None = None  # files the runtime loads (eager: parameters and buffers)
    parity: str | None = None     # "reference" (eager), "ok" or "FAIL" on the bench input
    median_ms: float | None = None
    p10_ms: float | None = None
    p90_ms: float | None = None
    fps: float | None = None
    speedup: float | None = None  # eager median / this median, both from the same interleaved run
    peak_rss_mb: float | None = None  # separate process: load + the same number of runs
    rss_note: str | None = None   # why peak RSS is missing

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass
class ArtifactBench:
    folder: str
    model: str                    # family/model
    input_shape: list
    input_seed: Any
    threads: int
    runs: int
    warmup: int
    pause_ms: float
    rows: list[BenchRow] = field(default_factory=list)
    warning: str | None = None    # --allow-unverified used on an unverified artifact

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class Candidate:
    row: BenchRow
    run: Callable[[], Any] | None = None
    times_ms: list[float] = field(default_factory=list)
    worker: dict | None = None    # what bench_worker needs to measure this runner's peak RSS


def backend_names(host: Host, own: str, requested: Sequence[str]) -> list[str]:
    """The artifact's own backend first, then the requested others ("all": every registered one); a name no plugin
    registers is a typo: exit 2 naming the closest."""
    known = list(host.backends())
    names = known if list(requested) == ["all"] else list(requested)
    for name in names:
        if name not in known:
            raise DeployError(f"unknown backend '{name}'{did_you_mean(name, known)} in --backends; registered: {', '.join(known)}")
    return [own] + [n for n in names if n != own]


def loaded_files(folder: Path, manifest: dict, backend: str) -> list[Path]:
    """What ``backend`` reads from the folder: the artifact's own backend its engine files (where it wrote any besides
    ONNX), any backend else the ONNX graph (model.onnx, or the segments of a graph with host steps)."""
    own = manifest["backend"]
    if backend == own["name"]:
        engine = [f for f in own.get("files") or [] if not f.endswith((".onnx", ".json"))]
        if engine:
            return [folder / f for f in engine]
    segments = sorted(folder.glob("segments/*/model.onnx"))
    return segments or [folder / "model.onnx"]


def _mb(paths: Sequence[Path]) -> float:
    return round(sum(p.stat().st_size for p in paths if p.is_file()) / 2**20, 2)


def _eager(loaded, seed) -> Candidate:
    import torch

    tensors = loaded.make_inputs(seed)
    params = [*loaded.module.parameters(), *loaded.module.buffers()]
    size = round(sum(t.numel() * t.element_size() for t in params) / 2**20, 2)

    def run():
        with torch.no_grad():
            return loaded.module(*tensors)

    return Candidate(BenchRow(EAGER, "ok", version=torch.__version__, size_mb=size, parity="reference"), run)


def checked_backend(host: Host, name: str, folder: Path, manifest: dict, threads: int, check: Callable[[str, Callable], Any],
                    inputs: dict) -> Candidate:
    """A backend's row: installed? loads the artifact? same outputs as PyTorch on the bench input? Only then timed."""
    from deploybridge.plugins import availability
    from deploybridge.runtime import segments

    backend = host.backends()[name]
    row = BenchRow(name, "ok")
    hint = availability(backend)
    if hint:
        row.status = f"not installed: {hint}"
        return Candidate(row)
    try:
        row.version = backend.version()
    except Exception:  # a version is nice to have; a plugin bug there must not end the bench
        row.version = None
    own = name == manifest["backend"]["name"]
    options = {**(manifest["backend"].get("options", {}) if own else {}), "threads": threads}
    try:
        runner = segments.load(backend, folder, manifest, options, host.host_ops())
    except Exception as exc:
        row.status = f"cannot load: {exc if isinstance(exc, DeployError) else first_line(exc)}"
        return Candidate(row)
    row.size_mb = _mb(loaded_files(folder, manifest, name))
    verification = check(name, runner)
    row.parity = "ok" if verification.passed else "FAIL"
    if not verification.passed:
        row.status = f"failed verification: {verification.summary()}"
        return Candidate(row)
    owners = {backend.owner} | {s.get("owner") for s in manifest.get("segments") or [] if s["kind"] == "host"}
    worker = {"runtime": name, "options": options, "plugins": sorted(o for o in owners if o)}
    return Candidate(row, lambda: runner(inputs), worker=worker)


def checked_manifest(folder: Path, allow_unverified: bool) -> tuple[dict, str | None]:
    """(manifest, warning): every file checked against its checksum, an unverified artifact refused (exit 2) unless
    ``allow_unverified`` (then the warning line says it was used anyway)."""
    from deploybridge.convert import artifact
    from deploybridge.convert.manifest import require_verified

    manifest = artifact.read_manifest(folder)
    return manifest, require_verified(manifest, Path(folder), allow_unverified)


def bench_artifact(host: Host, folder: Path, backends: Sequence[str] = (), settings: BenchSettings = BenchSettings(),
                   on_progress: Callable[[str], None] | None = None,
                   checked: tuple[dict, str | None] | None = None) -> ArtifactBench:
    """Bench one artifact folder: eager and each backend (the artifact's own, plus ``backends``). ``checked``:
    :func:`checked_manifest`'s answer, when the caller checked every folder before benching any."""
    import torch

    from deploybridge.convert.resolve import load_model, resolve_family
    from deploybridge.parity.reference import reference_runner
    from deploybridge.parity.ties import tie_finder
    from deploybridge.parity.verification import verify
    from deploybridge.records import ModelSpec, Tolerance

    folder = Path(folder)
    manifest, warning = checked or checked_manifest(folder, settings.allow_unverified)
    names = backend_names(host, manifest["backend"]["name"], backends)
    spec = ModelSpec.from_json(manifest["spec"])
    loaded = load_model(resolve_family(host, spec, manifest["plugin"]["name"]), spec)
    seeds = [s for s in manifest["verification"]["seeds"] if not isinstance(s, str)]
    seed = seeds[0] if seeds else 0
    reference = reference_runner(loaded, spec)
    inputs, _ = reference(seed)
    tolerances = {n: Tolerance(**t) for n, t in manifest["tolerances"].items()}
    task_tol = manifest.get("task_tolerances") or {}

    mode = (manifest.get("precision") or {}).get("mode", "fp32")
    ties = tie_finder(loaded, tolerances, task_tol)

    def check(name: str, runner: Callable):  # the bench input through the checks deploy verify runs on one input
        from deploybridge.parity import precision_gate

        verification = verify(name, loaded.outputs, [seed], reference, runner, tolerances, task=loaded.task,
                              task_tolerances=task_tol, allow_inconclusive=True, ties=ties,
                              score_threshold=loaded.score_threshold)
        precision_gate.judge(verification, mode, allow_inconclusive=True)  # int8: task parity gates, as in convert
        return verification

    before = torch.get_num_threads()
    threads = settings.threads or before
    torch.set_num_threads(threads)
    try:
        candidates = [_eager(loaded, seed)]
        for name in names:
            if on_progress:
                on_progress(f"{folder}: loading and checking {name}")
            candidates.append(checked_backend(host, name, folder, manifest, threads, check, inputs))
        if on_progress:
            on_progress(f"{folder}: timing {sum(c.run is not None for c in candidates)} runtimes, {settings.runs} runs each")
        interleave([c for c in candidates if c.run is not None], settings.warmup, settings.runs, settings.pause_ms / 1000)
    finally:
        torch.set_num_threads(before)
    summarise(candidates, batch=int(inputs[loaded.input_names[0]].shape[0]))
    if settings.rss:
        from deploybridge.runtime.bench_worker import measure_peak_rss

        if on_progress:
            on_progress(f"{folder}: peak RSS, one process per runtime")
        measure_peak_rss(folder, manifest, inputs, candidates, settings.runs, threads)
    return ArtifactBench(str(folder), f"{spec.family}/{spec.model}", list(inputs[loaded.input_names[0]].shape), seed,
                         threads, settings.runs, settings.warmup, settings.pause_ms, [c.row for c in candidates], warning)


def interleave(candidates: Sequence[Candidate], warmup: int, runs: int, pause_s: float = 0.0) -> None:
    """Warm-up rounds, then ``runs`` rounds, each running every candidate once in turn; times kept per candidate.
    Each run is followed by a pause of ``pause_s`` (:func:`settle`: why)."""
    import time

    for _ in range(warmup):
        for c in candidates:
            c.run()
            settle(pause_s)
    for _ in range(runs):
        for c in candidates:
            start = time.perf_counter()
            c.run()
            c.times_ms.append((time.perf_counter() - start) * 1000.0)
            settle(pause_s)


def settle(pause_s: float) -> None:
    """The pause after every run, before the next runtime starts. Runtimes' worker threads keep spinning after a run
    returns (ONNX Runtime's intra-op pool ~30 ms), slowing whatever runs next; a long idle slows the next run too
    (CPU idle states). Measured here (PyTorch eager on shapes_retinanet right after ONNX Runtime, 2 threads, 2 cores;
    eager alone: 14 ms): no pause 27-31 ms, 10-20 ms pauses 26-42 ms, 40-50 ms 14.2-14.9 ms, 100-200 ms 20-24 ms.
    Hence the 50 ms default (``--pause-ms``)."""
    import time

    if pause_s > 0:
        time.sleep(pause_s)


def summarise(candidates: Sequence[Candidate], batch: int = 1) -> None:
    """Median, p10, p90, FPS (images per second at the median) and the speed-up over eager from the same run."""
    timed = [c for c in candidates if c.times_ms]
    for c in timed:
        times = np.asarray(c.times_ms)
        c.row.median_ms = float(np.median(times))
        c.row.p10_ms, c.row.p90_ms = (float(v) for v in np.percentile(times, [10, 90]))
        c.row.fps = batch * 1000.0 / c.row.median_ms
    eager = next((c.row.median_ms for c in timed if c.row.runtime == EAGER), None)
    for c in timed:
        c.row.speedup = None if eager is None else eager / c.row.median_ms
