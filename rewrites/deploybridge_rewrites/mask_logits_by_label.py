"""``mask_logits_by_label``: Mask R-CNN's mask logits computed for each detection's own class only.

torchvision's ``MaskRCNNPredictor`` ends in a 1x1 convolution to one mask per
class (91 for COCO) at 28 x 28, and ``maskrcnn_inference`` then keeps the one of
the detected label and drops the rest: on R50 Mask R-CNN at 320² (100
detections) that convolution is 1.8 GMAC and ~10 ms of ONNX Runtime's run, plus
a sigmoid over all 91 masks, for 1 % of its output (issue 18).

The stand-in, in force only while ``RoIHeads.forward`` traces, has the predictor
stop after its ReLU and computes, per detection, the dot product of the
features with the 1x1 weights of its label, plus that label's bias: one batched
``MatMul`` (``[N, 1, C] x [N, C, 784]``), then the sigmoid of ``N`` masks. The
same values up to summation order. A predictor of another type, training and
eager calls keep torchvision's code.
"""
from __future__ import annotations

from contextlib import contextmanager

from deploybridge.records import Rewrite


@contextmanager
def _instance_forward(module, forward):
    """``module.forward = forward`` on this instance only, removed afterwards."""
    module.forward = forward
    try:
        yield
    finally:
        del module.forward


@contextmanager
def _module_global(module, name: str, value):
    original = getattr(module, name)
    setattr(module, name, value)
    try:
        yield original
    finally:
        setattr(module, name, original)


def logits_of_labels(features, labels, logits_layer):
    """[N, 1, H, W] mask logits of each detection's own label from [N, C, H, W] features and a 1x1 conv."""
    import torch

    weight = logits_layer.weight[:, :, 0, 0][labels]  # [N, C]
    # the count is the -1, the other sizes Python ints: a traced H*W is exported as Reshape(N, C, -1), which ONNX
    # Runtime cannot infer with N = 0 (no detections); an Einsum loses the graph's shapes (If/SplitToSequence
    # upstream, and an Expand in the box pooler then fails on an image without detections; measured)
    channels, height, width = (int(size) for size in features.shape[1:])
    flat = features.reshape(-1, channels, height * width)
    logits = torch.matmul(weight[:, None, :], flat).reshape(-1, 1, height, width)
    if logits_layer.bias is not None:
        logits = logits + logits_layer.bias[labels][:, None, None, None]
    return logits


class _ByLabel:
    """The predictor's body up to its ReLU, and an inference that knows those features."""

    def __init__(self, predictor, original_inference) -> None:
        self.predictor, self.original_inference, self.features = predictor, original_inference, None

    def forward(self, x):
        self.features = self.predictor.relu(self.predictor.conv5_mask(x))
        return self.features

    def inference(self, x, labels):
        import torch

        if x is not self.features:  # not our predictor's output: torchvision's own
            return self.original_inference(x, labels)
        boxes_per_image = [label.shape[0] for label in labels]
        mask_prob = logits_of_labels(x, torch.cat(labels), self.predictor.mask_fcn_logits).sigmoid()
        return mask_prob.split(boxes_per_image, dim=0)


def make_forward(original):
    def forward(self, features, proposals, image_shapes, targets=None):
        import torch
        from torchvision.models.detection import roi_heads
        from torchvision.models.detection.mask_rcnn import MaskRCNNPredictor

        predictor = getattr(self, "mask_predictor", None)
        if not torch.jit.is_tracing() or self.training or type(predictor) is not MaskRCNNPredictor:
            return original(self, features, proposals, image_shapes, targets)
        by_label = _ByLabel(predictor, roi_heads.maskrcnn_inference)
        with _module_global(roi_heads, "maskrcnn_inference", by_label.inference), \
                _instance_forward(predictor, by_label.forward):
            return original(self, features, proposals, image_shapes, targets)

    return forward


REWRITE = Rewrite(
    name="mask_logits_by_label",
    kind="module",
    target="torchvision.models.detection.roi_heads.RoIHeads",
    replacement=make_forward,
    wrap=True,
    why="Mask R-CNN computes a 28x28 mask for every class (a 1x1 conv to 91 channels) and keeps the detected one;"
        " the detected class's logits only, as one batched MatMul",
    exporters=("legacy",),
    opsets=(11, 99),
)
