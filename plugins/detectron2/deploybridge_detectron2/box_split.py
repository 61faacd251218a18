"""Rewrite ``detectron2_box_predictor_one_image``: the box predictor's per-image split, gone for one image.

``FastRCNNOutputLayers.predict_boxes`` / ``predict_probs`` (every R-CNN box head, each Cascade stage) end with
``tensor.split([len(p) for p in proposals])``. Traced, each ``len(p)`` is the export image's proposal count, a
Python int, and the ``Split`` node keeps it as a constant. An FPN RPN keeps ``POST_NMS_TOPK_TEST`` = 1000 proposals
on most images, so the constant usually holds; a C4 RPN (one level, fewer anchors) keeps as many as its NMS leaves
(818 on one 192² image, 816 on the next), and ONNX Runtime then fails on every other image ("Cannot split using
values in 'split' attribute"). With one image there is nothing to split: the stand-in returns the whole tensor,
computed as Detectron2 computes it, so the count stays a graph value. More than one image: Detectron2's own code.
"""
from __future__ import annotations

from deploybridge.records import Rewrite

TARGET = "detectron2.modeling.roi_heads.fast_rcnn.FastRCNNOutputLayers"


def make_predict_boxes(original):
    def predict_boxes(self, predictions, proposals):
        if len(proposals) != 1:
            return original(self, predictions, proposals)
        _, deltas = predictions
        return (self.box2box_transform.apply_deltas(deltas, proposals[0].proposal_boxes.tensor),)

    return predict_boxes


def make_predict_probs(original):
    def predict_probs(self, predictions, proposals):
        if len(proposals) != 1:
            return original(self, predictions, proposals)
        import torch.nn.functional as F

        scores, _ = predictions
        return (scores.sigmoid() if self.use_sigmoid_ce else F.softmax(scores, dim=-1),)

    return predict_probs


_COMMON = dict(kind="function", wrap=True, exporters=("legacy",), opsets=(7, 99), families=("detectron2",),
               why="the box predictor splits its results per image with the export image's proposal count as a"
                   " constant (a C4 RPN's count changes with the image); with one image there is nothing to split")

REWRITES = (
    Rewrite(name="detectron2_box_predictor_one_image", target=f"{TARGET}.predict_boxes", replacement=make_predict_boxes,
            **_COMMON),
    Rewrite(name="detectron2_box_probs_one_image", target=f"{TARGET}.predict_probs", replacement=make_predict_probs,
            **_COMMON),
)
