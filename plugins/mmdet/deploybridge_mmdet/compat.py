"""Putting the mmcv layer in place: only when MMDetection is installed and compiled ``mmcv._ext`` is not."""
from __future__ import annotations

import importlib
import importlib.util
import sys

from deploybridge.errors import DeployError

INSTALL_HINT = "run `deploy install mmdet` (mmengine 0.10.7, mmcv-lite 2.1.0, mmdet 3.3.0; no compiler needed)"


def mmcv_ops_provider() -> str:
    """'compiled mmcv' or 'deploybridge', after making sure ``import mmcv.ops`` works; DeployError if mmcv is missing."""
    if importlib.util.find_spec("mmcv") is None or importlib.util.find_spec("mmdet") is None:
        raise DeployError(f"MMDetection is not installed in this environment; {INSTALL_HINT}")
    if "mmcv._ext" in sys.modules:
        return "deploybridge" if sys.modules["mmcv._ext"].__name__.endswith("mmcv_ext") else "compiled mmcv"
    try:
        # the start-up hook (deploy install mmdet's .pth) may answer this import with deploybridge's layer
        ext = importlib.import_module("mmcv._ext")
        return "deploybridge" if ext.__name__.endswith("mmcv_ext") else "compiled mmcv"
    except ImportError:
        from deploybridge_mmdet import mmcv_ext

        sys.modules["mmcv._ext"] = mmcv_ext
        return "deploybridge"


def import_mmdet_models():
    """``mmdet.models`` with every registry filled, the mmcv layer in place if needed."""
    import warnings

    mmcv_ops_provider()
    # MMDetection's prior generators call torch.meshgrid without indexing=; torch warns on every conversion about a
    # future default it already passes ("ij"), which says nothing about the user's model
    warnings.filterwarnings("ignore", message=r"torch\.meshgrid: in an upcoming release", category=UserWarning)
    from mmdet.utils import register_all_modules

    register_all_modules(init_default_scope=True)
    return importlib.import_module("mmdet.models")
