"""``deploy install fastreid``: fastreid 1.4.0 pins torch==1.13.1, so it is installed ``--no-deps`` with the
modules its config and modeling code really import (yacs, tabulate, termcolor, pyyaml: not all declared).
Its data/engine/evaluation packages fail on torch 2 and Python 3.11 (``torch._six``, ``collections.Mapping``) and
are never imported here."""
from __future__ import annotations

from deploybridge.plugins.pip import install_keeping_torch, pip_install, version

FASTREID = "1.4.0"
NEEDS = ("yacs", "tabulate", "termcolor", "pyyaml")


def install_fastreid(quiet: bool = False) -> list[str]:
    """Install what is missing; return what was installed (empty: already there)."""
    needs = [n for n in NEEDS if version(n) is None]
    install_keeping_torch(needs, quiet, "fastreid's dependencies")
    done = list(needs)
    if version("fastreid") != FASTREID:
        pip_install(["--no-deps", f"fastreid=={FASTREID}"], quiet)
        done.append(f"fastreid=={FASTREID} (--no-deps)")
    return done
