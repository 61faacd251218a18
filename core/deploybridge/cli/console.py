"""Where output goes: results on stdout, progress and errors on stderr."""
from __future__ import annotations

import json
import os
import sys
import time
from contextlib import contextmanager
from typing import Any, Iterator

from rich.console import Console


def _console(file) -> Console:
    # Made per call so tests that capture sys.stdout see the output; logs and
    # CI are not terminals, and rich's 80-column default would fold the tables,
    # unless COLUMNS says how wide the reader's window is (rich honours it).
    console = Console(file=file, highlight=False, soft_wrap=True)
    if not console.is_terminal and not os.environ.get("COLUMNS", "").isdigit():
        console = Console(file=file, highlight=False, soft_wrap=True, width=120)
    return console


def out() -> Console:
    return _console(sys.stdout)


def err() -> Console:
    return _console(sys.stderr)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


class StageProgress:
    """Progress for pipeline stages: a live bar on a terminal, one line per stage otherwise."""

    def __init__(self, stages: list[str], quiet: bool = False) -> None:
        self.console = err()
        self.stages = stages
        self.quiet = quiet
        self._progress = None
        self._task = None

    def __enter__(self) -> "StageProgress":
        if self.console.is_terminal and not self.quiet:
            from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self._progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                                      TimeElapsedColumn(), console=self.console, transient=True)
            self._progress.__enter__()
            self._task = self._progress.add_task("starting", total=len(self.stages))
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        if self._progress is not None:
            self._progress.update(self._task, description=name)
        yield
        if self._progress is not None:
            self._progress.advance(self._task)
        if not self.quiet:
            self.console.print(f"[green]✓[/] {name} ({time.perf_counter() - start:.1f} s)")

    def note(self, message: str) -> None:
        if not self.quiet:
            self.console.print(message)


@contextmanager
def counted(total: int, what: str) -> Iterator[Any]:
    """Progress over ``total`` items that finish in any order (matrix cells): on a terminal a live bar, with each
    finished item's line printed above it; elsewhere the lines alone. Yields ``finished(line, tally)``: ``tally`` is
    the bar's text after it ("12 green, 1 red")."""
    console = err()
    if not console.is_terminal:
        yield lambda line, tally="": console.print(line, markup=False)
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(SpinnerColumn(), TextColumn(what), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task("", total=total)

        def finished(line: str, tally: str = "") -> None:
            bar.console.print(line, markup=False)
            bar.update(task, advance=1, description=tally)

        yield finished
