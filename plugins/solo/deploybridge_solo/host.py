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


SEMANTICS = """\
deploybridge_solo.graph.postprocess, step by step; names below are the node's attributes (nms_pre, score_thr, ...).
Inputs: `size` int64 [2] = (H, W) of the network input, then the head's maps for one image, L = len(num_grids)
levels, grid S_l = num_grids[l]:
* variant "solov2": L kernel maps [1, E, S_l, S_l], L class logit maps [1, C, S_l, S_l], one mask feature map
  [1, E, h, w];
* variant "decoupled": L x maps [1, S_l, h, w], L y maps [1, S_l, h, w] (probabilities), L class score maps
  [1, C, S_l, S_l];
* variant "solo": L mask maps [1, S_l*S_l, h, w] (probabilities), L class score maps [1, C, S_l, S_l].
1. Points: the cells of every level's grid, level by level, row-major within a level (P = sum of S_l^2); each has a
   score per class (P x C). solov2 only: score = sigmoid(logit), then point NMS: a score is kept where it equals the
   maximum over the 2 x 2 window of its own cell and the cells above, left and above-left (outside the grid: ignored),
   else 0. decoupled/solo class maps already hold these scores.
2. Flatten the P x C scores row-major; take the top K = min(nms_pre, P*C) by value (ties: PyTorch topk's order);
   for each, point = index // C, label = index % C (0-based class index).
3. Mask probabilities of each candidate [h, w]: solov2: sigmoid(sum over e of kernel[point, e] * features[e]) with the
   point's E kernel values; decoupled: x_map[level start + x] * y_map[level start + y], where the point is cell (y, x)
   of its level and the level start is the sum of the earlier levels' S; solo: channel `point` of the mask maps
   concatenated over levels.
4. mask = probability > mask_thr; area = number of mask pixels; valid = score > score_thr and area > strides[level of
   the point]; mask_score = sum(probability * mask) / max(area, 1); rescored = score * mask_score if valid, else -1.
5. Sort the candidates by rescored, descending. Matrix NMS: for candidates i before j with the same label,
   iou[i, j] = |mask_i and mask_j| / max(area_i + area_j - |mask_i and mask_j|, 1), else 0; compensate[i] = max over
   k of iou[k, i]; decay[j] = min over i of f(iou[i, j]) / f(compensate[i]) with f(x) = exp(-sigma * x^2) for kernel
   "gaussian", 1 - x otherwise; decayed = rescored * decay.
6. Take the top min(max_per_img, K) by decayed; upsample their probabilities bilinearly (align_corners false) by
   mask_stride and crop to [:H, :W]; keep those with decayed >= filter_thr. Outputs: `masks` bool [N, H, W] =
   upsampled probability > mask_thr, `scores` float32 [N] = decayed, `labels` int64 [N]."""

HOST_OP = HostOp(OP, run, "SOLO / Decoupled SOLO / SOLOv2 point NMS, mask assembly, matrix NMS, top-N and upsampling"
                          " (deploybridge_solo.graph, PyTorch on the host)", semantics=SEMANTICS)
