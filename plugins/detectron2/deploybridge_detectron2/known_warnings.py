"""Export warnings printed by Detectron2's code (and this plugin's stand-ins) that do not change what the artifact
computes, each tied to the module that prints it.

Triaged on Mask R-CNN, Faster R-CNN, RetinaNet, Keypoint R-CNN and Cascade Mask R-CNN (R18, 256², opsets 11 and
17; tests/test_detectron2_warnings.py converts them and finds no ``unknown``). The seed-000 warnings that did
matter are fixed by rewrites instead: ROIAlign aligned=True below opset 16 (``roi_align_aligned``) and the
advanced-indexing one (``negative_index``).
"""
from __future__ import annotations

from deploybridge.records import KnownWarning

BOOLEAN = r"Converting a tensor to a Python boolean"

KNOWN_WARNINGS = (
    KnownWarning(
        "detectron2_shape_asserts", BOOLEAN,
        "Detectron2 asserts on shapes and finiteness (image_list.py: images share their leading dims; boxes.py: Nx4,"
        " finite before clip; nms.py and roi_align.py: boxes Nx4 / Nx5) and boxes.py:151 reshapes only an empty"
        " tensor to (0, 4): the traced run passed every assert, and the graph's boxes are (N, 4) for any N",
        module=r"^detectron2\.(structures\.(image_list|boxes)|layers\.(nms|roi_align))$",
    ),
    KnownWarning(
        "detectron2_finite_filter", BOOLEAN,
        "proposal_utils.py:106 and fast_rcnn.py:138 drop non-finite boxes only 'if not valid_mask.all()': the trace"
        " keeps the all-finite branch, which is the eager result whenever the network's boxes are finite (box deltas"
        " are clamped by Box2BoxTransform); fast_rcnn.py:155 'num_bbox_reg_classes == 1' is class-agnostic box"
        " regression, fixed by the config",
        module=r"^detectron2\.modeling\.(proposal_generator\.proposal_utils|roi_heads\.fast_rcnn)$",
    ),
    KnownWarning(
        "detectron2_clip_size_unpacked", r"Iterating over a tensor",
        "Boxes.clip unpacks the image size (h, w = box_size): a 2-element tensor, so the loop is always 2 long and h"
        " and w stay graph values",
        module=r"^detectron2\.structures\.boxes$",
    ),
    KnownWarning(
        "torch_assert_message", BOOLEAN,
        "torch._assert: Detectron2's ROIPooler asserts that there is one box list per image (assert_fx_safe); the"
        " traced run passed it and an assert adds nothing to the graph",
        module=r"^torch$",
    ),
    KnownWarning(
        "tensor_formatted_in_message", r"Converting a tensor to a Python number",
        "Tensor.__format__: Detectron2 formats traced sizes into its assertion messages (ROIPooler); a string never"
        " enters the graph",
        module=r"^torch\._tensor$",
    ),
    KnownWarning(
        "detectron2_batched_nms_size_test", BOOLEAN,
        "torchvision's batched_nms (called by Detectron2's) takes its vanilla loop only 'if boxes.numel() > 4000 and"
        " not _is_tracing()': traced, it is the coordinate-offset NMS whatever the count, the same NMS result",
        module=r"^torchvision\.ops\.boxes$",
    ),
    KnownWarning(
        "detectron2_mask_channels", BOOLEAN,
        "the detectron2_one_image_split stand-in asks whether the mask head is class-agnostic (1 channel): fixed by"
        " the architecture (MODEL.ROI_MASK_HEAD.CLS_AGNOSTIC_MASK)",
        module=r"^deploybridge_detectron2\.rewrites$",
    ),
)
