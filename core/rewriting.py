"""Scoped op rewrites: patch while exporting, restore everything afterwards.

A rewrite whose target cannot be resolved fails the conversion naming the
rewrite and the target; it is never a silent no-op.
"""
from __future__ import annotations

import importlib
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

from deploybridge.errors import DeployError
from deploybridge.records import Rewrite

SUPPORTED_KINDS = ("function",)


def resolve_target(dotted: str) -> tuple[Any, str]:
    """Return (owner object, attribute name) for ``pkg.module.Class.attr``."""
    parts = dotted.split(".")
    for split in range(len(parts) - 1, 0, -1):
        try:
            owner: Any = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for attr in parts[split:-1]:
            owner = getattr(owner, attr)
        if not hasattr(owner, parts[-1]):
            raise AttributeError(f"{type(owner).__name__} {'.'.join(parts[:-1])} has no attribute '{parts[-1]}'")
        return owner, parts[-1]
    raise ImportError(f"no importable module in '{dotted}'")


def select(rewrites: dict[str, Rewrite], exporter: str, opset: int, disabled: Sequence[str] = ()) -> list[Rewrite]:
    return [r for r in rewrites.values() if r.applies(exporter, opset) and r.name not in disabled]


@contextmanager
def applied(rewrites: Sequence[Rewrite]) -> Iterator[list[str]]:
    """Apply ``rewrites`` in order; yield their names; restore in reverse order on exit."""
    undo: list[tuple[Any, str, Any, bool]] = []
    names: list[str] = []
    try:
        for rw in rewrites:
            if rw.kind not in SUPPORTED_KINDS:
                raise DeployError(f"rewrite '{rw.name}' has kind '{rw.kind}', which this host cannot apply ({', '.join(SUPPORTED_KINDS)})")
            try:
                owner, attr = resolve_target(rw.target)
            except (ImportError, AttributeError) as exc:
                raise DeployError(
                    f"rewrite '{rw.name}' (plugin '{rw.owner}'): target '{rw.target}' cannot be resolved ({exc});"
                    f" fix the target or disable the rewrite with --no-rewrite {rw.name}"
                ) from None
            had_own = attr in vars(owner) if hasattr(owner, "__dict__") else True
            undo.append((owner, attr, getattr(owner, attr) if not had_own else vars(owner)[attr], had_own))
            setattr(owner, attr, rw.replacement)
            names.append(rw.name)
        yield names
    finally:
        for owner, attr, original, had_own in reversed(undo):
            if had_own:
                setattr(owner, attr, original)
            else:  # the attribute was inherited: remove the patch instead of pinning the parent's value
                delattr(owner, attr)
