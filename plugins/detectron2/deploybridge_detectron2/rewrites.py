"""Rewrites for Detectron2's own code: ``detectron2_paste_masks``, ``detectron2_pooler_format`` and
``detectron2_one_image_split``.

``detectron2_paste_masks``: Detectron2's mask pasting as two batched matrix products, at every opset.

Detectron2 pastes masks with ``paste_masks_in_image``, a ``@torch.jit.script_if_tracing`` function: traced, it
becomes a scripted ``If`` (no detections?) around a ``Loop`` over the detections of ``grid_sample`` calls.

* opset < 16: ``grid_sampler`` does not export (GridSample is opset 16), so no Mask R-CNN exports at opset 11;
* opset 16/17: the ``If``'s N == 0 branch returns uint8 and the other bool, and ONNX Runtime refuses to load the
  model (``Type mismatch``; detectron2 issue 4907);
* every opset: the detection count and image size pass through ``int()`` (``_paste_masks_tensor_shape``).

The stand-in (for ``ROIMasks.to_bitmasks``, which detector_postprocess calls) computes what ``grid_sample``
(bilinear, zero padding, ``align_corners=False``) computes on Detectron2's grid, for every detection at once.
That sample is separable: pixel (y, x) of detection n is ``sum_ij Wy[n, y, i] * mask[n, i, j] * Wx[n, x, j]``,
where row y of ``Wy`` holds the two bilinear weights of the mask row its grid coordinate falls between (taps
outside the mask are the zero padding), so ``image = Wy @ mask @ Wx^T``. Pixels outside the box grown by one
pixel are zero, as in Detectron2's CPU path (``skip_empty``). Then ``>= threshold``. MatMul, Floor, Equal, Where
and elementwise ops only: opset 11 and up, no If, no Loop, and the image size stays a graph value.

``detectron2_pooler_format``: ROIPooler prefixes each box with its image's index through a scripted
``repeat_interleave`` (``_convert_boxes_to_pooler_format``), which the legacy exporter cannot translate at opset 11
("len() of a 0-d tensor (Occurred when translating repeat_interleave)"). The batch size is fixed at export, so the
index column is one constant per image's boxes: the same tensor, no scripted code.
"""
from __future__ import annotations

from deploybridge.records import Rewrite


def axis_weights(start, end, size, src: int):
    """[N, size, src]: the bilinear weights grid_sample gives mask taps 0..src-1 at image pixels 0..size-1 along one
    axis, for boxes spanning [start, end] (float), in Detectron2's arithmetic (_do_paste_mask)."""
    import torch

    pixel = torch.arange(size, device=start.device, dtype=torch.float32)
    grid = (pixel[None, :] + 0.5 - start[:, None]) / (end - start)[:, None] * 2 - 1  # Detectron2's grid
    source = ((grid + 1) * src - 1) / 2  # grid_sampler_compute_source_index, align_corners=False
    low = source.floor()
    frac = source - low
    taps = torch.arange(src, device=start.device, dtype=torch.float32)[None, None, :]
    zero = torch.zeros((), dtype=torch.float32, device=start.device)
    weights = (torch.where(taps == low[..., None], 1.0 - frac[..., None], zero)
               + torch.where(taps == low[..., None] + 1, frac[..., None], zero))
    # skip_empty on CPU: only pixels from floor(start) - 1 to ceil(end) + 1 (exclusive) are pasted
    inside = (pixel[None, :] >= start.floor()[:, None] - 1) & (pixel[None, :] < end.ceil()[:, None] + 1)
    return torch.where(inside[..., None], weights, zero)


def paste_all(masks, boxes, height, width, threshold: float = 0.5):
    """masks [N, M, M] probabilities, boxes [N, 4] (x1, y1, x2, y2) -> [N, height, width] as paste_masks_in_image."""
    import torch

    src = masks.shape[-1]
    mask = masks.to(torch.float32)
    boxes = boxes.to(torch.float32)
    rows = axis_weights(boxes[:, 1], boxes[:, 3], height, src)  # [N, H, M]
    cols = axis_weights(boxes[:, 0], boxes[:, 2], width, src)  # [N, W, M]
    image = torch.matmul(torch.matmul(rows, mask), cols.transpose(1, 2))
    if threshold >= 0:
        return image >= threshold
    return (image * 255).to(torch.uint8)  # Detectron2's "soft" masks for threshold < 0


