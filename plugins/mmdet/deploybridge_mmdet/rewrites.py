"""Rewrites the mmdet plugin owns (listed by `deploy rewrites` with owner ``mmdet``)."""
from __future__ import annotations

from deploybridge.records import Rewrite

from deploybridge_mmdet import coder_rewrites

CODER = "mmdet.models.task_modules.coders.delta_xywh_bbox_coder"
MMDET_FAMILIES = ("mmdet", "solo")  # the families that run MMDetection code


def use_delta2bbox(original):
    """While exporting, DeltaXYWHBBoxCoder.decode calls onnx_delta2bbox, which imports ``mmdet.core`` (removed in
    MMDetection 3): the export fails. delta2bbox, the function it uses outside export, computes the same boxes, but
    clips them with in-place clamps on strided views (``bboxes[..., 0::2].clamp_``), which the legacy exporter drops
    (measured: boxes off by up to 50 px on RetinaNet). So: delta2bbox without clipping, then an out-of-place clip."""
    import importlib

    delta2bbox = importlib.import_module(CODER).delta2bbox

    def decode(rois, deltas, means=(0.0, 0.0, 0.0, 0.0), stds=(1.0, 1.0, 1.0, 1.0), max_shape=None, wh_ratio_clip=16 / 1000,
               clip_border=True, add_ctr_clamp=False, ctr_clamp=32):
        import torch

        boxes = delta2bbox(rois, deltas, means, stds, None, wh_ratio_clip, False, add_ctr_clamp, ctr_clamp)
        if not clip_border or max_shape is None or boxes.numel() == 0:
            return boxes
        height, width = max_shape[0], max_shape[1]
        x, y = boxes[..., 0::2].clamp(min=0, max=width), boxes[..., 1::2].clamp(min=0, max=height)
        return torch.stack([x, y], dim=-1).flatten(-2)  # back to x1, y1, x2, y2 (, ...) order

    return decode


def legacy_exporter(original):
    """MMDeploy 1.3.1 calls torch.onnx.export without ``dynamo=``; torch 2.14 then takes the dynamo exporter, which
    rejects MMDeploy's symbolic rewrites. The TorchScript-based exporter it was written for, as before."""

    def export(*args, **kwargs):
        kwargs.setdefault("dynamo", False)
        return original(*args, **kwargs)

    return export


def fx_wrap_list(original):
    """MMDeploy 1.3.1 imported torch.fx's ``_wrapped_fns_to_patch`` when it was a list of (globals, name); it is now a
    dict keyed by (id(globals), name), and MMDeploy's rewrite context pops it with ``pop(-1)`` (KeyError: -1) when a
    function got fx-wrapped during the export. While MMDeploy runs it sees a list of the same pairs; torch's own dict
    is not touched."""
    return [(globals_, name) for (_, name), globals_ in original.items()] if isinstance(original, dict) else original


def roi_align_forward(self, input, rois):
    """mmcv's RoIAlign exports through its own symbolic: opset-10 RoiAlign after a Squeeze with an ``axes``
    attribute, invalid from opset 13 (the model fails the ONNX checker), and "aligned" as a box shift that
    RoiAlign-10's one-pixel minimum box size undoes for small boxes. While exporting, average-mode RoIAlign
    calls torchvision's roi_align (what the mmcv layer computes with anyway): RoiAlign-16 with half_pixel from
    opset 16, and the built-in roi_align_aligned rewrite below it."""
    from torchvision.ops import roi_align

    if self.pool_mode != "avg":
        raise NotImplementedError("RoIAlign with pool_mode='max' has no torchvision equivalent")
    return roi_align(input, rois, self.output_size, self.spatial_scale, self.sampling_ratio, self.aligned)


MMDEPLOY_REWRITER = "mmdeploy.core.rewriters.function_rewriter"

REWRITES = [
    Rewrite(name="mmcv_roi_align_torchvision", kind="module", target="mmcv.ops.roi_align.RoIAlign",
            replacement=roi_align_forward,
            why="mmcv's RoIAlign symbolic writes Squeeze with an axes attribute (invalid from opset 13) and emulates"
                " aligned=True inexactly; torchvision's roi_align exports RoiAlign-16 (and roi_align_aligned below 16);"
                " MMDeploy's own RoIAlign symbolic imports _cast_Long, gone from torch 2.x",
            exporters=("legacy", "mmdeploy"), families=MMDET_FAMILIES),
    Rewrite(name="mmdeploy_legacy_exporter", kind="function", target="torch.onnx.export", replacement=legacy_exporter,
            wrap=True, why="MMDeploy 1.3.1 calls torch.onnx.export without dynamo=False; on torch 2.14 that means the dynamo"
                " exporter, which ignores MMDeploy's symbolics; the legacy exporter, as MMDeploy expects",
            exporters=("mmdeploy",), families=MMDET_FAMILIES),
    Rewrite(name="mmdeploy_fx_wrap_list", kind="function", target=f"{MMDEPLOY_REWRITER}._wrapped_fns_to_patch",
            replacement=fx_wrap_list, wrap=True,
            why="MMDeploy 1.3.1 treats torch.fx's _wrapped_fns_to_patch (a dict since torch 2.x) as a list and pops it"
                " with pop(-1) (KeyError: -1); it gets a list of the same entries while it runs",
            exporters=("mmdeploy",), families=MMDET_FAMILIES),
    Rewrite(name="mmdet_onnx_delta2bbox", kind="function", target=f"{CODER}.onnx_delta2bbox", replacement=use_delta2bbox,
            wrap=True, why="mmdet 3.3's export-only box decoder imports mmdet.core (gone since 3.0), and delta2bbox's in-place strided"
                " clamps are lost by the legacy exporter; delta2bbox unclipped, then an out-of-place clip",
            exporters=("legacy", "dynamo"), fixes=(r"No module named 'mmdet\.core'",), families=MMDET_FAMILIES),
    Rewrite(name="mmdet_onnx_distance2bbox", kind="function", target=f"{coder_rewrites.DISTANCE_CODER}.distance2bbox",
            replacement=coder_rewrites.use_distance2bbox, wrap=True,
            why="mmdet 3.3's distance2bbox (DistancePointBBoxCoder: FCOS, RTMDet, ...) clips through mmdet.core (gone since"
                " 3.0) while exporting; distance2bbox unclipped, then an out-of-place clip",
            exporters=("legacy", "dynamo"), fixes=(r"No module named 'mmdet\.core'",), families=MMDET_FAMILIES),
    Rewrite(name="mmdet_onnx_tblr2bboxes", kind="function", target=f"{coder_rewrites.TBLR_CODER}.tblr2bboxes",
            replacement=coder_rewrites.use_tblr2bboxes, wrap=True,
            why="mmdet 3.3's tblr2bboxes (TBLRBBoxCoder: FSAF) clips through mmdet.core (gone since 3.0) while exporting;"
                " tblr2bboxes unclipped, then an out-of-place clip",
            exporters=("legacy", "dynamo"), fixes=(r"No module named 'mmdet\.core'",), families=MMDET_FAMILIES),
]
