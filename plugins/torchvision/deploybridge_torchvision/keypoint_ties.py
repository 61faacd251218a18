"""Keypoint R-CNN's ties (``LoadedModel.at_tie``): the keypoints whose heatmap has a second peak as high as the first.

A keypoint is the argmax of its heatmap (56 x 56 logits, upsampled bicubically to the box). Where a heatmap has two
peaks more than a pixel apart whose values differ by less than the tie margin (twice the heatmap values' noise-derived
bound), two correct runtimes may each pick a different peak: random-weight heads have such near-flat maps, and
OpenVINO on one thread moved one keypoint 5.91 px at 160² while every value stayed within tolerance. The evidence
comes from the reference run alone (torchvision's own heatmaps), so a backend that moves keypoints elsewhere fails.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np


def at_tie(wrapper):
    """``LoadedModel.at_tie`` for a Keypoint R-CNN wrapped by :class:`~deploybridge_torchvision.wrappers.Detector`."""

    def find(inputs: tuple, margins: Mapping[str, float], px: float) -> dict[str, np.ndarray]:
        maps, rois, boxes = _heatmaps(wrapper, inputs)
        if maps is None or not len(rois):
            return {"keypoints": np.zeros((len(boxes), 0), bool)}
        # rois are in the model's resized frame; keypoints come out in the input's
        widths = (rois[:, 2] - rois[:, 0]).clamp(min=1)
        scale = float(((boxes[:, 2] - boxes[:, 0]).clamp(min=1) / widths).max()) if len(boxes) == len(rois) else 1.0
        return {"keypoints": runner_up_peaks(maps, rois, margins.get("keypoints_scores", 0.0), px / scale)}

    return find


def _heatmaps(wrapper, inputs: tuple):
    """One reference run with torchvision's heatmaps_to_keypoints watched: (heatmaps, their boxes, output boxes)."""
    import torch
    from torchvision.models.detection import roi_heads

    seen = []
    real = roi_heads.heatmaps_to_keypoints

    def watch(maps, rois):
        seen.append((maps.detach(), rois.detach()))
        return real(maps, rois)

    roi_heads.heatmaps_to_keypoints = watch
    try:
        with torch.no_grad():
            out = wrapper(*inputs)
    finally:
        roi_heads.heatmaps_to_keypoints = real
    if not seen:
        return None, [], out[0]
    return torch.cat([m for m, _ in seen]), torch.cat([r for _, r in seen]), out[0]


def runner_up_peaks(maps, rois, margin: float, px: float) -> np.ndarray:
    """N x K: whether keypoint k of detection n has a heatmap value within ``margin`` of its maximum more than ``px``
    (in the rois' frame) from the argmax, on the map torchvision itself takes the argmax of (bicubic, box-sized)."""
    import torch
    import torch.nn.functional as F

    n, k = maps.shape[:2]
    tied = np.zeros((n, k), bool)
    widths, heights = (rois[:, 2] - rois[:, 0]).clamp(min=1), (rois[:, 3] - rois[:, 1]).clamp(min=1)
    for i in range(n):
        h, w = int(heights[i].ceil()), int(widths[i].ceil())
        roi_map = F.interpolate(maps[i][:, None], size=(h, w), mode="bicubic", align_corners=False)[:, 0].reshape(k, -1)
        best, pos = roi_map.max(dim=1)
        ys, xs = torch.div(torch.arange(h * w), w, rounding_mode="floor"), torch.arange(h * w) % w
        dx = (xs[None, :] - (pos % w)[:, None]) * float(widths[i] / w)
        dy = (ys[None, :] - torch.div(pos, w, rounding_mode="floor")[:, None]) * float(heights[i] / h)
        far = dx.square() + dy.square() > px * px
        tied[i] = ((roi_map >= best[:, None] - margin) & far).any(dim=1).numpy()
    return tied
