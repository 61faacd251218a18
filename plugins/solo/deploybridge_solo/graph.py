"""SOLO, Decoupled SOLO and SOLOv2 with their post-processing at fixed size (seed 001's step 4, without the hand
patches).

MMDetection's ``predict_by_feat`` filters candidates with boolean masks and
Python-sized loops; traced, it fails on any image whose candidate count
differs from the example's (measured: Expand/Reshape shape errors in ONNX Runtime). Here every step keeps a fixed size
until the last one:

* point NMS on each level's class map (``max_pool2d(x) == x``), as MMDetection
  (SOLO and Decoupled SOLO heads do it in their own eval forward);
* the top ``nms_pre`` (point, class) scores instead of ``score > score_thr``
  filtering; candidates under the threshold stay in place, marked invalid;
* each candidate's mask probabilities: SOLOv2's dynamic 1x1 kernel convolution
  as one MatMul of kernels and mask features; SOLO's mask channel of the point;
  Decoupled SOLO's product of the point's x and y channels;
* the mask-area and mask-score rescoring, then matrix NMS over the fixed set
  (invalid candidates sort last with score -1 and cannot decay valid ones;
  empty unions count as IoU 0 instead of 0/0);
* top ``max_per_img``, bilinear upsampling to the input, score filter, threshold.

Equal to MMDetection's predict when at most ``nms_pre`` candidates pass
``score_thr`` (MMDetection rescores all of them before its top-``nms_pre``; the
top-k here happens before rescoring); the plugin tests hold it to that.
Outputs: ``masks`` (N, H, W) bool, ``scores`` (N,), ``labels`` (N,), in that order.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

# head class -> how its eval outputs give mask probabilities (subclasses such as the Light heads included)
VARIANTS = {"SOLOV2Head": "solov2", "DecoupledSOLOHead": "decoupled", "SOLOHead": "solo"}


def variant_of(head) -> str | None:
    for cls in type(head).__mro__:
        if cls.__name__ in VARIANTS:
            return VARIANTS[cls.__name__]
    return None


def matrix_nms_decay(masks, labels, areas, sigma: float, kernel: str):
    """Decay coefficient per candidate (sorted by decreasing score), MMDetection's mask_matrix_nms arithmetic."""
    flat = masks.reshape(masks.shape[0], -1).float()
    inter = flat @ flat.t()
    union = areas[None, :] + areas[:, None] - inter
    order = torch.arange(masks.shape[0], device=masks.device)
    # "row before column, same label": triu(diagonal=1) as a comparison, which every opset exports (Trilu is opset 14)
    upper = (order[:, None] < order[None, :]) & (labels[:, None] == labels[None, :])
    decay_iou = torch.where(upper, inter / union.clamp(min=1.0), torch.zeros_like(inter))
    compensate = decay_iou.max(0).values[:, None]  # row i: the largest IoU candidate i has with a better one
    if kernel == "gaussian":
        return (torch.exp(-sigma * decay_iou ** 2) / torch.exp(-sigma * compensate ** 2)).min(0).values
    return ((1 - decay_iou) / (1 - compensate)).min(0).values


def postprocess_params(head) -> dict:
    """What the post-processing needs from the head and its test_cfg, as plain numbers (JSON and ONNX attributes)."""
    cfg = head.test_cfg
    return {"variant": variant_of(head), "nms_pre": int(cfg.nms_pre), "score_thr": float(cfg.score_thr),
            "mask_thr": float(cfg.mask_thr), "filter_thr": float(cfg.filter_thr), "max_per_img": int(cfg.max_per_img),
            "kernel": str(cfg.kernel), "sigma": float(cfg.sigma),
            # SOLO and Decoupled SOLO upsample their mask maps by 4 (hard-coded in MMDetection's predict)
            "mask_stride": int(getattr(head, "mask_stride", 4)), "num_grids": [int(g) for g in head.num_grids],
            "strides": [int(s) for s in head.strides]}


def point_nms(cls_pred):
    score = cls_pred.sigmoid()
    local_max = F.max_pool2d(score, 2, stride=1, padding=1)
    return score * (local_max[:, :, :-1, :-1] == score)


def _points(levels):
    """(1, C, S, S) per level -> (sum S*S, C), points row-major within a level, levels in order."""
    return torch.cat([m[0].permute(1, 2, 0).reshape(-1, m.shape[1]) for m in levels])


