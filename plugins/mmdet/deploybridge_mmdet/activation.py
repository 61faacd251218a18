"""MMDetection in the user's own scripts: ``activate()`` by hand, or the ``.pth`` hook ``deploy install mmdet`` writes.

deploybridge puts its mmcv layer in place inside its own process; a user's script (or ``tools/test.py``) in the
same environment would still fail at ``import mmdet.models`` (``No module named 'mmcv._ext'``) without one of these.
"""
from __future__ import annotations

import sysconfig
from pathlib import Path

PTH_NAME = "deploybridge-mmdet-activate.pth"
# One line, run by site.py at every start-up: finds deploybridge_mmdet without importing it and runs its
# _autoactivate.py (a lazy finder, stdlib only). A stale file (plugin uninstalled) finds nothing and does nothing.
PTH_LINE = (
    "import importlib.util as u, os; s = u.find_spec('deploybridge_mmdet'); "
    "p = s and os.path.join(s.submodule_search_locations[0], '_autoactivate.py'); "
    "m = p and os.path.exists(p) and u.spec_from_file_location('deploybridge_mmdet._autoactivate', p); "
    "m and m.loader.exec_module(u.module_from_spec(m))\n"
)


def activate() -> str:
    """Put deploybridge's mmcv layer in place if compiled ``mmcv._ext`` is absent, so ``import mmdet.models`` works.

    Returns what provides ``mmcv.ops``: ``'compiled mmcv'`` or ``'deploybridge'``. Idempotent; DeployError (one line)
    if MMDetection is not installed. Call it before the first ``import mmdet.models`` / ``mmdet.apis``.
    """
    from deploybridge_mmdet.compat import mmcv_ops_provider

    return mmcv_ops_provider()


def site_packages() -> Path:
    """Where pip installed mmdet for this interpreter (a venv's own site-packages)."""
    return Path(sysconfig.get_path("purelib"))


def write_pth(site_dir: Path | None = None) -> Path | None:
    """Write the start-up hook; return its path when written, None when it was already there (idempotent)."""
    path = (site_dir or site_packages()) / PTH_NAME
    if path.exists() and path.read_text() == PTH_LINE:
        return None
    path.write_text(PTH_LINE)
    return path


def remove_pth(site_dir: Path | None = None) -> Path | None:
    """Remove the start-up hook; return its path when removed, None when there was none."""
    path = (site_dir or site_packages()) / PTH_NAME
    if not path.exists():
        return None
    path.unlink()
    return path


if __name__ == "__main__":  # python -m deploybridge_mmdet.activation --remove
    import sys

    if sys.argv[1:] == ["--remove"]:
        removed = remove_pth()
        print(f"removed {removed}" if removed else f"no {PTH_NAME} in {site_packages()}")
    else:
        written = write_pth()
        print(f"wrote {written}" if written else f"already there: {site_packages() / PTH_NAME}")
