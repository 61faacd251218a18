"""``deploy install detectron2``: Detectron2 into this environment, with nothing to compile.

Detectron2 is not on PyPI as ``detectron2``. ``sal-detectron2==0.7.2`` is a near-upstream cp310 wheel whose Python
code runs on 3.11; its compiled ``_C`` (built for 3.10) is left out, which the standard R-CNN and RetinaNet models
never call (deformable conv and rotated boxes do: deploybridge_detectron2.config refuses them by name). The wheel is
unpacked with ``pip --target`` into a scratch folder and its package moved into site-packages, so its ``tools/``
folder (a top-level package name that would shadow others) never lands there. A Detectron2 the user built from
source is used as it is.
"""
from __future__ import annotations

import shutil
import sysconfig
import tempfile
from importlib import metadata, util
from pathlib import Path

from deploybridge.errors import DeployError
from deploybridge.plugins.pip import install_keeping_torch
from deploybridge.plugins.pip import pip_install as _pip
from deploybridge.plugins.pip import version as _version

WHEEL = ("sal-detectron2", "0.7.2")
# what the wheel imports (its own metadata pins numpy<2, which is wrong here); setuptools<81 keeps pkg_resources,
# which detectron2.model_zoo imports
NEEDS = ("fvcore>=0.1.5,<0.1.6", "iopath>=0.1.7,<0.1.11", "omegaconf>=2.1,<2.4", "hydra-core>=1.1", "pycocotools",
         "yacs", "termcolor", "tabulate", "cloudpickle", "tqdm", "matplotlib", "setuptools<81")


def installed() -> str | None:
    """The importable Detectron2's version (a source build included), or None."""
    if util.find_spec("detectron2") is None:
        return None
    try:
        return metadata.version(WHEEL[0])
    except metadata.PackageNotFoundError:
        return "source build"


def _missing_needs() -> list[str]:
    import re

    names = [re.split(r"[<>=]", need)[0] for need in NEEDS]
    out = []
    for need, name in zip(NEEDS, names):
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            out.append(need)
            continue
        if name == "setuptools" and int(version.split(".")[0]) >= 81:
            out.append(need)
    return out


def install_detectron2(quiet: bool = False) -> list[str]:
    """Install what is missing; return what was installed (empty: already there)."""
    done = []
    todo = _missing_needs()
    torch_before = _version("torch")
    if todo:
        install_keeping_torch(todo, quiet, "detectron2's dependencies")
        done += todo
    if installed() is None:
        site = Path(sysconfig.get_paths()["purelib"])
        with tempfile.TemporaryDirectory(prefix="deploybridge-detectron2-") as tmp:
            _pip(["--no-deps", "--only-binary=:all:", "--python-version", "3.10", "--platform", "linux_x86_64",
                  "--implementation", "cp", "--target", tmp, f"{WHEEL[0]}=={WHEEL[1]}"], quiet)
            for compiled in Path(tmp, "detectron2").glob("_C.*.so"):
                compiled.unlink()  # built for CPython 3.10: importing it here would crash, not fail cleanly
            for entry in Path(tmp).iterdir():
                if entry.name == "detectron2" or entry.name.endswith(".dist-info"):
                    target = site / entry.name
                    shutil.rmtree(target, ignore_errors=True)
                    shutil.move(str(entry), target)
        done.append(f"{WHEEL[0]}=={WHEEL[1]} (pure Python, without _C)")
    if _version("torch") != torch_before:
        raise DeployError(f"installing detectron2 changed torch from {torch_before} to {_version('torch')};"
                          f" reinstall torch=={torch_before}")
    return done
