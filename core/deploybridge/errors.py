"""The two ways a command ends badly on purpose, each with its exit code.

Every message is one line that says what to do; the CLI prints it without a
traceback unless ``--debug`` is given.
"""
import re


class DeployError(Exception):
    """Bad input or an unusable environment: exit code 2."""

    exit_code = 2


class VerificationFailed(DeployError):
    """The artifact does not compute what the original model computes: exit code 1."""

    exit_code = 1


_COLOUR = re.compile(r"\x1b\[[0-9;]*m")  # torch colours some messages for terminals; a one-line error is plain text


def first_line(exc: BaseException | str, limit: int = 240) -> str:
    """``TypeName: first non-empty line of the message``, at most ``limit`` characters: how every one-line error and
    failure note quotes an exception (a plugin's, a backend's, the exporter's)."""
    if isinstance(exc, str):
        text = _COLOUR.sub("", exc)
    else:
        lines = [ln.strip() for ln in _COLOUR.sub("", str(exc)).splitlines() if ln.strip()]
        text = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"
