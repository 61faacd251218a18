"""fastreid configs: this plugin's named models (fastreid's own Base-*.yml settings, written as overrides of
``fastreid.config.get_cfg()`` because fastreid's wheel ships no config files), or a fastreid YAML the user gives
(``_BASE_`` included), then ``--option KEY=VALUE`` overrides in fastreid's own syntax."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

from deploybridge.errors import DeployError, first_line

BAGTRICKS = {  # configs/Base-bagtricks.yml
    "MODEL.META_ARCHITECTURE": "Baseline",
    "MODEL.BACKBONE.NAME": "build_resnet_backbone", "MODEL.BACKBONE.DEPTH": "50x", "MODEL.BACKBONE.LAST_STRIDE": 1,
    "MODEL.BACKBONE.FEAT_DIM": 2048, "MODEL.BACKBONE.NORM": "BN", "MODEL.BACKBONE.PRETRAIN": False,
    "MODEL.HEADS.NAME": "EmbeddingHead", "MODEL.HEADS.NORM": "BN", "MODEL.HEADS.WITH_BNNECK": True,
    "MODEL.HEADS.POOL_LAYER": "GlobalAvgPool", "MODEL.HEADS.NECK_FEAT": "before", "MODEL.HEADS.CLS_LAYER": "Linear",
    "MODEL.HEADS.NUM_CLASSES": 751, "MODEL.LOSSES.NAME": ("CrossEntropyLoss", "TripletLoss"),
    "INPUT.SIZE_TEST": [256, 128],
}
AGW = {**BAGTRICKS, "MODEL.BACKBONE.WITH_NL": True, "MODEL.HEADS.POOL_LAYER": "GeneralizedMeanPooling"}  # Base-AGW.yml
SBS = {**BAGTRICKS, "MODEL.BACKBONE.WITH_IBN": True, "MODEL.BACKBONE.WITH_NL": True,  # Base-SBS.yml
       "MODEL.HEADS.NECK_FEAT": "after", "MODEL.HEADS.POOL_LAYER": "GeneralizedMeanPoolingP",
       "MODEL.HEADS.CLS_LAYER": "CircleSoftmax", "MODEL.HEADS.SCALE": 64, "MODEL.HEADS.MARGIN": 0.35,
       "INPUT.SIZE_TEST": [384, 128]}
MGN = {**SBS, "MODEL.META_ARCHITECTURE": "MGN", "MODEL.BACKBONE.WITH_NL": False,  # Base-MGN.yml
       "MODEL.HEADS.EMBEDDING_DIM": 256}
SMALL = {"MODEL.BACKBONE.DEPTH": "18x", "MODEL.BACKBONE.FEAT_DIM": 512}  # BasicBlock ResNet-18: tests, quick checks
SHAPES_REID = {**BAGTRICKS, "MODEL.BACKBONE.NAME": "build_mobilenetv2_backbone", "MODEL.BACKBONE.DEPTH": "1.0x",
               "MODEL.BACKBONE.FEAT_DIM": 1280, "MODEL.HEADS.EMBEDDING_DIM": 256, "MODEL.HEADS.NECK_FEAT": "after",
               "MODEL.HEADS.NUM_CLASSES": 64, "INPUT.SIZE_TEST": [128, 64]}

MODELS: dict[str, Mapping] = {
    "bagtricks_R50": BAGTRICKS,
    "agw_R50": AGW,
    "sbs_R50": SBS,
    "mgn_R50": MGN,
    "bagtricks_R18": {**BAGTRICKS, **SMALL},
    "shapes_reid": SHAPES_REID,  # trained on the synthetic re-id set (checkpoints/shapes_reid.pth)
}
DEFAULT_MODEL = "bagtricks_R50"


def require_fastreid() -> None:
    try:
        import fastreid.modeling  # noqa: F401
    except ImportError as exc:
        raise DeployError(f"fastreid is not installed ({first_line(exc, 80)}); run `deploy install fastreid`") from None


def make_cfg(name: str, options: Mapping[str, object]):
    """The fastreid CfgNode for a model name or a YAML path, with ``options`` merged (one-line errors)."""
    require_fastreid()
    from fastreid.config import get_cfg

    cfg = get_cfg()
    if name in MODELS:
        _merge(cfg, MODELS[name], "")
    elif name.endswith((".yml", ".yaml")):
        if not Path(name).is_file():
            raise DeployError(f"--config {name}: no such file; give a fastreid YAML config or one of {', '.join(MODELS)}")
        try:
            cfg.merge_from_file(name)
        except Exception as exc:
            raise DeployError(f"--config {name}: fastreid could not read it ({first_line(exc, 120)})") from None
    else:
        raise DeployError(f"unknown fastreid model '{name}'; choose one of {', '.join(MODELS)} or give --config FILE.yml")
    _merge(cfg, options, "--option ")
    cfg.MODEL.DEVICE = "cpu"
    cfg.MODEL.BACKBONE.PRETRAIN = False  # pretrained backbones are downloads; weights come from --weights
    return cfg


def _merge(cfg, values: Mapping[str, object], said: str) -> None:
    for key, value in values.items():
        node, *path = key.split(".")
        target = cfg
        for part in [node, *path[:-1]]:
            if part not in target:
                raise DeployError(f"{said}{key}: fastreid has no such config key")
            target = target[part]
        leaf = path[-1] if path else node
        if leaf not in target:
            raise DeployError(f"{said}{key}: fastreid has no such config key")
        try:
            cfg.merge_from_list([key, _typed(value, target[leaf])])
        except Exception as exc:
            raise DeployError(f"{said}{key}={value}: {first_line(exc, 120)}") from None


def _typed(value, current):
    """A command-line string as the config key's type (fastreid's yacs compares types strictly)."""
    if not isinstance(value, str):
        return value
    import ast

    if isinstance(current, str):
        return value
    try:
        parsed = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return value
    return float(parsed) if isinstance(current, float) and isinstance(parsed, int) else parsed
