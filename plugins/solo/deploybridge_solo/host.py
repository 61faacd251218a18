"""``--option placement=host``: the engine ends at the SOLO head's raw outputs; post-processing runs on the host.

Seed 001 put the post-processing into the graph by hand; some deployments
want the opposite (an engine that only runs the network, e.g. TensorRT without
TopK/NonZero-heavy tails). Here the post-processing stands in the exported
graph as one ``deploybridge::SOLOPostprocess`` node whose inputs are the image
size and the head's outputs (kernel, class and mask-feature maps for SOLOv2;
mask and class maps for SOLO and Decoupled SOLO), and whose attributes carry
the variant, thresholds and grids. The artifact build cuts the graph before it
(deploybridge.runtime.segments); verify and ``deploy run`` call :data:`HOST_OP` there,
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
        masks, scores, labels = g.op(f"deploybridge::{OP}", size, *maps, outputs=3, **_attributes(json.loads(params_json)))
        like = maps[0].type()
        masks.setType(like.with_dtype(torch.bool).with_sizes([None, None, None]))
        scores.setType(like.with_dtype(torch.float32).with_sizes([None]))
        labels.setType(like.with_dtype(torch.int64).with_sizes([None]))
        return masks, scores, labels


def on_host(maps, images, params: dict):
    size = torch._shape_as_tensor(images)[2:]  # traced as Shape/Slice: stays dynamic
    return _Postprocess.apply(json.dumps(params), size, *maps)


# postprocess_params' value types -> the exporter's attribute suffixes (lists are of ints: grids, strides)
SUFFIX = {int: "i", float: "f", str: "s", list: "i"}


def _attributes(params: dict) -> dict:
    """postprocess_params as ONNX node attributes: the node carries everything its host step needs."""
    return {f"{name}_{SUFFIX[type(value)]}": value for name, value in params.items()}


def _params(attributes: dict) -> dict:
    """The node's attributes back as postprocess_params (ONNX gives strings as bytes, int lists as lists)."""
    return {name: value.decode() if isinstance(value, bytes) else value for name, value in attributes.items()}


def run(inputs: list, attributes: dict) -> list:
    from deploybridge_solo.graph import postprocess

    size, *maps = inputs
    height, width = (int(v) for v in size)
    with torch.no_grad():
        out = postprocess([torch.from_numpy(m) for m in maps], height, width, _params(attributes))
    return [t.numpy() for t in out]


HOST_OP = HostOp(OP, run, "SOLO / Decoupled SOLO / SOLOv2 point NMS, mask assembly, matrix NMS, top-N and upsampling"
                          " (deploybridge_solo.graph, PyTorch on the host)")
