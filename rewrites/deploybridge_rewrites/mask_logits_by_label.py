"""``mask_logits_by_label``: Mask R-CNN's mask logits computed for each detection's own class only.

torchvision's ``MaskRCNNPredictor`` is a 2x2 stride-2 ``ConvTranspose2d`` to
28 x 28, a ReLU and a 1x1 convolution to one mask per class (91 for COCO);
``maskrcnn_inference`` then keeps the detected label's mask and drops the rest.
On R50 Mask R-CNN at 320² (100 detections) ONNX Runtime spends 42 ms in the
deconvolution (its col2im path), 5 ms in the separate ReLU, and ~10 ms in the
1x1 convolution plus a sigmoid over all 91 masks, for 1 % of what they compute
(issue 18).

The stand-in, in force only while ``RoIHeads.forward`` traces:

* the deconvolution's 2x2 output blocks do not overlap, so it is a 1x1 Conv to
  4 x 256 channels with the ReLU fused (ReLU commutes with moving pixels); the
  28 x 28 feature layout is never built;
* per detection, the dot product of those features with the 1x1 weights of its
  label, plus that label's bias: one batched ``MatMul`` (``[N, 1, C] x [N, C,
  4 * 196]``); only the one-channel logits are moved to 28 x 28, then the
  sigmoid of ``N`` masks.

The same values up to summation order. A predictor of another type, another
deconvolution (kept as it is), training and eager calls keep torchvision's code.
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


def pointwise_deconv(deconv):
    """(weight, bias) of a 1x1 Conv2d computing a 2x2, stride-2 ConvTranspose2d with its outputs' 2x2 blocks as
    channels (channel o * 4 + a * 2 + b holds output pixel (2i + a, 2j + b) of channel o), or None for another kind.
    The blocks do not overlap, so each output pixel is one dot product over the input channels at one position."""
    if (tuple(deconv.kernel_size), tuple(deconv.stride), tuple(deconv.padding), tuple(deconv.output_padding),
            tuple(deconv.dilation), deconv.groups) != ((2, 2), (2, 2), (0, 0), (0, 0), (1, 1), 1):
        return None
    inputs, outputs = deconv.weight.shape[:2]  # ConvTranspose2d weight: [in, out, 2, 2]
    weight = deconv.weight.permute(1, 2, 3, 0).reshape(outputs * 4, inputs, 1, 1)
    bias = deconv.bias[:, None].expand(outputs, 4).reshape(-1) if deconv.bias is not None else None
    return weight, bias


def logits_of_labels(features, labels, logits_layer, blocks: bool = False):
    """[N, 1, H, W] mask logits of each detection's own label from [N, C, H, W] features and a 1x1 conv; with
    ``blocks``, features are [N, 4C, H/2, W/2] as ``pointwise_deconv`` lays them out."""
    import torch

    weight = logits_layer.weight[:, :, 0, 0][labels]  # [N, C]
    # the count is the -1, the other sizes Python ints: a traced H*W is exported as Reshape(N, C, -1), which ONNX
    # Runtime cannot infer with N = 0 (no detections); an Einsum loses the graph's shapes (If/SplitToSequence
    # upstream, and an Expand in the box pooler then fails on an image without detections; measured)
    channels = int(weight.shape[1])
    height, width = (int(size) for size in features.shape[2:])
    flat = features.reshape(-1, channels, int(features.shape[1]) // channels * height * width)
    logits = torch.matmul(weight[:, None, :], flat)  # [N, 1, (a, b,) i, j]
    if blocks:  # (a, b, i, j) -> (i, a, j, b): pixel (2i + a, 2j + b); only the one-channel logits are moved
        logits = logits.reshape(-1, 2, 2, height, width).permute(0, 3, 1, 4, 2)
        height, width = 2 * height, 2 * width
    logits = logits.reshape(-1, 1, height, width)
    if logits_layer.bias is not None:
        logits = logits + logits_layer.bias[labels][:, None, None, None]
    return logits


class _ByLabel:
    """The predictor's body up to its ReLU, and an inference that knows those features."""

    def __init__(self, predictor, original_inference) -> None:
        self.predictor, self.original_inference, self.features = predictor, original_inference, None
        self.pointwise = pointwise_deconv(predictor.conv5_mask)

    def forward(self, x):
        import torch.nn.functional as F

        if self.pointwise is None:
            self.features = self.predictor.relu(self.predictor.conv5_mask(x))
        else:  # ReLU commutes with moving pixels: fused into the 1x1 Conv, and the 28x28 layout is never built
            self.features = F.relu(F.conv2d(x, *self.pointwise))
        return self.features

    def inference(self, x, labels):
        import torch

        if x is not self.features:  # not our predictor's output: torchvision's own
            return self.original_inference(x, labels)
        boxes_per_image = [label.shape[0] for label in labels]
        logits = logits_of_labels(x, torch.cat(labels), self.predictor.mask_fcn_logits, self.pointwise is not None)
        return logits.sigmoid().split(boxes_per_image, dim=0)


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
        " the detected class's logits only, as one batched MatMul, after its 2x2 deconvolution as a 1x1 Conv",
    exporters=("legacy",),
    opsets=(11, 99),
)
