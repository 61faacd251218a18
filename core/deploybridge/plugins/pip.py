"""pip for installers (``deploy install NAME``): what is installed, and installing without ever replacing torch.

A framework that pins another torch (fastreid pins 1.13.1, MMDeploy's protobuf pin would downgrade onnx) is installed
``--no-deps`` with the modules it really imports; everything else is installed with the current torch pinned, and
an install that changed torch anyway is an error naming the version to reinstall.
"""
from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from typing import Sequence

from deploybridge.errors import DeployError


def version(name: str) -> str | None:
    """The installed version of distribution ``name``, or None."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def pip_install(args: Sequence[str], quiet: bool) -> None:
    """``pip install ARGS`` in this environment; a failure is a one-line DeployError quoting pip's last line."""
    cmd = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", *(["-q"] if quiet else []), *args]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        last = [ln for ln in (done.stderr or done.stdout).splitlines() if ln.strip()][-1:] or ["(no output)"]
        raise DeployError(f"pip could not install {', '.join(a for a in args if not a.startswith('-'))}: {last[0][:200]}")


def install_keeping_torch(requirements: Sequence[str], quiet: bool, what: str) -> None:
    """Install ``requirements`` with the installed torch pinned; raise if torch changed anyway (``what`` names the
    framework in the message)."""
    torch_before = version("torch")
    if requirements:
        pip_install([*requirements, *([f"torch=={torch_before}"] if torch_before else [])], quiet)
    if version("torch") != torch_before:
        raise DeployError(f"installing {what} changed torch from {torch_before} to {version('torch')};"
                          f" reinstall torch=={torch_before}")
