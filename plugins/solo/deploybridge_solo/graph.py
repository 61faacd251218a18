"""SOLOv2 with its post-processing in the graph, at fixed size (seed 001's step 4, without the hand patches).

MMDetection's ``SOLOV2Head.predict_by_feat`` filters candidates with boolean
masks and Python-sized loops; traced, it fails on any image whose candidate
count differs from the example's (STACKS.md). Here every step keeps a fixed
size until the last one:

* point NMS on each level's class map (``max_pool2d(x) == x``), as MMDetection;
* the top ``nms_pre`` (point, class) scores instead of ``score > score_thr``
  filtering; candidates under the threshold stay in place, marked invalid;
* the dynamic 1x1 kernel convolution as one MatMul of kernels and mask features;
* the mask-area and mask-score rescoring, then matrix NMS over the fixed set
  (invalid candidates sort last with score -1 and cannot decay valid ones;
  empty unions count as IoU 0 instead of 0/0);
* score filter, top ``max_per_img``, bilinear upsampling to the input, threshold.

Equal to MMDetection's predict when at most ``nms_pre`` candidates pass
``score_thr`` (MMDetection rescores all of them before its top-``nms_pre``; the
top-k here happens before rescoring); the plugin tests hold it to that.
Outputs: ``masks`` (N, H, W) bool, ``scores`` (N,), ``labels`` (N,), in that order.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


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
    return {"nms_pre": int(cfg.nms_pre), "score_thr": float(cfg.score_thr), "mask_thr": float(cfg.mask_thr),
            "filter_thr": float(cfg.filter_thr), "max_per_img": int(cfg.max_per_img), "kernel": str(cfg.kernel),
            "sigma": float(cfg.sigma), "mask_stride": int(head.mask_stride), "num_grids": [int(g) for g in head.num_grids],
            "strides": [int(s) for s in head.strides]}


def postprocess(kernel_preds, cls_preds, mask_feats, height, width, p: dict):
    """Raw head outputs of one image -> masks (N, H, W) bool, scores (N,), labels (N,), all steps at fixed size."""
    classes, channels = cls_preds[0].shape[1], kernel_preds[0].shape[1]
    point_strides = torch.cat([torch.full((g * g,), float(s), device=mask_feats.device)
                               for g, s in zip(p["num_grids"], p["strides"])])
    scores, kernels = [], []
    for kernel, cls in zip(kernel_preds, cls_preds):
        score = cls.sigmoid()
        local_max = F.max_pool2d(score, 2, stride=1, padding=1)
        score = score * (local_max[:, :, :-1, :-1] == score)
        scores.append(score[0].permute(1, 2, 0).reshape(-1, classes))
        kernels.append(kernel[0].permute(1, 2, 0).reshape(-1, channels))
    scores, kernels = torch.cat(scores), torch.cat(kernels)
    flat = scores.reshape(-1)
    top, index = flat.topk(min(p["nms_pre"], flat.shape[0]))
    point = torch.div(index, classes, rounding_mode="floor")
    labels = index % classes
    feats = mask_feats[0]
    mask_preds = (kernels[point] @ feats.reshape(feats.shape[0], -1)).reshape(-1, *feats.shape[-2:]).sigmoid()
    masks = mask_preds > p["mask_thr"]
    areas = masks.sum((1, 2)).to(mask_preds.dtype)
    valid = (top > p["score_thr"]) & (areas > point_strides[point])
    mask_scores = (mask_preds * masks).sum((1, 2)) / areas.clamp(min=1.0)
    rescored = torch.where(valid, top * mask_scores, torch.full_like(top, -1.0))
    rescored, order = rescored.sort(descending=True)
    masks, labels, areas, mask_preds = masks[order], labels[order], areas[order], mask_preds[order]
    decayed = rescored * matrix_nms_decay(masks, labels, areas, p["sigma"], p["kernel"]).to(rescored.dtype)
    final, pick = decayed.topk(min(p["max_per_img"], decayed.shape[0]))
    keep = final >= p["filter_thr"]
    final, pick = final[keep], pick[keep]
    upsampled = F.interpolate(mask_preds[pick][None], scale_factor=float(p["mask_stride"]), mode="bilinear",
                              align_corners=False)[:, :, :height, :width]
    return upsampled[0] > p["mask_thr"], final, labels[pick]


class SOLOv2Graph(torch.nn.Module):
    """SOLOv2 from images to masks, scores, labels; ``placement="host"`` keeps the post-processing out of the
    engine (a ``deploybridge::SOLOv2Postprocess`` host step, deploybridge_solo.host)."""

    def __init__(self, model, pre: dict, placement: str = "graph"):
        from deploybridge_mmdet.dense import Normalise

        super().__init__()
        self.model = model
        self.normalise = Normalise(pre)
        self.params = postprocess_params(model.mask_head)
        self.placement = placement

    def forward(self, images):
        height, width = images.shape[-2:]
        kernel_preds, cls_preds, mask_feats = self.model.mask_head(self.model.extract_feat(self.normalise(images)))
        if self.placement == "host":
            from deploybridge_solo.host import on_host

            return on_host(kernel_preds, cls_preds, mask_feats, images, self.params)
        return postprocess(kernel_preds, cls_preds, mask_feats, height, width, self.params)