def make_to_bitmasks(original):
    def to_bitmasks(self, boxes, height, width, threshold=0.5):
        from detectron2.structures import BitMasks

        return BitMasks(paste_all(self.tensor, boxes.tensor, height, width, threshold))

    return to_bitmasks


PASTE_MASKS = Rewrite(
    name="detectron2_paste_masks",
    kind="function",
    target="detectron2.structures.masks.ROIMasks.to_bitmasks",
    replacement=make_to_bitmasks,
    wrap=True,
    why="Detectron2's scripted paste_masks_in_image needs GridSample (opset 16) and its N == 0 branch returns uint8"
        " where the other returns bool (ONNX Runtime refuses the model, detectron2#4907); pasted as two MatMuls instead",
    exporters=("legacy",),
    opsets=(11, 99),
    families=("detectron2",),
    fixes=(),
)

def pooler_format(box_lists):
    """convert_boxes_to_pooler_format: [M, 5] (image index, x0, y0, x1, y1) without repeat_interleave."""
    import torch

    columns = [torch.full_like(boxes.tensor[:, :1], float(index)) for index, boxes in enumerate(box_lists)]
    return torch.cat([torch.cat(columns, dim=0), torch.cat([b.tensor for b in box_lists], dim=0)], dim=1)


POOLER_FORMAT = Rewrite(
    name="detectron2_pooler_format",
    kind="function",
    target="detectron2.modeling.poolers.convert_boxes_to_pooler_format",
    replacement=pooler_format,
    why="ROIPooler's scripted repeat_interleave of image indices does not export at opset 11; the batch is fixed at"
        " export, so each image's boxes get a constant index column",
    exporters=("legacy",),
    opsets=(11, 99),
    families=("detectron2",),
)

def make_mask_inference(original):
    def mask_rcnn_inference(pred_mask_logits, pred_instances):
        if len(pred_instances) != 1:
            return original(pred_mask_logits, pred_instances)
        import torch

        (instances,) = pred_instances
        if pred_mask_logits.shape[1] != 1:  # class-specific masks: the predicted class's channel
            picked = torch.arange(pred_mask_logits.shape[0], device=pred_mask_logits.device)
            pred_mask_logits = pred_mask_logits[picked, instances.pred_classes][:, None]
        instances.pred_masks = pred_mask_logits.sigmoid()

    return mask_rcnn_inference


def make_keypoint_inference(original):
    def keypoint_rcnn_inference(pred_keypoint_logits, pred_instances):
        if len(pred_instances) != 1:
            return original(pred_keypoint_logits, pred_instances)
        import torch

        from deploybridge_detectron2 import keypoint_export

        (instances,) = pred_instances
        logits = pred_keypoint_logits.detach()
        find = keypoint_export.scripted() if torch.jit.is_tracing() else keypoint_export.heatmaps_to_xy_score
        instances.pred_keypoints = find(logits, instances.pred_boxes.tensor.detach())
        instances.pred_keypoint_heatmaps = logits

    return keypoint_rcnn_inference


ONE_IMAGE_SPLIT = dict(kind="function", wrap=True, exporters=("legacy",), opsets=(11, 99), families=("detectron2",),
                       why="the mask/keypoint heads split their results per image with the export image's detection"
                           " count as a constant; with one image there is nothing to split")

REWRITES = (PASTE_MASKS, POOLER_FORMAT,
            Rewrite(name="detectron2_one_image_split", target="detectron2.modeling.roi_heads.mask_head.mask_rcnn_inference",
                    replacement=make_mask_inference, **ONE_IMAGE_SPLIT),
            Rewrite(name="detectron2_keypoint_inference", replacement=make_keypoint_inference,
                    target="detectron2.modeling.roi_heads.keypoint_head.keypoint_rcnn_inference", **ONE_IMAGE_SPLIT))
