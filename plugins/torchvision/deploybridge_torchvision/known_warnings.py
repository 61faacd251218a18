"""Export warnings printed by torchvision's detection code that do not change what the artifact computes.

Registered by this plugin (``deploy_register_known_warnings``); each is tied to the torchvision module that prints
it, so the same message from another package's ``_utils.py`` or ``transform.py`` stays ``unknown``.
"""
from __future__ import annotations

from deploybridge.records import KnownWarning

KNOWN_WARNINGS = (
    KnownWarning(
        "torchvision_transform_constants", r"torch\.as_tensor results are registered as constants",
        "torchvision's GeneralizedRCNNTransform turns image_mean/image_std into tensors: they are constants of the model",
        module=r"^torchvision\.models\.detection\.transform$",
    ),
    KnownWarning(
        "torchvision_box_coder_branch", r"Converting a tensor to a Python boolean",
        "torchvision BoxCoder.decode branches on 'any boxes at all'; the traced branch is the one for >= 1 box,"
        " which the RPN's fixed anchor count and its top-k proposals always give",
        module=r"^torchvision\.models\.detection\._utils$",
    ),
    KnownWarning(
        "torchvision_batch_loops", r"Iterating over a tensor|Using len to get tensor shape",
        "torchvision loops over the images of the batch (RPN, MultiScaleRoIAlign): the batch size is fixed at export",
        module=r"^torchvision\.(models\.detection\.rpn|ops\.poolers)$",
    ),
    KnownWarning(
        "torchvision_ssd_fixed_size", r"Iterating over a tensor|Using len to get tensor shape|torch\.tensor results are"
        r" registered as constants|To copy construct from a tensor",
        "SSD/SSDlite are exported only at the size they resize to (300 or 320, deploybridge_torchvision.load refuses"
        " another): the default boxes (DefaultBoxGenerator) and the box rescale factors are that size's, and"
        " postprocess_detections' loop is over the batch, fixed at 1",
        module=r"^torchvision\.models\.detection\.(ssd|anchor_utils|transform)$",
    ),
)
