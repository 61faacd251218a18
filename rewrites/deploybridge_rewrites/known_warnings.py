"""Export warnings printed by this library's own replacements, looked at and harmless (each with its evidence)."""
from __future__ import annotations

from deploybridge.records import KnownWarning

KNOWN_WARNINGS = (
    KnownWarning(
        "paste_masks_mask_resolution", r"Converting a tensor to a Python float",
        "paste_masks reads the mask resolution (28 for torchvision's mask head) as a Python number: it is fixed by the"
        " architecture, not by the image or the detection count (tests/rewrites/test_paste_masks.py: 0, 1, 12 and 40"
        " detections; shapes_maskrcnn --dynamic height,width verified at 128, 192 and 288)",
        module=r"^deploybridge_rewrites\.paste_masks$",
    ),
    KnownWarning(
        "mask_logits_by_label_sizes", r"Converting a tensor to a Python integer",
        "mask_logits_by_label reads the mask head's channels and RoI feature size (MultiScaleRoIAlign's output_size) as"
        " Python ints so the detection count stays the only dynamic dim (a traced H*W made Reshape(N, C, -1), which ONNX"
        " Runtime cannot infer with no detections); both are fixed by the architecture"
        " (tests/rewrites/test_mask_logits_by_label.py, 0 and 5 detections)",
        module=r"^deploybridge_rewrites\.mask_logits_by_label$",
    ),
)
