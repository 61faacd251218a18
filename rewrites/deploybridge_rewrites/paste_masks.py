"""``paste_masks``: torchvision's mask pasting as two batched matrix products, no Loop.

While tracing, torchvision pastes masks with ``_onnx_paste_masks_in_image_loop``,
a scripted ``for`` loop whose carried tensor grows by ``Concat`` (issue 18):

* OpenVINO refuses the exported ``Loop`` ("Accessing out-of-range dimension"),
  also in a bare ``torch.onnx.export``;
* ONNX Runtime runs it one detection at a time (10 % of R50 Mask R-CNN at 320²,
  1,634 Concat calls) and warns that ``res_append``'s declared shape is wrong.

The stand-in computes what eager ``paste_mask_in_image`` computes for every
detection at once. Per box, the bilinear resize (``align_corners=False``) of the
padded ``S x S`` mask to the box's ``h x w`` followed by pasting at the box
corner is, at each image pixel, a separable bilinear sample of the mask:
``image = Wy @ mask @ Wx^T``, where row ``y`` of ``Wy`` (``[H, S]``) holds the two
interpolation weights torch's kernel uses for box row ``y - y1`` (zero outside
the box) and ``Wx`` likewise for columns. Boxes are expanded and truncated by
torchvision's own ``expand_masks`` / ``expand_boxes``, as its export does.
Everything is MatMul, Equal, Where and elementwise ops; zero detections give
``[0, 1, H, W]``.
"""
from __future__ import annotations

from deploybridge.records import Rewrite


def resize_weights(start, end, size, src: int):
    """[N, size, src] weights: row p samples the mask for image pixel p of a box spanning [start, end] (inclusive,
    integer pixels), as torch's bilinear kernel (align_corners=False) resized the mask to the box's length."""
    import torch

    span = end - start + 1  # eager: pixels start..end get resized rows 0..span-1
    length = span.clamp(min=1).to(torch.float32)  # eager: max(int(end - start + 1), 1)
    local = torch.arange(size, device=start.device)[None, :] - start[:, None]  # [N, size] int64
    inside = (local >= 0) & (local < span[:, None])
    # area_pixel_compute_source_index: max(scale * (dst + 0.5) - 0.5, 0) with scale = src / length
    scale = float(src) / length
    real = ((local.to(torch.float32) + 0.5) * scale[:, None] - 0.5).clamp(min=0.0)
    low = real.floor()
    high = (low + 1).clamp(max=float(src - 1))
    frac = (real - low).clamp(0.0, 1.0)
    taps = torch.arange(src, device=start.device, dtype=torch.float32)[None, None, :]
    zero = torch.zeros((), dtype=torch.float32, device=start.device)
    weights = (torch.where(taps == low[..., None], 1.0 - frac[..., None], zero)
               + torch.where(taps == high[..., None], frac[..., None], zero))  # high == low at the edge: weight 1
    return torch.where(inside[..., None], weights, zero)


def paste_all(masks, boxes, im_h, im_w):
    """masks [N, 1, S, S] (already padded), boxes [N, 4] int64 (already expanded) -> [N, 1, im_h, im_w]."""
    import torch

    src = masks.shape[-1]
    mask = masks[:, 0].to(torch.float32)
    rows = resize_weights(boxes[:, 1], boxes[:, 3], im_h, src)  # [N, H, S]
    cols = resize_weights(boxes[:, 0], boxes[:, 2], im_w, src)  # [N, W, S]
    # (rows @ mask) first: N*H*S*S, then the [N, H, S] x [N, S, W] product that writes each pixel once
    return torch.matmul(torch.matmul(rows, mask), cols.transpose(1, 2))[:, None]


def vectorised_paste(masks, boxes, img_shape, padding: int = 1):
    import torch
    from torchvision.models.detection import roi_heads

    masks, scale = roi_heads.expand_masks(masks, padding=padding)
    boxes = roi_heads.expand_boxes(boxes, scale).to(dtype=torch.int64)
    im_h, im_w = img_shape
    return paste_all(masks, boxes, im_h, im_w)  # ints, or traced sizes under a dynamic export


def make_stand_in(original):
    def paste_masks_in_image(masks, boxes, img_shape, padding=1):
        import torch

        if not torch.jit.is_tracing():  # eager calls (the reference run) keep torchvision's own code
            return original(masks, boxes, img_shape, padding)
        return vectorised_paste(masks, boxes, img_shape, padding)

    return paste_masks_in_image


REWRITE = Rewrite(
    name="paste_masks",
    kind="function",
    # transform.py imported the function by name: this is the name GeneralizedRCNNTransform.postprocess calls
    target="torchvision.models.detection.transform.paste_masks_in_image",
    replacement=make_stand_in,
    wrap=True,
    why="torchvision pastes masks in a Loop with a growing Concat: OpenVINO refuses it, ONNX Runtime runs it one"
        " detection at a time; the same bilinear paste for all detections as two batched MatMuls",
    exporters=("legacy",),
    opsets=(11, 99),
)
