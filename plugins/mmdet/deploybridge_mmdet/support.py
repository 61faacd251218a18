"""Which MMDetection architectures the ``mmdet`` family converts, decided from the config's ``model`` before anything
is built or run: any other architecture is refused in one line (exit 2) naming it and what is supported.

Two paths, each held to MMDetection's own ``predict``. The native one reimplements post-processing with tensor ops
(dense.py, two_stage.py, cascade.py); only heads whose ``predict`` those modules reproduce are accepted. The
``mmdeploy`` one runs MMDeploy 1.3.1's own rewriters (mmdeploy_export.py); only heads whose MMDeploy export loads in
stock ONNX Runtime and matched predict when measured are accepted, and the heads MMDeploy lists but that fail here
are refused with the measured reason. A config either path takes is converted; the native path is the default where
both do.
"""
from __future__ import annotations

from deploybridge.errors import DeployError

NATIVE, MMDEPLOY = "native", "mmdeploy"

DENSE_DETECTORS = ("RetinaNet", "SingleStageDetector", "FCOS", "ATSS", "GFL", "YOLOX", "RTMDet", "FOVEA")
DENSE_HEADS = ("RetinaHead", "RetinaSepBNHead", "FreeAnchorRetinaHead", "PISARetinaHead", "FCOSHead", "ATSSHead", "GFLHead",
               "YOLOXHead", "RTMDetHead", "RTMDetSepBNHead", "FoveaHead")  # decoded by dense_heads.py
INSTANCE_DENSE_HEADS = ("RTMDetInsSepBNHead",)  # boxes and dynamic-conv masks: rtmdet_ins.py
CONDINST = ("CondInst", "CondInstBboxHead", "CondInstMaskHead")  # detector, box head, mask head: condinst.py
TWO_STAGE_DETECTORS = ("FasterRCNN", "MaskRCNN", "CascadeRCNN")
RPN_HEADS = ("RPNHead",)
ROI_HEADS = ("StandardRoIHead", "DynamicRoIHead", "PISARoIHead")  # the latter two differ in training only
CASCADE_ROI_HEADS = ("CascadeRoIHead",)  # cascade.py: stages refine the RoIs, scores and masks averaged
BOX_HEADS = ("Shared2FCBBoxHead", "Shared4Conv1FCBBoxHead", "ConvFCBBoxHead")
MASK_HEADS = ("FCNMaskHead",)
SOLO_HEADS = ("SOLOHead", "DecoupledSOLOHead", "DecoupledSOLOLightHead", "SOLOV2Head")
HEAD_KEYS = ("bbox_head", "rpn_head", "roi_head", "mask_head", "panoptic_head", "track_head", "detector")

# --exporter mmdeploy: heads MMDeploy 1.3.1 exports for ONNX Runtime whose artifact the family verified against
# MMDetection's predict (the support table in docs/mmdet.md, scripts/mmdet_support.py)
MMDEPLOY_HEADS = ("RetinaHead", "RetinaSepBNHead", "FreeAnchorRetinaHead", "PISARetinaHead", "ATSSHead", "FCOSHead",
                  "AutoAssignHead", "FSAFHead", "GFLHead", "FoveaHead", "YOLOV3Head", "YOLOXHead",
                  "RTMDetSepBNHead", "RTMDetInsSepBNHead", "CondInstBboxHead", "CenterNetUpdateHead", "DETRHead",
                  "ConditionalDETRHead", "DABDETRHead", "DeformableDETRHead", "DINOHead")
MMDEPLOY_ROI_HEADS = ("StandardRoIHead", "CascadeRoIHead")
DEFORM_CONV = ("exports deformable convolution as MMDeploy's custom op MMCVDeformConv2d, which stock ONNX Runtime"
               " cannot load (it needs MMDeploy's compiled ops library)")
# what MMDeploy 1.3.1 does with heads it lists, measured here
MMDEPLOY_REFUSED = {
    "VFNetHead": DEFORM_CONV, "RepPointsHead": DEFORM_CONV, "DDODHead": DEFORM_CONV,
    "NASFCOSHead": DEFORM_CONV.replace("MMCVDeformConv2d", "MMCVModulatedDeformConv2d (its DCNv2 head conv)"),
    "TOODHead": "its export fails translating deformable convolution (DeformConv2dFunction)",
    "CenterNetHead": "MMDeploy's CenterNet rewrite reads the 'border' RandomCenterCropPad writes, which a deployed input"
                     " does not have",
    "SSDHead": "MMDeploy 1.3.1 reads SSDHead.loss_cls, which MMDetection 3.3's SSDHead no longer has",
    "PAAHead": "MMDetection's predict re-scores boxes by score voting; MMDeploy's export does not (parity fails)",
}
MMDEPLOY_SUPPORTED = (f"with --exporter mmdeploy: {', '.join(MMDEPLOY_HEADS)}, and Faster/Mask/Cascade (Mask) R-CNN"
                      f" ({'/'.join(MMDEPLOY_ROI_HEADS)})")

