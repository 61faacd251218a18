"""``roi_align_aligned``: torchvision ``roi_align(aligned=True)`` below opset 16, computed exactly.

RoiAlign before opset 16 has no ``coordinate_transformation_mode``: it always
behaves as ``aligned=False`` (no half-pixel offset, boxes smaller than one
feature pixel stretched to one). torchvision's opset-11 symbolic only warns
and exports it anyway: Detectron2's ROIAlignV2 at opset 11 scored 0.05 where
PyTorch scored 0.96 (seed 000). Measured on torch 2.14: max abs error ~2 on
random boxes (tests/rewrites/test_roi_align_aligned.py).

The stand-in computes aligned=True from aligned=False calls that match it
sample for sample:

* boxes at least one feature pixel wide and high: shift by half a pixel;
* a side under one pixel (the unaligned op would stretch it): one box per
  sample column (row), one pixel wide with its single sample at the true
  position, pooled to 1 on that axis;
* ``sampling_ratio = s > 0``: pooled s times finer with one sample per bin,
  then averaged over s x s blocks; ``sampling_ratio = 0`` (adaptive) keeps the
  adaptive grid on full-size sides and, as torchvision does, gives zeros for
  boxes of zero or negative size.

The op runs four times (full, narrow, flat, tiny layouts) and ``where`` picks
per box; everything is ONNX RoiAlign-10 plus elementwise ops.
"""
from __future__ import annotations

from deploybridge.records import Rewrite

WARNING = r"ROIAlign with aligned=True is (only supported in opset >= 16|not supported in ONNX)"


def _samples(start, size, bins: int, grid: int):
    """[K, bins * grid] sample positions along one side, bin by bin, in the kernel's own arithmetic."""
    import torch

    j = torch.arange(bins * grid, device=start.device)
    p = (j // grid).to(start.dtype)[None, :]
    i = (j % grid).to(start.dtype)[None, :]
    step = (size / bins)[:, None]
    return start[:, None] + p * step + (i + 0.5) * step / grid


def aligned_by_unaligned(op, features, rois, scale: float, pooled_h: int, pooled_w: int, sampling_ratio: int):
    import torch
    import torch.nn.functional as F

    k, c = rois.shape[0], features.shape[1]  # c, not -1, in the reshapes: a pyramid level may get no boxes (k == 0)
    g = sampling_ratio if sampling_ratio > 0 else 1
    ratio = 1 if sampling_ratio > 0 else 0
    ph, pw = pooled_h * g, pooled_w * g
    batch = rois[:, 0]
    x1, y1 = rois[:, 1] * scale - 0.5, rois[:, 2] * scale - 0.5
    x2, y2 = rois[:, 3] * scale - 0.5, rois[:, 4] * scale - 0.5
    w, h = x2 - x1, y2 - y1
    cx, cy = _samples(x1, w, pooled_w, g), _samples(y1, h, pooled_h, g)  # [K, pw], [K, ph]

    def run(b, bx1, by1, bx2, by2, out_h, out_w):
        boxes = torch.stack([b, bx1 / scale, by1 / scale, bx2 / scale, by2 / scale], dim=1)
        return op(features, boxes, scale, out_h, out_w, ratio, False)

    def per(values, n):  # [K] -> [K * n], each repeated n times
        return values[:, None].expand(k, n).reshape(-1)

    # a 1-pixel box starting half a pixel before the sample, half a pixel wide: the op widens it to
    # exactly one pixel and samples once, at its centre
    full = run(batch, x1, y1, x2, y2, ph, pw)
    narrow = run(per(batch, pw), cx.reshape(-1) - 0.5, per(y1, pw), cx.reshape(-1), per(y2, pw), ph, 1)
    narrow = narrow.reshape(k, pw, c, ph).permute(0, 2, 3, 1)
    flat = run(per(batch, ph), per(x1, ph), cy.reshape(-1) - 0.5, per(x2, ph), cy.reshape(-1), 1, pw)
    flat = flat.reshape(k, ph, c, pw).permute(0, 2, 1, 3)
    ty = cy[:, :, None].expand(k, ph, pw).reshape(-1)
    tx = cx[:, None, :].expand(k, ph, pw).reshape(-1)
    tiny = run(per(batch, ph * pw), tx - 0.5, ty - 0.5, tx, ty, 1, 1).reshape(k, ph, pw, c).permute(0, 3, 1, 2)

    thin_w, thin_h = (w < 1)[:, None, None, None], (h < 1)[:, None, None, None]
    out = torch.where(thin_w & thin_h, tiny, torch.where(thin_w, narrow, torch.where(thin_h, flat, full)))
    if g > 1:
        out = F.avg_pool2d(out, kernel_size=g, stride=g)
    if sampling_ratio <= 0:  # adaptive grid of ceil(size / bins) <= 0 samples: torchvision returns zeros
        empty = ((w <= 0) | (h <= 0))[:, None, None, None]
        out = torch.where(empty, torch.zeros_like(out), out)
    return out


def make_stand_in(original):
    def roi_align(features, rois, spatial_scale, pooled_height, pooled_width, sampling_ratio, aligned):
        if not aligned:
            return original(features, rois, spatial_scale, pooled_height, pooled_width, sampling_ratio, aligned)
        return aligned_by_unaligned(original, features, rois, spatial_scale, pooled_height, pooled_width, sampling_ratio)

    return roi_align


REWRITE = Rewrite(
    name="roi_align_aligned",
    kind="function",
    target="torch.ops.torchvision.roi_align",
    replacement=make_stand_in,
    wrap=True,
    why="RoiAlign below opset 16 has no half-pixel mode and torchvision exports aligned=True as aligned=False;"
        " computed exactly from aligned=False calls (half-pixel shift, sub-pixel boxes sampled one column at a time)",
    exporters=("legacy",),
    opsets=(11, 15),  # torchvision exports roi_align from opset 11; RoiAlign-16 has coordinate_transformation_mode
    fixes=(WARNING,),
)
