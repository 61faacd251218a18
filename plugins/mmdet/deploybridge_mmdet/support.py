"""Which MMDetection architectures the ``mmdet`` family converts, decided from the config's ``model`` before anything
is built or run: any other architecture is refused in one line (exit 2) naming it and what is supported.

The family reimplements post-processing with tensor ops (dense.py, two_stage.py) and holds it to MMDetection's own
``predict``; only heads whose ``predict`` those modules reproduce are accepted: anchor heads scored by a sigmoid
that MMDetection post-processes with the base dense head's code, and Faster / Mask R-CNN with a standard RoI head
whose box head is a softmax classifier on FC (or conv + FC) layers.
"""
from __future__ import annotations

from deploybridge.errors import DeployError

DENSE_DETECTORS = ("RetinaNet", "SingleStageDetector")
DENSE_HEADS = ("RetinaHead", "RetinaSepBNHead", "FreeAnchorRetinaHead", "PISARetinaHead")
TWO_STAGE_DETECTORS = ("FasterRCNN", "MaskRCNN")
RPN_HEADS = ("RPNHead",)
ROI_HEADS = ("StandardRoIHead",)
BOX_HEADS = ("Shared2FCBBoxHead", "Shared4Conv1FCBBoxHead", "ConvFCBBoxHead")
MASK_HEADS = ("FCNMaskHead",)
SOLO_HEADS = ("SOLOHead", "DecoupledSOLOHead", "DecoupledSOLOLightHead", "SOLOV2Head")
HEAD_KEYS = ("bbox_head", "rpn_head", "roi_head", "mask_head", "panoptic_head", "track_head", "detector")

SUPPORTED = (f"RetinaNet-like single-stage detectors ({', '.join(DENSE_HEADS)}) and Faster/Mask R-CNN"
             f" ({'/'.join(RPN_HEADS)} + {'/'.join(ROI_HEADS)}, box head {'/'.join(BOX_HEADS)} with a softmax classifier)")


def type_name(cfg) -> str:
    """A config's ``type`` as a class name: a registry string (``mmdet.RetinaHead`` too) or a class (new-style
    configs)."""
    kind = cfg.get("type") if isinstance(cfg, dict) or hasattr(cfg, "get") else None
    if kind is None:
        return "?"
    return kind.rsplit(".", 1)[-1] if isinstance(kind, str) else getattr(kind, "__name__", str(kind))


def architecture(model) -> str:
    """``CascadeRCNN (rpn_head RPNHead, roi_head CascadeRoIHead)``: the detector and the heads it is made of."""
    heads = [f"{key} {type_name(model[key])}" for key in HEAD_KEYS if hasattr(model.get(key), "get")]
    return type_name(model) + (f" ({', '.join(heads)})" if heads else "")


def _problem(model) -> str | None:
    """Why the family cannot convert this model config, or None."""
    detector = type_name(model)
    head = model.get("bbox_head") or {}
    if detector in DENSE_DETECTORS and type_name(head) in DENSE_HEADS:
        if (head.get("loss_cls") or {}).get("use_sigmoid", True) is False:
            return "its bbox_head scores classes with a softmax; the family decodes sigmoid scores"
        return None
    if detector not in TWO_STAGE_DETECTORS:
        return ""
    rpn, roi = model.get("rpn_head") or {}, model.get("roi_head") or {}
    if type_name(rpn) not in RPN_HEADS or type_name(roi) not in ROI_HEADS:
        return ""
    if roi.get("shared_head"):
        return "its roi_head runs a shared head (a C4 backbone stage) on the RoIs, which the family does not"
    box = roi.get("bbox_head") or {}
    if type_name(box) not in BOX_HEADS:
        return f"its box head is a {type_name(box)}"
    loss = box.get("loss_cls") or {}
    if loss.get("type", "CrossEntropyLoss") != "CrossEntropyLoss" or loss.get("use_sigmoid", False):
        return f"its box head's classifier ({type_name(loss)}) is not a plain softmax"
    mask = roi.get("mask_head")
    if mask and type_name(mask) not in MASK_HEADS:
        return f"its mask head is a {type_name(mask)}"
    return None


def check(model, name: str) -> None:
    """DeployError naming the architecture and what is supported, unless the family converts this model config."""
    problem = _problem(model)
    if problem is None:
        return
    hint = "; use --plugin solo for SOLO" if type_name(model.get("mask_head") or {}) in SOLO_HEADS else ""
    why = f": {problem}" if problem else ""
    raise DeployError(f"config '{name}' builds a {architecture(model)}, which the mmdet family does not convert{why};"
                      f" it converts {SUPPORTED}{hint}")
