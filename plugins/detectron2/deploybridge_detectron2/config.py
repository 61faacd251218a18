"""Detectron2 configs: a model-zoo name, a name bundled with this plugin, a YAML or a LazyConfig path; ``--option``
overrides in Detectron2's own ``KEY=VALUE`` form; models that need the compiled ``_C`` refused before building."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from deploybridge.errors import DeployError

BUNDLED = Path(__file__).parent / "configs"
# what needs detectron2._C (compiled for CPython 3.10, not installed here): config key and value -> the op it calls
NEEDS_C = (
    ("MODEL.RESNETS.DEFORM_ON_PER_STAGE", lambda v: any(v), "deformable convolution (detectron2._C deform_conv)"),
    ("MODEL.PROPOSAL_GENERATOR.NAME", lambda v: v == "RRPN", "rotated boxes (detectron2._C nms_rotated)"),
    ("MODEL.ROI_HEADS.NAME", lambda v: v == "RROIHeads", "rotated boxes (detectron2._C ROIAlignRotated)"),
    ("MODEL.ANCHOR_GENERATOR.NAME", lambda v: v == "RotatedAnchorGenerator", "rotated anchors (detectron2._C nms_rotated)"),
    ("MODEL.ROI_BOX_HEAD.POOLER_TYPE", lambda v: v == "ROIAlignRotated", "ROIAlignRotated (detectron2._C)"),
)
# meta-architectures this family converts (others are refused, naming these)
SUPPORTED = ("GeneralizedRCNN", "RetinaNet")
# why a meta-architecture Detectron2 builds here is refused (docs/detectron2.md#support-table)
NOT_CONVERTED = {
    "PanopticFPN": "its sem_seg and panoptic outputs (semantic logits, then segments merged in Python by"
                   " combine_semantic_and_instance_outputs) have no fixed tensor outputs or parity check in this family yet",
    "SemanticSegmentor": "semantic segmentation alone is not a detector; this family converts instance outputs",
}


def _require_detectron2():
    """Import Detectron2 once, quietly: on import it warns about pkg_resources, torch.jit.script's deprecation and
    torch.meshgrid's indexing argument (its code, nothing the user can act on); export warnings are triaged later."""
    import logging
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import detectron2.modeling  # noqa: F401
            import detectron2.model_zoo  # noqa: F401
    except ImportError:
        raise DeployError("Detectron2 is not installed: run `deploy install detectron2` (no compiling, ~30 s)") from None
    # Detectron2 asks torch.fx.is_fx_tracing() on every forward; torch logs a deprecation line for it
    logging.getLogger("torch.fx._symbolic_trace").setLevel(logging.ERROR)
    logging.getLogger("fvcore.common.config").setLevel(logging.ERROR)  # "Loading config ... with yaml.unsafe_load"


def config_path(name: str) -> Path:
    """The YAML / LazyConfig file for ``name``: a path, a bundled name (``shapes_mask_rcnn``) or a model-zoo name
    (``COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_3x``, ``.yaml`` optional)."""
    _require_detectron2()
    path = Path(name)
    if path.suffix in (".yaml", ".yml", ".py") and path.is_file():
        return path
    bundled = BUNDLED / f"{name}.yaml"
    if bundled.is_file():
        return bundled
    from detectron2.model_zoo import model_zoo

    for candidate in (name, f"{name}.yaml", f"{name}.py"):
        try:
            found = Path(model_zoo.get_config_file(candidate))
        except RuntimeError:
            continue
        if found.is_file():
            return found
    if path.suffix in (".yaml", ".yml", ".py"):
        raise DeployError(f"config file {name} not found; give a Detectron2 YAML/LazyConfig path or a model-zoo name")
    raise DeployError(f"'{name}' is neither a config file nor a Detectron2 model-zoo config; e.g. --config"
                      " COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_3x (list them: `deploy detectron2-configs`)")


def zoo_names() -> list[str]:
    """Model-zoo config names bundled with the installed Detectron2, plus this plugin's own."""
    import detectron2

    root = Path(detectron2.__file__).parent / "model_zoo" / "configs"
    names = [str(p.relative_to(root).with_suffix("")) for p in root.rglob("*.yaml") if not p.name.startswith("Base")]
    return sorted(names) + sorted(p.stem for p in BUNDLED.glob("*.yaml"))


def _coerce(current: Any, value: Any) -> str:
    """An --option value as the text Detectron2's merge_from_list parses (literal_eval), typed like the default."""
    if isinstance(current, float) and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    return value if isinstance(value, str) else repr(value)


