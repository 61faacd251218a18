"""MMDetection configs and checkpoints: resolve a bundled config name, build the model, load local weights,
read the pre-processing MMDetection applies (so the artifact is fed exactly the same way)."""
from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from deploybridge.errors import DeployError, first_line

EXAMPLE = "retinanet/retinanet_r18_fpn_1x_coco"


def configs_root() -> Path:
    import mmdet

    return Path(mmdet.__file__).parent / ".mim" / "configs"


def bundled_names() -> list[str]:
    root = configs_root()
    return sorted(str(p.relative_to(root).with_suffix("")) for p in root.rglob("*.py") if "_base_" not in p.parts)


def resolve_config(name: str) -> Path:
    """A path to a config file, or a name under mmdet's bundled configs (with or without .py)."""
    path = Path(name)
    if path.suffix == ".py" and path.is_file():
        return path.resolve()
    candidate = configs_root() / (name if name.endswith(".py") else f"{name}.py")
    if candidate.is_file():
        return candidate
    names = bundled_names()
    close = difflib.get_close_matches(name.removesuffix(".py"), names, n=3, cutoff=0.6)
    if not close:  # a good stem match beats a full-path match on a long name
        stems = {Path(n).name: n for n in names}
        close = [stems[s] for s in difflib.get_close_matches(Path(name).name.removesuffix(".py"), list(stems), n=3, cutoff=0.6)]
    hint = f" (closest: {', '.join(close)})" if close else ""
    raise DeployError(f"unknown MMDetection config '{name}'{hint}; give a config file path or a bundled name such as {EXAMPLE}")


def _strip_pretrained(cfg: Any) -> None:
    """Drop init_cfg 'Pretrained' entries: building must never download (torchvision://resnet18 and the like)."""
    if isinstance(cfg, dict):
        init = cfg.get("init_cfg")
        if isinstance(init, dict) and init.get("type") == "Pretrained":
            cfg["init_cfg"] = None
        for value in cfg.values():
            _strip_pretrained(value)
    elif isinstance(cfg, (list, tuple)):
        for value in cfg:
            _strip_pretrained(value)


def build(config: str, check=None):
    """(model in eval mode, config) with framework-default random weights; ``check(cfg.model)`` first, if given
    (refuses an architecture before anything is built)."""
    from mmengine.config import Config

    from deploybridge_mmdet.compat import import_mmdet_models

    import_mmdet_models()
    from mmdet.registry import MODELS

    path = resolve_config(config)
    try:
        cfg = Config.fromfile(str(path))
    except Exception as exc:
        hint = ("; a '_base_ = \"mmdet::...\"' base needs pkg_resources (pip install 'setuptools<81'), or give the"
                " base's path" if "pkg_resources" in str(exc) else "")
        raise DeployError(f"cannot read MMDetection config {path}: {first_line(exc, 200)}{hint}") from exc
    _strip_pretrained(cfg.model)
    if check is not None:
        check(cfg.model)
    try:
        model = MODELS.build(cfg.model)
    except Exception as exc:
        raise DeployError(f"MMDetection cannot build config '{config}': {first_line(exc, 200)}") from exc
    return model.eval(), cfg


def load_checkpoint(model, path: str, config: str) -> None:
    """Load a local checkpoint (mmengine's {'state_dict': ...} or a bare state dict); loud when it does not fit."""
    import torch

    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise DeployError(f"checkpoint {path} not found; give an existing --weights file") from None
    except Exception as exc:
        raise DeployError(f"checkpoint {path} cannot be read safely ({type(exc).__name__}); re-save it as"
                          " {'state_dict': model.state_dict()} with torch.save") from None
    state = ckpt.get("state_dict", ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict):
        raise DeployError(f"checkpoint {path} holds no state dict")
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or wrong:
        first = (missing or unexpected or wrong)[:3]
        raise DeployError(f"checkpoint {path} does not fit config '{config}': {len(missing)} missing, {len(unexpected)}"
                          f" unexpected, {len(wrong)} wrongly shaped keys (first: {', '.join(first)}); is it a checkpoint of"
                          " another model?")
    model.load_state_dict(state)


def preprocessing(cfg) -> dict:
    """What MMDetection does to an image before the network: resize, channel order, mean/std, padding."""
    pre = cfg.model.get("data_preprocessor", {}) or {}
    pipeline = cfg.get("test_pipeline") or cfg.get("test_dataloader", {}).get("dataset", {}).get("pipeline", [])
    resize = next((dict(step) for step in pipeline if step.get("type") == "Resize"), {})
    return {
        "source": "mmdet config",
        "loaded_channel_order": "BGR",  # mmdet's LoadImageFromFile reads with cv2
        "bgr_to_rgb": bool(pre.get("bgr_to_rgb", False)),
        "mean": list(pre.get("mean", [0.0, 0.0, 0.0])),
        "std": list(pre.get("std", [1.0, 1.0, 1.0])),
        "pad_size_divisor": int(pre.get("pad_size_divisor", 1)),
        "resize": {"scale": list(resize.get("scale", [])), "keep_ratio": bool(resize.get("keep_ratio", True))},
        "value_range": "0-255 float, before normalisation (the graph normalises)",
        # how --eval maps labels to a dataset's category ids (deploybridge.evaluation.coco_ap.category_ids)
        "labels": "0-based class index: label i is the dataset's i-th category (MMDetection's CocoDataset)",
    }


def with_model_overrides(base: str, overrides: str, folder: Path, stem: str) -> str:
    """A config that is ``base`` with ``model = dict(OVERRIDES)`` on top (a smaller backbone, another head), written
    as ``folder/stem.py``; ``base`` itself when there are no overrides."""
    if not overrides:
        return base
    path = Path(folder) / f"{stem}.py"
    path.write_text(f'_base_ = "{resolve_config(base)}"\nmodel = dict({overrides})\n')
    return str(path)
