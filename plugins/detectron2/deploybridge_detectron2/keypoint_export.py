"""Detectron2's ``heatmaps_to_keypoints`` in a form the legacy exporter writes at opset 11 and up.

Detectron2 scripts it while tracing (one bicubic upsampling per detection, to the box's own size, so it must be a
loop); its ``roi_map_scores[keypoints_idx, y_int, x_int]`` on a tensor of unknown rank does not export ("ONNX export
of operator aten::index, operator of advanced indexing on tensor of unknown rank"). Here the same loop, the same
upsampling and argmax, without advanced indexing:

* the score at the argmax, ``exp(roi_map[argmax] - max) / sum(exp(maps[i] - max))``, is ``1 / sum(exp(maps[i] -
  max))``, since ``roi_map[argmax] == max`` (Detectron2 asserts it), so nothing is looked up by index;
* only x, y and score are written (the wrapper's ``pred_keypoints``): the logit column is dropped;
* the bicubic upsampling is two matrix products with torch's own cubic weights (A = -0.75, half-pixel source
  index, taps clamped at the border), not ``F.interpolate``: inside the Loop the exporter writes a Resize whose
  ``sizes`` has no elements and ONNX Runtime refuses the model.

Imported only by the ``detectron2_keypoints_loop`` stand-in (``rewrites.py``); torch.jit.script compiles it.
"""
from __future__ import annotations

import torch


def cubic_weights(out_size: int, in_size: int) -> torch.Tensor:
    """[out_size, in_size]: row d holds the weights upsample_bicubic2d (align_corners=False) gives each input tap for
    output index d; taps past the border are clamped onto the edge, as the kernel reads them."""
    a = -0.75
    real = (float(in_size) / float(out_size)) * (torch.arange(out_size, dtype=torch.float32) + 0.5) - 0.5
    low = real.floor()
    t = real - low
    near, far = t, 1.0 - t
    coefficients = (((a * (t + 1) - 5 * a) * (t + 1) + 8 * a) * (t + 1) - 4 * a,
                    ((a + 2) * near - (a + 3)) * near * near + 1,
                    ((a + 2) * far - (a + 3)) * far * far + 1,
                    ((a * (2 - t) - 5 * a) * (2 - t) + 8 * a) * (2 - t) - 4 * a)
    taps = torch.arange(in_size, dtype=torch.float32)[None, :]
    zero = torch.zeros(1, 1, dtype=torch.float32)
    # unrolled (no list of tensors, no inner loop: scripted, they become a nested ONNX Loop over a Sequence)
    weights = torch.where(taps == (low - 1.0).clamp(0.0, float(in_size - 1))[:, None], coefficients[0][:, None], zero)
    weights = weights + torch.where(taps == low.clamp(0.0, float(in_size - 1))[:, None], coefficients[1][:, None], zero)
    weights = weights + torch.where(taps == (low + 1.0).clamp(0.0, float(in_size - 1))[:, None], coefficients[2][:, None], zero)
    weights = weights + torch.where(taps == (low + 2.0).clamp(0.0, float(in_size - 1))[:, None], coefficients[3][:, None], zero)
    return weights


def heatmaps_to_xy_score(maps: torch.Tensor, rois: torch.Tensor) -> torch.Tensor:
    """maps [R, K, S, S] logits, rois [R, 4] boxes -> [R, K, 3] (x, y, score) as Detectron2's columns 0, 1, 3."""
    offset_x = rois[:, 0]
    offset_y = rois[:, 1]
    widths = (rois[:, 2] - rois[:, 0]).clamp(min=1)
    heights = (rois[:, 3] - rois[:, 1]).clamp(min=1)
    widths_ceil = widths.ceil()
    heights_ceil = heights.ceil()
    num_keypoints = maps.shape[1]
    xy_preds = maps.new_zeros(rois.shape[0], num_keypoints, 3)
    width_corrections = widths / widths_ceil
    height_corrections = heights / heights_ceil
    for i in range(rois.shape[0]):
        # int() of an int64 element: the exporter writes int() of a float element without a Cast (ORT: "Concat bound
        # to different types")
        rows = cubic_weights(int(heights_ceil[i].long()), maps.shape[2])
        cols = cubic_weights(int(widths_ceil[i].long()), maps.shape[3])
        # batched on both sides (bmm): a 2-D x 3-D broadcast MatMul in the scripted Loop fails in ONNX Runtime
        rows = rows.unsqueeze(0).expand(num_keypoints, rows.shape[0], rows.shape[1])
        cols = cols.t().unsqueeze(0).expand(num_keypoints, cols.shape[1], cols.shape[0])
        roi_map = torch.bmm(torch.bmm(rows, maps[i]), cols)  # [K, h, w]
        flat = roi_map.reshape(num_keypoints, -1)
        max_score = flat.max(1)[0].reshape(num_keypoints, 1, 1)
        score = 1.0 / (maps[i] - max_score).exp().sum((1, 2))
        pos = flat.argmax(1)
        w = roi_map.shape[2]
        x_int = pos % w
        y_int = (pos - x_int) // w
        x = (x_int.float() + 0.5) * width_corrections[i] + offset_x[i]
        y = (y_int.float() + 0.5) * height_corrections[i] + offset_y[i]
        xy_preds[i] = torch.stack([x, y, score], dim=1)
    return xy_preds


def scripted():
    """The function scripted (while tracing; Detectron2 does the same with its own)."""
    return torch.jit.script(heatmaps_to_xy_score)
