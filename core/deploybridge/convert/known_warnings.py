"""Export warnings from torch and its ONNX exporter that any family can hit, registered by the built-in plugin.

Each entry says why the warning does not change what the artifact computes. A family's own warnings are its plugin's
(``deploybridge_torchvision.known_warnings``, ``deploybridge_mmdet.known_warnings``); a warning a rewrite fixes is
not listed: the rewrite declares it in ``fixes``. Add an entry only with the evidence (a test or a measurement)
named in ``why``.
"""
from __future__ import annotations

from deploybridge.records import KnownWarning

KNOWN_WARNINGS = (
    KnownWarning(
        "legacy_exporter_deprecated", r"legacy TorchScript-based ONNX export|The feature will be removed",
        "torch 2.9+ deprecates the legacy exporter; deploybridge picks it on purpose for models the dynamo"
        " exporter cannot export yet (the reason is in manifest.json: export.reason)",
    ),
    KnownWarning(
        # printed inside torch.jit while torchvision or mmcv import, so a family that never names torchvision sees it
        "jit_script_deprecated", r"`torch\.jit\.script` is deprecated",
        "torchvision and mmcv compile a few helpers with torch.jit.script at import; a deprecation notice, nothing is"
        " exported differently",
    ),
    KnownWarning(
        "interpolate_scale_constant", r"torch\.tensor results are registered as constants|To copy construct from a tensor",
        "F.interpolate with scale_factor makes a tensor of the (constant) scale factor",
        module=r"^torch\.nn\.functional$",
    ),
    KnownWarning(
        "functional_size_checks", r"Converting a tensor to a Python boolean",
        "torch.nn.functional's argument checks (_verify_batch_size in batch/group norm) branch on sizes only to raise;"
        " the traced path is the one without the error",
        module=r"^torch\.nn\.functional$",
    ),
    KnownWarning(
        "strided_slice_not_folded", r"Only steps=1 can be constant folded",
        "a strided Slice is left to run at inference instead of being folded; no numeric effect",
    ),
)
