"""Which cells a `deploy matrix` run has: the chosen rows x backends x precisions the backend offers, with a cell
whose stack or backend is not installed here skipped, saying how to install it."""
from __future__ import annotations

from importlib import util
from typing import Sequence

from deploybridge.errors import DeployError
from deploybridge.matrix.cells import PRECISION_FLAGS, Cell, CellResult, Entry, skipped
from deploybridge.matrix.presets import ROW_SETS, adhoc_entry

DEFAULT_BACKENDS = ("onnxruntime", "openvino", "torchscript")
DEFAULT_PRECISIONS = ("fp32", "int8")
INSTALL_HINTS = {"detectron2": "deploy install detectron2", "mmdet": "deploy install mmdet",
                 "fastreid": "deploy install fastreid"}


def choose_entries(families: Sequence[str] = (), models: Sequence[str] = (), rows: str = "seeds") -> list[Entry]:
    """The rows of the set ``rows`` (presets.ROW_SETS), narrowed to ``families`` and ``models`` (a row's name, its
    model part, or ``family:model`` for a model not among them)."""
    if rows not in ROW_SETS:
        raise DeployError(f"unknown row set '{rows}'; choose from {', '.join(ROW_SETS)}")
    entries = ROW_SETS[rows]()
    if families:
        entries = [e for e in entries if e.family in families]
    if models:
        chosen = []
        for name in models:
            found = [e for e in entries if name in (e.name, e.name.split("/", 1)[1])]
            if not found and ":" not in name:
                known = ", ".join(e.name.split("/", 1)[1] for e in entries)
                raise DeployError(f"no matrix row '{name}' (rows: {known}); name another model as family:model")
            chosen += found or [adhoc_entry(name)]
        entries = list(dict.fromkeys(chosen))
    if not entries:
        raise DeployError("no rows left to run: --families and --models chose nothing")
    return entries


def plan(entries: Sequence[Entry], backends: Sequence[str], precisions: Sequence[str], host) -> tuple[list[Cell], list[CellResult]]:
    """The cells to run, and the cells skipped here (with why). A precision a backend does not offer is no cell."""
    from deploybridge.plugins import availability

    registered = host.backends()
    unknown = [b for b in backends if b not in registered]
    if unknown:
        raise DeployError(f"unknown backend {', '.join(unknown)}; choose from {', '.join(registered)}")
    bad = [p for p in precisions if p not in PRECISION_FLAGS]
    if bad:
        raise DeployError(f"unknown precision {', '.join(bad)}; choose from {', '.join(PRECISION_FLAGS)}")
    families = host.families()
    run, skip = [], []
    for entry in entries:
        for backend in backends:
            offered = [p for p in precisions if p == "fp32" or p in registered[backend].precisions]
            for precision in offered:
                cell = Cell(entry, backend, precision)
                why = _missing(entry, families) or availability(registered[backend])
                (skip.append(skipped(cell, why)) if why else run.append(cell))
    return run, skip


def _missing(entry: Entry, families) -> str | None:
    if entry.family not in families:
        return f"family {entry.family} is not installed: pip install the deploybridge-{entry.family} plugin"
    for name in entry.requires:
        if util.find_spec(name) is None:
            return f"{name} is not installed: {INSTALL_HINTS.get(name, f'pip install {name}')}"
    return None
