"""Small torchvision models for the shapes dataset: the embedded default.

Real torchvision detection classes (MaskRCNN, RetinaNet) on a narrow CNN +
FPN backbone, and a semantic segmenter (LRASPP) on the same CNN, so a
checkpoint is a few MB and trains on 2 CPU cores in minutes, yet exports
through the same code paths as the full-size models.
"""
from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn
from functools import partial

from torchvision.models.detection import MaskRCNN, RetinaNet
from torchvision.models.detection.retinanet import RetinaNetHead
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
from torchvision.models.segmentation import LRASPP
from torchvision.models.detection.rpn import RPNHead
from torchvision.ops import FeaturePyramidNetwork, MultiScaleRoIAlign
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

NUM_CLASSES = 4  # background + circle, square, triangle
WIDTHS = (16, 32, 64, 128)
FPN_CHANNELS = 64
ANCHOR_SIZES = (16, 32, 64, 128, 256)


def _conv(cin: int, cout: int, stride: int, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, dilation, dilation, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class TinyFPNBackbone(nn.Module):
    """Four stages at strides 4, 8, 16, 32 and an FPN with a max-pool level: five maps named "0".."pool"."""

    def __init__(self, widths=WIDTHS, out_channels: int = FPN_CHANNELS) -> None:
        super().__init__()
        self.stem = nn.Sequential(_conv(3, widths[0], 2), _conv(widths[0], widths[0], 2))
        stages, cin = [], widths[0]
        for i, w in enumerate(widths):
            stages.append(nn.Sequential(_conv(cin, w, 1 if i == 0 else 2), _conv(w, w, 1)))
            cin = w
        self.stages = nn.ModuleList(stages)
        self.fpn = FeaturePyramidNetwork(list(widths), out_channels, extra_blocks=LastLevelMaxPool())
        self.out_channels = out_channels

    def forward(self, x: torch.Tensor) -> "OrderedDict[str, torch.Tensor]":
        x = self.stem(x)
        feats = OrderedDict()
        for i, stage in enumerate(self.stages):
            x = stage(x)
            feats[str(i)] = x
        return self.fpn(feats)


def shapes_maskrcnn(size: int = 192, **kwargs) -> MaskRCNN:
    backbone = TinyFPNBackbone()
    c = backbone.out_channels
    anchors = AnchorGenerator(tuple((s,) for s in ANCHOR_SIZES), ((0.5, 1.0, 2.0),) * len(ANCHOR_SIZES))
    options = dict(
        min_size=size, max_size=size,
        rpn_anchor_generator=anchors, rpn_head=RPNHead(c, 3),
        rpn_pre_nms_top_n_train=600, rpn_post_nms_top_n_train=300,
        rpn_pre_nms_top_n_test=300, rpn_post_nms_top_n_test=100,
        box_roi_pool=MultiScaleRoIAlign(["0", "1", "2", "3"], 7, 2),
        box_head=TwoMLPHead(c * 7 * 7, 256), box_predictor=FastRCNNPredictor(256, NUM_CLASSES),
        box_batch_size_per_image=128, box_detections_per_img=50,
        mask_roi_pool=MultiScaleRoIAlign(["0", "1", "2", "3"], 14, 2),
        mask_head=MaskRCNNHeads(c, [c, c, c, c], 1), mask_predictor=MaskRCNNPredictor(c, c, NUM_CLASSES),
    )
    options.update(kwargs)
    return MaskRCNN(backbone, num_classes=None, **options)


def shapes_retinanet(size: int = 192, **kwargs) -> RetinaNet:
    backbone = TinyFPNBackbone()
    anchors = AnchorGenerator(
        tuple((s, int(s * 2 ** (1 / 3)), int(s * 2 ** (2 / 3))) for s in ANCHOR_SIZES),
        ((0.5, 1.0, 2.0),) * len(ANCHOR_SIZES),
    )
    # GroupNorm in the head (as torchvision's retinanet v2): without it the head trains far slower from scratch
    head = RetinaNetHead(backbone.out_channels, anchors.num_anchors_per_location()[0], NUM_CLASSES,
                         norm_layer=partial(nn.GroupNorm, 16))
    options = dict(min_size=size, max_size=size, anchor_generator=anchors, head=head, detections_per_img=50, topk_candidates=300)
    options.update(kwargs)
    return RetinaNet(backbone, num_classes=None, **options)


class TinyDilatedBackbone(nn.Module):
    """TinyFPNBackbone's stem and stages (the same parameter names: it can start from a shapes detector's) without
    the FPN, the last two stages dilated instead of strided (output stride 8, as torchvision's segmentation backbones
    replace strides with dilation): {"low": stride 4, "high": stride 8}, what LRASPP takes."""

    def __init__(self, widths=WIDTHS) -> None:
        super().__init__()
        self.stem = nn.Sequential(_conv(3, widths[0], 2), _conv(widths[0], widths[0], 2))
        # (stride, dilation) of each stage's two convolutions: strides 4, 8, then 8 with dilation 2 and 4
        plan = (((1, 1), (1, 1)), ((2, 1), (1, 1)), ((1, 1), (1, 2)), ((1, 2), (1, 4)))
        stages, cin = [], widths[0]
        for w, ((s1, d1), (s2, d2)) in zip(widths, plan):
            stages.append(nn.Sequential(_conv(cin, w, s1, d1), _conv(w, w, s2, d2)))
            cin = w
        self.stages = nn.ModuleList(stages)

    def forward(self, x: torch.Tensor) -> "OrderedDict[str, torch.Tensor]":
        x = self.stages[0](self.stem(x))
        low = x
        for stage in self.stages[1:]:
            x = stage(x)
        return OrderedDict(low=low, high=x)


def shapes_segmenter(size: int = 192, inter_channels: int = 64, **kwargs) -> LRASPP:
    """torchvision's LRASPP head on TinyDilatedBackbone: N x 4 x H x W class scores (background, circle, square,
    triangle) at the input's size. Fully convolutional: ``size`` is not baked in."""
    return LRASPP(TinyDilatedBackbone(), WIDTHS[0], WIDTHS[-1], NUM_CLASSES, inter_channels, **kwargs)


BUILDERS = {"shapes_maskrcnn": shapes_maskrcnn, "shapes_retinanet": shapes_retinanet, "shapes_segmenter": shapes_segmenter}


def validation_ap(model: nn.Module, size: int) -> dict[str, float]:
    """Box (and mask) AP@[.5:.95] of a shapes detector on the shapes validation split."""
    import tempfile
    from pathlib import Path

    from deploybridge.evaluation import ap_delta
    from deploybridge.evaluation.datasets.shapes import validation_split
    from deploybridge_torchvision.wrappers import Detector

    masks = isinstance(model, MaskRCNN)
    names = ["boxes", "scores", "labels"] + (["masks"] if masks else [])
    was_training = model.training
    model.eval()
    with tempfile.TemporaryDirectory() as tmp:
        ann = validation_split(Path(tmp), size=size)
        result = ap_delta.evaluate(ann, {"pytorch": ap_delta.torch_runner(Detector(model, masks), names)}, (1, 3, size, size), masks)
    model.train(was_training)
    return result.ap["pytorch"]
