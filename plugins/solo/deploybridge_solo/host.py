"""``--option placement=host``: the engine ends at the SOLO head's raw outputs; post-processing runs on the host.

Seed 001 put the post-processing into the graph by hand; some deployments
want the opposite (an engine that only runs the network, e.g. TensorRT without
TopK/NonZero-heavy tails). Here the post-processing stands in the exported
graph as one ``deploybridge::SOLOPostprocess`` node whose inputs are the image
size and the head's outputs (kernel, class and mask-feature maps for SOLOv2;
mask and class maps for SOLO and Decoupled SOLO), and whose attributes carry
the variant, thresholds and grids. The artifact build cuts the graph before it
(deploybridge.segments); verify and ``deploy run`` call :data:`HOST_OP` there,
which runs the same :func:`deploybridge_solo.graph.postprocess` as the PyTorch
side, on the engine's outputs.
"""
from __future__ import annotations

import json

import torch

from deploybridge.records import HostOp

OP = "SOLOPostprocess"


class _Postprocess(torch.autograd.Function):
    """Runs the post-processing in PyTorch; exports as the host node (legacy exporter)."""

    @staticmethod
    def forward(ctx, params_json: str, size, *maps):
        import warnings

        from deploybridge_solo.graph import postprocess

        # the exporter records this node, not what runs inside it: its int() calls cannot bake anything
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            height, width = (int(v) for v in size)
        return postprocess(list(maps), height, width, json.loads(params_json))

    @staticmethod
    def symbolic(g, params_json: str, size, *maps):
        p = json.loads(params_json)
        masks, scores, labels = g.op(
            f"deploybridge::{OP}", size, *maps, outputs=3, variant_s=p["variant"],
            nms_pre_i=p["nms_pre"], max_per_img_i=p["max_per_img"], mask_stride_i=p["mask_stride"],
            score_thr_f=p["score_thr"], mask_thr_f=p["mask_thr"], filter_thr_f=p["filter_thr"], sigma_f=p["sigma"],
            kernel_s=p["kernel"], num_grids_i=p["num_grids"], strides_i=p["strides"])
        like = maps[0].type()
        masks.setType(like.with_dtype(torch.bool).with_sizes([None, None, None]))
        scores.setType(like.with_dtype(torch.float32).with_sizes([None]))
        labels.setType(like.with_dtype(torch.int64).with_sizes([None]))
        return masks, scores, labels


def on_host(maps, images, params: dict):
    size = torch._shape_as_tensor(images)[2:]  # traced as Shape/Slice: stays dynamic
    return _Postprocess.apply(json.dumps(params), size, *maps)


def _params(attributes: dict) -> dict:
    text = lambda v: v.decode() if isinstance(v, bytes) else v  # noqa: E731
    p = {n: attributes[n] for n in ("nms_pre", "max_per_img", "mask_stride", "score_thr", "mask_thr", "filter_thr", "sigma")}
    p.update(variant=text(attributes["variant"]), kernel=text(attributes["kernel"]),
             num_grids=list(attributes["num_grids"]), strides=list(attributes["strides"]))
    return p


def run(inputs: list, attributes: dict) -> list:
    from deploybridge_solo.graph import postprocess

    size, *maps = inputs
    height, width = (int(v) for v in size)
    with torch.no_grad():
        out = postprocess([torch.from_numpy(m) for m in maps], height, width, _params(attributes))
    return [t.numpy() for t in out]


HOST_OP = HostOp(OP, run, "SOLO / Decoupled SOLO / SOLOv2 point NMS, mask assembly, matrix NMS, top-N and upsampling"
                          " (deploybridge_solo.graph, PyTorch on the host)")