def yacs_config(path: Path, options: Mapping[str, Any]):
    """A frozen yacs CfgNode on CPU, with ``options`` (``MODEL.RESNETS.DEPTH=18``) merged as Detectron2 merges them."""
    from detectron2.config import get_cfg

    cfg = get_cfg()
    cfg.set_new_allowed(True)  # configs of Detectron2 projects add keys
    try:
        cfg.merge_from_file(str(path))
    except Exception as exc:  # noqa: BLE001 - yacs raises many kinds, all meaning "this file is not a config"
        raise DeployError(f"{path} is not a Detectron2 YAML config: {type(exc).__name__}: {str(exc).splitlines()[0][:150]}") from None
    pairs = []
    for key, value in options.items():
        node = cfg
        for part in key.split(".")[:-1]:
            node = node.get(part) if hasattr(node, "get") else None
        last = key.split(".")[-1]
        if node is None or last not in node:
            raise DeployError(f"--option {key}: no such Detectron2 config key (e.g. MODEL.RESNETS.DEPTH, INPUT.MIN_SIZE_TEST)")
        pairs += [key, _coerce(node[last], value)]
    try:
        cfg.merge_from_list(pairs + ["MODEL.DEVICE", "cpu"])
    except (ValueError, KeyError, AssertionError) as exc:
        raise DeployError(f"--option: Detectron2 refused {' '.join(map(str, pairs))}: {str(exc).splitlines()[0][:150]}") from None
    refuse_needs_c(cfg)
    cfg.freeze()
    return cfg


def refuse_needs_c(cfg) -> None:
    for key, needs, what in NEEDS_C:
        node = cfg
        for part in key.split("."):
            node = node.get(part) if hasattr(node, "get") else None
        if node is not None and needs(node):
            raise DeployError(f"this config uses {what} ({key}={node}), which needs Detectron2's compiled _C, not installed"
                              " here (no compiler); pick a config without it")


def build(name: str, options: Mapping[str, Any]):
    """(model in eval mode, config) for a yacs YAML; LazyConfig .py files give (model, LazyConfig)."""
    _require_detectron2()
    path = config_path(name)
    if path.suffix == ".py":
        return _build_lazy(path, options)
    cfg = yacs_config(path, options)
    arch = cfg.MODEL.META_ARCHITECTURE
    if arch not in SUPPORTED:
        why = f" ({NOT_CONVERTED[arch]})" if arch in NOT_CONVERTED else ""
        raise DeployError(f"config '{name}' builds a {arch}, which the detectron2 family does not convert{why}; it"
                          f" converts {', '.join(SUPPORTED)} (see docs/detectron2.md#support-table)")
    from detectron2.modeling import build_model

    model = build_model(cfg)
    return model.eval(), cfg


def _build_lazy(path: Path, options: Mapping[str, Any]):
    from detectron2.config import LazyConfig, instantiate

    cfg = LazyConfig.load(str(path))
    cfg = LazyConfig.apply_overrides(cfg, [f"{k}={_coerce(None, v)}" for k, v in options.items()])
    model = instantiate(cfg.model)
    if type(model).__name__ not in SUPPORTED:
        raise DeployError(f"{path} builds a {type(model).__name__}; the detectron2 family converts {', '.join(SUPPORTED)}")
    return model.eval(), cfg


def load_weights(model, weights: str) -> None:
    """A local checkpoint (nothing is downloaded): a ``.pth`` state_dict (plain or Detectron2's ``{"model": ...}``)
    loaded strictly by name, or a model-zoo ``.pkl`` through Detectron2's own checkpointer (which renames Caffe2
    weights)."""
    path = Path(weights)
    if not path.is_file():
        raise DeployError(f"weights file {weights} not found (a local .pth/.pkl: nothing is downloaded)")
    if path.suffix == ".pkl":
        from detectron2.checkpoint import DetectionCheckpointer

        DetectionCheckpointer(model).load(str(path))
        return
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - pickle/zip errors all mean "not a checkpoint"
        raise DeployError(f"{weights} is not a PyTorch checkpoint: {str(exc).splitlines()[0][:150]}") from None
    state = state.get("model", state) if isinstance(state, dict) else state
    result = model.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        keys = result.missing_keys or result.unexpected_keys
        raise DeployError(f"{weights} does not fit this config: {len(result.missing_keys)} weights missing,"
                          f" {len(result.unexpected_keys)} unexpected, e.g. {keys[0]}; check --config and --option")
