"""``deploy install mmdet``: MMDetection into this environment, with nothing to compile.

mmcv-lite replaces compiled mmcv (its ops come from deploybridge's layer), and
the torch already installed stays: a package that pins another torch is never
allowed to replace it (pip is told to keep the current one).
"""
from __future__ import annotations

import subprocess
import sys
from importlib import metadata

from deploybridge.errors import DeployError

PACKAGES = {"mmengine": "0.10.7", "mmcv-lite": "2.1.0", "mmdet": "3.3.0"}
# MMDeploy, the peer exporter (`--exporter mmdeploy`): installed without its dependencies, since its protobuf<=3.20.2
# pin would downgrade onnx; these are the ones it really imports
MMDEPLOY = {"mmdeploy": "1.3.1"}
MMDEPLOY_NEEDS = ("aenum", "grpcio", "multiprocess", "prettytable", "dill", "wcwidth")


def installed(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def missing() -> dict[str, str]:
    """Packages whose installed version is not the pinned one."""
    return {n: v for n, v in PACKAGES.items() if installed(n) != v}


def _pip(args: list[str], quiet: bool) -> None:
    cmd = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", *(["-q"] if quiet else []), *args]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        last = [ln for ln in (done.stderr or done.stdout).splitlines() if ln.strip()][-1:] or ["(no output)"]
        raise DeployError(f"pip could not install {', '.join(a for a in args if not a.startswith('-'))}: {last[0][:200]}")


def install_mmdeploy(quiet: bool = False) -> list[str]:
    """MMDetection (if missing), then MMDeploy --no-deps and the modules it imports; return what was installed."""
    done = install_mmdet(quiet)
    if installed("mmdeploy") != MMDEPLOY["mmdeploy"]:
        _pip(["--no-deps", *(f"{n}=={v}" for n, v in MMDEPLOY.items())], quiet)
        done.append(f"mmdeploy=={MMDEPLOY['mmdeploy']} (--no-deps)")
    needs = [n for n in MMDEPLOY_NEEDS if not installed(n)]
    if needs:
        _pip(needs, quiet)
        done += needs
    return done


def install_mmdet(quiet: bool = False) -> list[str]:
    """Install what is missing, and the start-up hook that lets the user's own scripts import mmdet.models
    (deploybridge_mmdet.activation); return what was installed (empty: already there)."""
    from deploybridge_mmdet.activation import write_pth

    done = _install_packages(missing(), quiet)
    hook = write_pth()
    return done + ([f"start-up hook {hook} (mmcv layer for your own scripts; see docs/mmdet.md)"] if hook else [])


def _install_packages(todo: dict[str, str], quiet: bool) -> list[str]:
    if not todo:
        return []
    if installed("mmcv") and installed("mmcv") != PACKAGES["mmcv-lite"]:
        raise DeployError(f"mmcv {installed('mmcv')} is installed; mmdet 3.3.0 needs mmcv < 2.2: pip uninstall mmcv, then re-run")
    torch_before = installed("torch")
    pins = [f"{n}=={v}" for n, v in todo.items()] + ([f"torch=={torch_before}"] if torch_before else [])
    _pip(pins, quiet)
    if installed("torch") != torch_before:
        raise DeployError(f"installing mmdet changed torch from {torch_before} to {installed('torch')}; reinstall torch=={torch_before}")
    return [f"{n}=={v}" for n, v in todo.items()]
