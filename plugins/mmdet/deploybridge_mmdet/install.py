"""``deploy install mmdet``: MMDetection into this environment, with nothing to compile.

mmcv-lite replaces compiled mmcv (its ops come from deploybridge's layer), and
the torch already installed stays: a package that pins another torch is never
allowed to replace it (pip is told to keep the current one).
"""
from __future__ import annotations

from deploybridge.errors import DeployError
from deploybridge.plugins.pip import install_keeping_torch
from deploybridge.plugins.pip import pip_install as _pip
from deploybridge.plugins.pip import version as installed

PACKAGES = {"mmengine": "0.10.7", "mmcv-lite": "2.1.0", "mmdet": "3.3.0"}
# MMDeploy, the peer exporter (`--exporter mmdeploy`): installed without its dependencies, since its protobuf<=3.20.2
# pin would downgrade onnx; these are the ones it really imports
MMDEPLOY = {"mmdeploy": "1.3.1"}
MMDEPLOY_NEEDS = ("aenum", "grpcio", "multiprocess", "prettytable", "dill", "wcwidth")


def missing() -> dict[str, str]:
    """Packages whose installed version is not the pinned one."""
    return {n: v for n, v in PACKAGES.items() if installed(n) != v}


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
    install_keeping_torch([f"{n}=={v}" for n, v in todo.items()], quiet, "mmdet")
    return [f"{n}=={v}" for n, v in todo.items()]
