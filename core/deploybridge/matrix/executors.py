"""Where the cells run: a local pool (the default), or an existing Ray or Dask cluster (``address``), or a local
one of ``jobs`` workers the command starts and stops itself. Every executor runs one cell per core (one Ray CPU, one
Dask worker thread per cell), every cell computing on one thread. A worker that dies takes only its cell: the cell
is red with the reason and the rest finish."""
from __future__ import annotations

import contextlib
import sys
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Callable, Sequence

from deploybridge.errors import DeployError, first_line
from deploybridge.matrix.cells import CellResult, failed
from deploybridge.matrix.execute import execute_cell

EXECUTORS = ("local", "ray", "dask")
Task = Callable[[dict, dict], dict]  # (item, settings) -> result, run where the executor puts it
Finished = Callable[[dict, Callable[[], dict]], None]  # (item, get result: raises when the task or its worker died)


def run_cells(cells: Sequence[dict], settings: dict, executor: str, jobs: int, address: str | None,
              done: Callable[[CellResult], None]) -> None:
    """Run every cell (Cell.to_json()) and call ``done`` with each result as it finishes."""
    what = "internal error" if executor == "local" else "worker died"
    run_tasks(execute_cell, cells, settings, executor, jobs, address,
              lambda cell, get: done(_result(get, cell, what)))


def run_tasks(task: Task, items: Sequence[dict], settings: dict, executor: str, jobs: int, address: str | None,
              finished: Finished) -> None:
    """``task(item, settings)`` for every item on the executor, one per core; ``finished`` as each completes."""
    if not items:
        return
    if executor == "local":
        if address:
            raise DeployError("--address is for --executor ray or dask; the local pool runs on this machine")
        return _local(task, items, settings, jobs, finished)
    if executor == "ray":
        return _ray(task, items, settings, jobs, address, finished)
    if executor == "dask":
        return _dask(task, items, settings, jobs, address, finished)
    raise DeployError(f"unknown executor '{executor}'; choose from {', '.join(EXECUTORS)}")


def _local(task, items, settings, jobs, finished: Finished) -> None:
    # threads, not processes: each cell is already a child process of its own (execute_cell), and a thread whose
    # child is killed simply reports it, where a killed process-pool worker breaks the whole pool
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(task, item, settings): item for item in items}
        for future in as_completed(futures):
            finished(futures[future], future.result)


def _ray(task, items, settings, jobs, address, finished: Finished) -> None:
    try:
        import ray
    except ImportError:
        raise DeployError("Ray is not installed: pip install ray (or --executor local)") from None
    # Ray prints worker deaths ("(raylet) A worker died ...") on the driver's stdout, where --json goes: to stderr
    with contextlib.redirect_stdout(sys.stderr):
        _ray_run(ray, task, items, settings, jobs, address, finished)


def _ray_run(ray, task, items, settings, jobs, address, finished: Finished) -> None:
    started = not ray.is_initialized()
    if started:
        kwargs = {"address": address} if address else {"num_cpus": jobs, "include_dashboard": False}
        ray.init(**kwargs, log_to_driver=False, configure_logging=False)
    try:
        remote = ray.remote(num_cpus=1, max_retries=0)(task)
        worker = {**settings, "in_worker": True}
        pending = {remote.remote(item, worker): item for item in items}
        while pending:
            (ready,), _ = ray.wait(list(pending), num_returns=1)
            finished(pending.pop(ready), lambda: ray.get(ready))
    finally:
        if started:
            ray.shutdown()


def _dask(task, items, settings, jobs, address, finished: Finished) -> None:
    try:
        import dask
        from distributed import Client, LocalCluster, as_completed as dask_completed
    except ImportError:
        raise DeployError("Dask is not installed: pip install dask distributed (or --executor local)") from None
    # a task whose worker died is not tried on another one: its item fails, the next ones go on
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = None if address else LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True,
                                                    dashboard_address=None, silence_logs=50)
        try:
            with Client(address or cluster) as client:
                worker = {**settings, "in_worker": True}
                futures = {client.submit(task, item, worker, pure=False): item for item in items}
                for future in dask_completed(futures):
                    finished(futures[future], future.result)
        finally:
            if cluster is not None:
                cluster.close()


def _result(get: Callable[[], dict], cell: dict, what: str) -> CellResult:
    try:
        return CellResult.from_json(get())
    except Exception as exc:  # the worker died or the task raised: this cell is red, the others go on
        return failed(cell, f"{what}: {first_line(exc, 200)}")
