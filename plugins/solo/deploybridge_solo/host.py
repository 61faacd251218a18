"""``--option placement=host``: the engine ends at SOLOv2's raw head outputs; post-processing runs on the host.

Seed 001 put the post-processing into the graph by hand; some deployments
want the opposite (an engine that only runs the network, e.g. TensorRT without
TopK/NonZero-heavy tails). Here the post-processing stands in the exported
graph as one ``deploybridge::SOLOv2Postprocess`` node whose inputs are the
image size, the mask features and the kernel and class maps of every level,
and whose attributes carry the thresholds and grids. The artifact build cuts
the graph before it (deploybridge.segments); verify and ``deploy run`` call
:data:`HOST_OP` there, which runs the same :func:`deploybridge_solo.graph.postprocess`
as the PyTorch side, on the engine's outputs.
"""
from __future__ import annotations

import json

import torch

from deploybridge.records import HostOp

OP = "SOLOv2Postprocess"


class _Postprocess(torch.autograd.Function):
    """Runs the post-processing in PyTorch; exports as the host node (legacy exporter)."""

    @staticmethod
    def forward(ctx, params_json: str, levels: int, size, mask_feats, *maps):
        import warnings

        from deploybridge_solo.graph import postprocess

        # the exporter records this node, not what runs inside it: its int() calls cannot bake anything
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            height, width = (int(v) for v in size)
        return postprocess(list(maps[:levels]), list(maps[levels:]), mask_feats, height, width, json.loads(params_json))

    @staticmethod
    def symbolic(g, params_json: str, levels: int, size, mask_feats, *maps):
        p = json.loads(params_json)
        masks, scores, labels = g.op(
            f"deploybridge::{OP}", size, mask_feats, *maps, outputs=3, levels_i=levels,
            nms_pre_i=p["nms_pre"], max_per_img_i=p["max_per_img"], mask_stride_i=p["mask_stride"],
            score_thr_f=p["score_thr"], mask_thr_f=p["mask_thr"], filter_thr_f=p["filter_thr"], sigma_f=p["sigma"],
            kernel_s=p["kernel"], num_grids_i=p["num_grids"], strides_i=p["strides"])
        masks.setType(mask_feats.type().with_dtype(torch.bool).with_sizes([None, None, None]))
        scores.setType(mask_feats.type().with_dtype(torch.float32).with_sizes([None]))
        labels.setType(mask_feats.type().with_dtype(torch.int64).with_sizes([None]))
        return masks, scores, labels


def on_host(kernel_preds, cls_preds, mask_feats, images, params: dict):
    size = torch._shape_as_tensor(images)[2:]  # traced as Shape/Slice: stays dynamic
    return _Postprocess.apply(json.dumps(params), len(kernel_preds), size, mask_feats, *kernel_preds, *cls_preds)


def _params(attributes: dict) -> dict:
    names = ("nms_pre", "max_per_img", "mask_stride", "score_thr", "mask_thr", "filter_thr", "sigma", "num_grids", "strides")
    p = {n: attributes[n] for n in names}
    kernel = attributes["kernel"]
    p["kernel"] = kernel.decode() if isinstance(kernel, bytes) else kernel
    p["num_grids"], p["strides"] = list(p["num_grids"]), list(p["strides"])
    return p


def run(inputs: list, attributes: dict) -> list:
    from deploybridge_solo.graph import postprocess

    levels = int(attributes["levels"])
    size, mask_feats, *maps = inputs
    maps = [torch.from_numpy(m) for m in maps]
    height, width = (int(v) for v in size)
    with torch.no_grad():
        out = postprocess(maps[:levels], maps[levels:], torch.from_numpy(mask_feats), height, width, _params(attributes))
    return [t.numpy() for t in out]


HOST_OP = HostOp(OP, run, "SOLOv2 point NMS, kernel MatMul, matrix NMS, top-N and upsampling (deploybridge_solo.graph,"
                          " PyTorch on the host)")
