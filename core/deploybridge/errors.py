"""The two ways a command ends badly on purpose, each with its exit code.

Every message is one line that says what to do; the CLI prints it without a
traceback unless ``--debug`` is given.
"""
from __future__ import annotations

import difflib
import re
from typing import Iterable


class DeployError(Exception):
    """Bad input or an unusable environment: exit code 2."""

    exit_code = 2


class VerificationFailed(DeployError):
    """The artifact does not compute what the original model computes: exit code 1."""

    exit_code = 1


_COLOUR = re.compile(r"\x1b\[[0-9;]*m")  # torch colours some messages for terminals; a one-line error is plain text


def first_line(exc: BaseException | str, limit: int = 240) -> str:
    """``TypeName: first non-empty line of the message`` (for a string: its first non-empty line), at most ``limit``
    characters: how every one-line error and failure note quotes an exception (a plugin's, a backend's, the
    exporter's) or a warning."""
    lines = [ln.strip() for ln in _COLOUR.sub("", str(exc)).splitlines() if ln.strip()]
    if isinstance(exc, str):
        text = lines[0] if lines else ""
    else:
        text = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def did_you_mean(name: str, names: Iterable[str], cutoff: float = 0.6, n: int = 3) -> str:
    """`` (did you mean a, b?)`` with the closest of ``names``, or empty: the hint every unknown-name error carries."""
    close = difflib.get_close_matches(name, sorted(names), n=n, cutoff=cutoff)
    return f" (did you mean {', '.join(close)}?)" if close else ""
