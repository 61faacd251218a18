"""Export warnings printed by MMDetection's code that do not change what the artifact computes.

Registered by this plugin (``deploy_register_known_warnings``), each tied to the MMDetection module that prints it.
"""
from __future__ import annotations

from deploybridge.records import KnownWarning

KNOWN_WARNINGS = (
    KnownWarning(
        # tied to the module, not to lines 100 and 102: the traced RetinaNet and Mask R-CNN print it from nowhere else
        # in this module (its other size checks compare Python ints)
        "mmdet_box_coder_asserts", r"Converting a tensor to a Python boolean",
        "MMDetection's DeltaXYWHBBoxCoder.decode asserts that boxes and deltas have the same count; an assertion"
        " evaluated while tracing writes nothing into the graph (mmdet RetinaNet and Mask R-CNN verify, plugins/mmdet/tests)",
        module=r"^mmdet\.models\.task_modules\.coders\.delta_xywh_bbox_coder$",
    ),
)
