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


def first_line(exc: BaseException | str, limit: int = 240, where: bool = False) -> str:
    """``TypeName: first non-empty line of the message`` (for a string: its first non-empty line), at most ``limit``
    characters: how every one-line error and failure note quotes an exception (a plugin's, a backend's, the
    exporter's) or a warning. ``where=True`` adds where it was raised (:func:`raised_in`): ``AssertionError raised
    in mmdet.models.dense_heads.gfl_head line 123: message``, for exceptions from inside a framework, whose bare
    message (often none, for an ``assert``) does not say what failed."""
    lines = [ln.strip() for ln in _COLOUR.sub("", str(exc)).splitlines() if ln.strip()]
    if isinstance(exc, str):
        text = lines[0] if lines else ""
    else:
        name = type(exc).__name__
        origin = raised_in(exc) if where else ""
        if origin:
            name += f" raised in {origin}"
        text = f"{name}: {lines[0]}" if lines else name
    return text if len(text) <= limit else text[: limit - 1] + "…"


def raised_in(exc: BaseException) -> str:
    """``module line N`` of the frame that raised ``exc`` (the innermost frame of its traceback, named by its dotted
    module, else its file); empty when it was never raised."""
    tb = exc.__traceback__
    if tb is None:
        return ""
    while tb.tb_next is not None:
        tb = tb.tb_next
    module = tb.tb_frame.f_globals.get("__name__")
    if not module or module == "__main__":
        module = tb.tb_frame.f_code.co_filename
    return f"{module} line {tb.tb_lineno}"


def did_you_mean(name: str, names: Iterable[str], cutoff: float = 0.6, n: int = 3) -> str:
    """`` (did you mean a, b?)`` with the closest of ``names``, or empty: the hint every unknown-name error carries."""
    close = difflib.get_close_matches(name, sorted(names), n=n, cutoff=cutoff)
    return f" (did you mean {', '.join(close)}?)" if close else ""