def _decoupled_index(num_grids, device):
    """For every point (level, y, x): its row in the concatenated x maps and in the concatenated y maps."""
    xs, ys, start = [], [], 0
    for g in num_grids:
        k = torch.arange(g * g, device=device)
        xs.append(start + k % g)
        ys.append(start + torch.div(k, g, rounding_mode="floor"))
        start += g
    return torch.cat(xs), torch.cat(ys)


def candidates(maps, p: dict):
    """Head outputs (flattened, in the head's order) -> (point scores (P, C), point -> mask probabilities (K, h, w))."""
    levels = len(p["num_grids"])
    if p["variant"] == "solov2":  # kernel maps, class logits, mask features
        kernels, cls, feats = _points(maps[:levels]), maps[levels:2 * levels], maps[2 * levels][0]
        flat_feats = feats.reshape(feats.shape[0], -1)
        return _points([point_nms(c) for c in cls]), lambda point: (kernels[point] @ flat_feats).reshape(
            -1, *feats.shape[-2:]).sigmoid()
    if p["variant"] == "decoupled":  # x maps, y maps, class scores (sigmoid and point NMS done by the head)
        xs, ys = torch.cat([m[0] for m in maps[:levels]]), torch.cat([m[0] for m in maps[levels:2 * levels]])
        x_index, y_index = _decoupled_index(p["num_grids"], xs.device)
        return _points(maps[2 * levels:]), lambda point: xs[x_index[point]] * ys[y_index[point]]
    masks = torch.cat([m[0] for m in maps[:levels]])  # SOLO: one mask channel per point, then class scores
    return _points(maps[levels:]), lambda point: masks[point]


def postprocess(maps, height, width, p: dict):
    """Raw head outputs of one image -> masks (N, H, W) bool, scores (N,), labels (N,), all steps at fixed size."""
    scores, mask_probs = candidates(maps, p)
    classes = scores.shape[1]
    point_strides = torch.cat([torch.full((g * g,), float(s), device=scores.device)
                               for g, s in zip(p["num_grids"], p["strides"])])
    flat = scores.reshape(-1)
    top, index = flat.topk(min(p["nms_pre"], flat.shape[0]))
    point = torch.div(index, classes, rounding_mode="floor")
    labels = index % classes
    mask_preds = mask_probs(point)
    masks = mask_preds > p["mask_thr"]
    areas = masks.sum((1, 2)).to(mask_preds.dtype)
    valid = (top > p["score_thr"]) & (areas > point_strides[point])
    mask_scores = (mask_preds * masks).sum((1, 2)) / areas.clamp(min=1.0)
    rescored = torch.where(valid, top * mask_scores, torch.full_like(top, -1.0))
    rescored, order = rescored.sort(descending=True)
    masks, labels, areas, mask_preds = masks[order], labels[order], areas[order], mask_preds[order]
    decayed = rescored * matrix_nms_decay(masks, labels, areas, p["sigma"], p["kernel"]).to(rescored.dtype)
    final, pick = decayed.topk(min(p["max_per_img"], decayed.shape[0]))
    # upsampled before the filter, at a fixed count: PyTorch's interpolate refuses an empty batch (no instance left)
    upsampled = F.interpolate(mask_preds[pick][None], scale_factor=float(p["mask_stride"]), mode="bilinear",
                              align_corners=False)[0, :, :height, :width]
    keep = final >= p["filter_thr"]
    return upsampled[keep] > p["mask_thr"], final[keep], labels[pick][keep]


def flatten(outputs) -> list:
    """The head's eval outputs (tuples of per-level lists and tensors) as one flat list of tensors."""
    flat = []
    for item in outputs:
        flat.extend(item if isinstance(item, (list, tuple)) else [item])
    return flat


class SOLOGraph(torch.nn.Module):
    """SOLO / Decoupled SOLO / SOLOv2 from images to masks, scores, labels; ``placement="host"`` keeps the
    post-processing out of the engine (a ``deploybridge::SOLOPostprocess`` host step, deploybridge_solo.host)."""

    def __init__(self, model, pre: dict, placement: str = "graph"):
        from deploybridge_mmdet.dense import Normalise

        super().__init__()
        self.model = model
        self.normalise = Normalise(pre)
        self.params = postprocess_params(model.mask_head)
        self.placement = placement

    def forward(self, images):
        height, width = images.shape[-2:]
        maps = flatten(self.model.mask_head(self.model.extract_feat(self.normalise(images))))
        if self.placement == "host":
            from deploybridge_solo.host import on_host

            return on_host(maps, images, self.params)
        return postprocess(maps, height, width, self.params)
