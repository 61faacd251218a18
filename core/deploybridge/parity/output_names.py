"""A model's output names as the core reads them: families may keep their framework's own names for an output the
core knows under another (Detectron2 calls the labels ``classes``).

Applied where outputs enter task parity, framework parity, tensor-parity row matching, planted errors and the
detections `deploy run`, --eval, `deploy threshold` and report.png read; what a user sees (manifest, reports) keeps
the model's own names.
"""
from __future__ import annotations

from typing import Iterable, Mapping, TypeVar

ALIASES = {"classes": "labels"}  # the model's name -> the core's name

V = TypeVar("V")


def canonical_name(name: str, names: Iterable[str] = ()) -> str:
    """The core's name for output ``name``; an alias stays itself when ``names`` also holds the core's name."""
    core = ALIASES.get(name)
    return core if core is not None and core not in set(names) else name


def canonical_names(names: Iterable[str]) -> list[str]:
    """Output names under the core's names, in order."""
    names = list(names)
    return [canonical_name(n, names) for n in names]


def canonical(outputs: Mapping[str, V]) -> dict[str, V]:
    """Outputs by name under the core's names, in the model's order (values untouched)."""
    return {canonical_name(k, outputs): v for k, v in outputs.items()}


def model_name(core: str, names: Iterable[str]) -> str | None:
    """Which of the model's output ``names`` the core reads as ``core`` ("labels" -> "classes"), or None."""
    names = list(names)
    return next((n for n in names if canonical_name(n, names) == core), None)
