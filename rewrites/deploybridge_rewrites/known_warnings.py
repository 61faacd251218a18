"""Export warnings that have been looked at and do not change what the artifact computes.

Each entry says why. A warning that a rewrite fixes is not listed here: the
rewrite declares it in its ``fixes`` patterns. Add an entry only with the
evidence (a test or a measurement) named in ``why``.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KnownWarning:
    pattern: str  # regex searched in the warning message
    why: str
    source: str = ""  # regex searched in "file.py:line" of the code that warned; empty: anywhere


HARMLESS: list[KnownWarning] = [
    KnownWarning(
        r"Converting a tensor to a Python boolean",
        "MMDetection's DeltaXYWHBBoxCoder.decode asserts that boxes and deltas have the same count; an assertion"
        " evaluated while tracing writes nothing into the graph (mmdet RetinaNet and Mask R-CNN verify, plugins/mmdet/tests)",
        source=r"^delta_xywh_bbox_coder\.py:(100|102)$",
    ),
    KnownWarning(
        r"legacy TorchScript-based ONNX export|The feature will be removed",
        "torch 2.9+ deprecates the legacy exporter; deploybridge picks it on purpose for models the dynamo"
        " exporter cannot export yet (the reason is in manifest.json: export.reason)",
    ),
    KnownWarning(
        r"`torch\.jit\.script` is deprecated",
        "torchvision compiles a few helpers with torch.jit.script at import; a deprecation notice, nothing is exported differently",
    ),
    KnownWarning(
        r"torch\.as_tensor results are registered as constants",
        "torchvision's GeneralizedRCNNTransform turns image_mean/image_std into tensors: they are constants of the model",
        source=r"^transform\.py:",
    ),
    KnownWarning(
        r"torch\.tensor results are registered as constants|To copy construct from a tensor",
        "F.interpolate with scale_factor makes a tensor of the (constant) scale factor",
        source=r"^functional\.py:",
    ),
    KnownWarning(
        r"Converting a tensor to a Python boolean",
        "torchvision BoxCoder.decode branches on 'any boxes at all'; the traced branch is the one for >= 1 box,"
        " which the RPN's fixed anchor count and its top-k proposals always give",
        source=r"^_utils\.py:",
    ),
    KnownWarning(
        r"Iterating over a tensor|Using len to get tensor shape",
        "torchvision loops over the images of the batch (RPN, MultiScaleRoIAlign): the batch size is fixed at export",
        source=r"^(rpn|poolers)\.py:",
    ),
    KnownWarning(
        r"Converting a tensor to a Python boolean",
        "torch.nn.functional's argument checks (_verify_batch_size in batch/group norm) branch on sizes only to raise;"
        " the traced path is the one without the error",
        source=r"^functional\.py:",
    ),
    KnownWarning(
        r"Only steps=1 can be constant folded",
        "a strided Slice is left to run at inference instead of being folded; no numeric effect",
    ),
]
