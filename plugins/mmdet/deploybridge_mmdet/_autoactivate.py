"""The lazy import hook that ``deploybridge-mmdet-activate.pth`` puts in place at interpreter start-up.

Why: after ``deploy install mmdet`` the environment has mmcv-lite, whose ``mmcv.ops`` imports a compiled
``mmcv._ext`` that is not there, so a user's own ``import mmdet.models`` (or MMDetection's tools) would fail.
This finder answers one import, ``mmcv._ext``, and only when no other finder does (it sits last on
``sys.meta_path``): compiled mmcv, if installed, always wins.

It runs in every interpreter of the environment, so it imports nothing but the standard library's already-loaded
modules; ``deploybridge_mmdet`` (and with it torch) is imported only when ``mmcv._ext`` is first asked for. The
``.pth`` line loads this file by location, without importing the package (whose ``deploybridge``/pluggy imports
cost ~10 ms per start-up, measured). Deliberately no ``from __future__`` or typing imports.
"""
import sys
from importlib.machinery import ModuleSpec

TARGET = "mmcv._ext"


class _Loader:
    """Puts deploybridge's layer in ``sys.modules['mmcv._ext']``; the import system returns what is there."""

    def create_module(self, spec):
        return None  # a plain module; exec_module replaces it

    def exec_module(self, module):
        from deploybridge_mmdet import mmcv_ext

        sys.modules[TARGET] = mmcv_ext


class MmcvExtFinder:
    """Last on ``sys.meta_path``: reached for ``mmcv._ext`` only when no compiled extension was found."""

    deploybridge_mmdet_hook = True  # how install() recognises an earlier copy (the class may be loaded twice)

    def find_spec(self, fullname, path=None, target=None):
        if fullname != TARGET:
            return None
        return ModuleSpec(TARGET, _Loader())

    def invalidate_caches(self):
        pass


def install():
    """Append the finder once (idempotent: a second .pth line, or a reload of this file, adds nothing)."""
    if not any(getattr(f, "deploybridge_mmdet_hook", False) for f in sys.meta_path):
        sys.meta_path.append(MmcvExtFinder())


install()
