"""How many threads a runtime may use: the caller's ``--threads``, else ``DEPLOYBRIDGE_THREADS``, else the runtime's
own default (every core).

One heavy job per core: on a 2-core machine two jobs that each spin two threads slow ~10x (their thread pools wait
on each other's cores), two jobs of one thread each do not. Whoever runs jobs side by side (the parallel test run,
one job per core) sets DEPLOYBRIDGE_THREADS=1 for the processes it starts, and every backend here and PyTorch's
own pool follow it."""
from __future__ import annotations

import os
from typing import Any, Mapping

ENV = "DEPLOYBRIDGE_THREADS"


def thread_count(options: Mapping[str, Any] | None = None) -> int | None:
    """``options["threads"]`` when given, else DEPLOYBRIDGE_THREADS when set to a positive integer, else None."""
    given = (options or {}).get("threads")
    if given:
        return int(given)
    value = os.environ.get(ENV, "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else None


def pin_torch() -> None:
    """PyTorch's intra-op pool to DEPLOYBRIDGE_THREADS, where that is set (the CLI calls this at start)."""
    count = thread_count()
    if count:
        import torch

        torch.set_num_threads(count)