SUPPORTED = (f"natively: single-stage detectors ({', '.join(DENSE_HEADS)}), RTMDet-Ins ({', '.join(INSTANCE_DENSE_HEADS)}),"
             f" CondInst ({' + '.join(CONDINST[1:])})"
             f" and Faster/Mask/Cascade (Mask) R-CNN"
             f" ({'/'.join(RPN_HEADS)} + {'/'.join(ROI_HEADS + CASCADE_ROI_HEADS)}, box heads {'/'.join(BOX_HEADS)}"
             f" with a softmax classifier, mask heads {'/'.join(MASK_HEADS)})")


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
    if detector in DENSE_DETECTORS and type_name(head) in DENSE_HEADS + INSTANCE_DENSE_HEADS:
        if (head.get("loss_cls") or {}).get("use_sigmoid", True) is False:
            return "its bbox_head scores classes with a softmax; the family decodes sigmoid scores"
        return None
    if (detector, type_name(head), type_name(model.get("mask_head") or {})) == CONDINST:
        return None
    if detector not in TWO_STAGE_DETECTORS:
        return ""
    rpn, roi = model.get("rpn_head") or {}, model.get("roi_head") or {}
    cascade = detector == "CascadeRCNN"
    if type_name(rpn) not in RPN_HEADS or type_name(roi) not in (CASCADE_ROI_HEADS if cascade else ROI_HEADS):
        return ""
    if roi.get("shared_head"):
        return "its roi_head runs a shared head (a C4 backbone stage) on the RoIs, which the family does not"
    if not _stages(roi.get("bbox_head")):
        return "its roi_head has no box head"
    for box in _stages(roi.get("bbox_head")):  # a cascade lists one per stage (or one for all)
        if type_name(box) not in BOX_HEADS:
            return f"its box head is a {type_name(box)}"
        loss = box.get("loss_cls") or {}
        if loss.get("type", "CrossEntropyLoss") != "CrossEntropyLoss" or loss.get("use_sigmoid", False):
            return f"its box head's classifier ({type_name(loss)}) is not a plain softmax"
    for mask in _stages(roi.get("mask_head")):
        if type_name(mask) not in MASK_HEADS:
            return f"its mask head is a {type_name(mask)}"
    return None


def _stages(heads) -> list:
    """A head config, or a cascade's list of them, as a list (empty when there is none)."""
    return list(heads) if isinstance(heads, (list, tuple)) else [heads] if heads else []


def _mmdeploy_problem(model) -> str | None:
    """Why --exporter mmdeploy cannot convert this model config, or None."""
    head = type_name(model.get("bbox_head") or {})
    if head in MMDEPLOY_REFUSED:
        return f"{head}: {MMDEPLOY_REFUSED[head]}"
    if head in MMDEPLOY_HEADS:
        return None
    roi = model.get("roi_head") or {}
    if type_name(model.get("rpn_head") or {}) not in RPN_HEADS or type_name(roi) not in MMDEPLOY_ROI_HEADS:
        return ""
    if roi.get("shared_head"):
        return "its roi_head runs a shared head (C4), which MMDeploy 1.3.1 does not rewrite"
    if not _stages(roi.get("bbox_head")):
        return "its roi_head has no box head"
    for box in _stages(roi.get("bbox_head")):
        if type_name(box) not in BOX_HEADS:
            return f"its box head is a {type_name(box)}"
    for mask in _stages(roi.get("mask_head")):
        if type_name(mask) not in MASK_HEADS:
            return f"its mask head is a {type_name(mask)}"
    return None


def paths(model) -> dict[str, str | None]:
    """Per conversion path, None if it converts this model config, else why not ("" when it simply is not listed)."""
    return {NATIVE: _problem(model), MMDEPLOY: _mmdeploy_problem(model)}


def check(model, name: str) -> list[str]:
    """The paths that convert this model config, the native one first; DeployError naming the architecture, why and
    what is supported when none does (before anything is built or run)."""
    found = paths(model)
    accepted = [path for path, problem in found.items() if problem is None]
    if accepted:
        return accepted
    hint = "; use --plugin solo for SOLO" if type_name(model.get("mask_head") or {}) in SOLO_HEADS else ""
    why = "; ".join(dict.fromkeys(p for p in found.values() if p))  # both paths may give the same reason
    why = f" ({why})" if why else ""
    raise DeployError(f"config '{name}' builds a {architecture(model)}, which the mmdet family does not convert{why};"
                      f" it converts {SUPPORTED}; {MMDEPLOY_SUPPORTED}{hint}")
