"""RTMDet-Ins (``RTMDet`` with an ``RTMDetInsSepBNHead``) as a tensor-in/tensor-out module: boxes, scores, labels and
instance mask probabilities, computed as MMDetection 3.3's ``RTMDetInsHead.predict_by_feat`` does.

MMDetection's predict carries InstanceData through Python control flow (``len()``, ``numel() > 0``, a grouped
convolution whose group count is the number of detections) that the tracer bakes into the graph. Here, read from
``rtmdet_ins_head.py``:

* per level the top ``nms_pre`` (point, class) sigmoid scores above ``score_thr`` (``filter_scores_and_topk``), each
  keeping its point prior (x, y, stride) and its dynamic-conv kernel; no score factor (objectness, when on, is folded
  into the class logits by the head);
* boxes = point -/+ the (stride-scaled) distances, clipped to the image; boxes not wider and taller than
  ``min_bbox_size`` dropped; class-wise NMS; the first ``max_per_img``;
* per kept detection the dynamic convs (1x1, ReLU between) on the stride-8 mask features with two extra channels,
  the pixel's offset from the detection's point / (8 x its stride): one batched matrix product per layer instead of
  MMDetection's grouped conv (groups = detections); the logits upsampled bilinearly by the first stride to the input
  size, then sigmoid.

Masks are returned as probabilities, as the two-stage path does (two_stage.paste_masks says why); MMDetection keeps
``> mask_thr_binary``. Held to MMDetection's unmodified predict by plugins/mmdet/tests/test_mmdet_rtmdet_ins.py.
"""
from __future__ import annotations

import torch


def point_rows(level: torch.Tensor, width: int) -> torch.Tensor:
    """One image's (width * A, H, W) level output as (points, width) rows, in the order the priors are generated."""
    return level[0].permute(1, 2, 0).reshape(-1, width)


def candidates(head, cls_scores, rows, nms_pre: int, score_thr: float) -> tuple[torch.Tensor, ...]:
    """(scores, labels, *rows) of every level's top ``nms_pre`` (point, class) pairs above ``score_thr``
    (``filter_scores_and_topk``), concatenated in level order as ``_predict_by_feat_single`` concatenates them;
    ``rows[level]`` are that level's per-point tensors (distances, priors, kernels, ...), each kept with its point."""
    from deploybridge_mmdet.dense import top_candidates
    from deploybridge_mmdet.dense_heads import class_scores

    found: list[list[torch.Tensor]] = []
    for cls, level in zip(cls_scores, rows):
        score = class_scores(head, cls[0])
        classes = score.shape[1]
        top, index = top_candidates(score.reshape(-1), nms_pre)
        point = torch.div(index, classes, rounding_mode="floor")
        keep = top > score_thr
        # gathered by the top-k rows before the threshold: a level with nothing above it still gathers its top-k
        values = [top, index % classes, *(row[point] for row in level)]
        found = found or [[] for _ in values]
        for into, value in zip(found, values):
            into.append(value[keep])
    return tuple(torch.cat(values) for values in found)


def dynamic_mask_logits(head, mask_feat: torch.Tensor, kernels: torch.Tensor, priors: torch.Tensor) -> torch.Tensor:
    """RTMDetInsHead._mask_predict_by_feat_single: (N, h, w) mask logits at the mask features' resolution (stride 8)
    from each detection's kernel. Its grouped conv (one group per detection) is a batched matmul here, so the number
    of detections stays a graph value."""
    prototypes, h, w = mask_feat.shape
    coord = head.prior_generator.single_level_grid_priors((h, w), level_idx=0, dtype=mask_feat.dtype,
                                                          device=mask_feat.device)  # (h * w, 2), level 0's points
    # (N, 2, h * w): the pixel's offset from the detection's point, in units of 8 x the detection's stride
    relative = (priors[:, None, :2] - coord[None]).permute(0, 2, 1) / (priors[:, 2].reshape(-1, 1, 1) * 8)
    features = mask_feat.reshape(1, prototypes, -1).expand(kernels.shape[0], -1, -1)
    x = torch.cat([relative, features], 1)  # coordinates first, as MMDetection concatenates them
    x = dynamic_convs(x, kernels, head.weight_nums, head.bias_nums, head.dyconv_channels)
    return x.reshape(-1, h, w)


def dynamic_convs(x: torch.Tensor, params: torch.Tensor, weight_nums, bias_nums, hidden: int) -> torch.Tensor:
    """Per detection, 1x1 convs with ReLU between, their weights and biases split from its row of ``params`` (all the
    weights, then all the biases) as MMDetection's ``parse_dynamic_params`` splits them: (N, C, h * w) -> (N, 1, h * w).
    One batched matmul per layer where MMDetection runs a grouped conv with one group per detection."""
    layers = len(weight_nums)
    split = torch.split_with_sizes(params, list(weight_nums) + list(bias_nums), dim=1)
    for i in range(layers):
        out = hidden if i < layers - 1 else 1
        # -1 for the detections: their count is the graph's; the other sizes are the head's constants
        x = torch.bmm(split[i].reshape(-1, out, weight_nums[i] // out), x) + split[layers + i].reshape(-1, out, 1)
        if i < layers - 1:
            x = torch.relu(x)
    return x


class KernelMaskDetector(torch.nn.Module):
    """Images (0-255, MMDetection's channel order) -> boxes, scores, labels (0-based), masks (N, H, W) probabilities,
    for a dense head whose masks come from per-detection dynamic-conv kernels (RTMDet-Ins, CondInst); holds the
    head's selection rules from its test_cfg."""

    with_mask = True

    def __init__(self, model, pre: dict):
        from deploybridge_mmdet.dense import Normalise

        super().__init__()
        self.model = model
        self.normalise = Normalise(pre)
        cfg = model.bbox_head.test_cfg
        self.nms_pre, self.score_thr = int(cfg.get("nms_pre", -1)), float(cfg.get("score_thr", 0.0))
        self.iou = float(cfg["nms"]["iou_threshold"])
        self.min_size, self.max_per_img = float(cfg.get("min_bbox_size", -1)), int(cfg.get("max_per_img", 100))

    def kept(self, boxes, scores, labels, *rows) -> tuple[torch.Tensor, ...]:
        """(boxes, scores, labels, *rows) of the candidates predict keeps: boxes wider and taller than
        ``min_bbox_size``, then class-wise NMS, then the first ``max_per_img``."""
        from torchvision.ops import batched_nms

        found = (boxes, scores, labels, *rows)
        if self.min_size >= 0:
            big = (boxes[:, 2] - boxes[:, 0] > self.min_size) & (boxes[:, 3] - boxes[:, 1] > self.min_size)
            found = tuple(t[big] for t in found)
        keep = batched_nms(found[0], found[1], found[2], self.iou)[: self.max_per_img]
        return tuple(t[keep] for t in found)


class RTMDetInsDetector(KernelMaskDetector):
    def forward(self, images):
        from deploybridge_mmdet.dense_heads import distance_boxes

        head = self.model.bbox_head
        height, width = images.shape[-2:]
        outs = head(self.model.extract_feat(self.normalise(images)))
        cls_scores, bbox_preds, kernel_preds = outs[:3]
        priors = head.prior_generator.grid_priors([c.shape[-2:] for c in cls_scores], dtype=cls_scores[0].dtype,
                                                  device=cls_scores[0].device, with_stride=True)
        rows = [(point_rows(reg, head.bbox_coder.encode_size), prior, point_rows(kernel, head.num_gen_params))
                for reg, prior, kernel in zip(bbox_preds, priors, kernel_preds)]
        scores, labels, distances, priors, kernels = candidates(head, cls_scores, rows, self.nms_pre, self.score_thr)
        boxes = distance_boxes(head.bbox_coder, priors[:, :2], distances, height, width)
        boxes, scores, labels, priors, kernels = self.kept(boxes, scores, labels, priors, kernels)
        logits = dynamic_mask_logits(head, outs[3][0], kernels, priors)
        stride = head.prior_generator.strides[0][0]
        # one spare plane, dropped after: PyTorch's bilinear upsampling refuses an empty tensor (no detection), where
        # MMDetection's predict takes another branch (``if results.bboxes.numel() > 0``)
        planes = torch.cat([logits, torch.zeros_like(outs[3][0, :1])])  # a mask-feature plane: (1, h, w) always
        masks = torch.nn.functional.interpolate(planes[None], scale_factor=stride, mode="bilinear")[0, :-1].sigmoid()
        return boxes, scores, labels, masks


def is_rtmdet_ins(model) -> bool:
    from deploybridge_mmdet.support import INSTANCE_DENSE_HEADS

    return type(getattr(model, "bbox_head", None)).__name__ in INSTANCE_DENSE_HEADS and not hasattr(model, "roi_head")


MASK_KERNEL_SPREAD = 1.0  # std of the dynamic-conv parameters after rescaling


def spread_mask_kernels(model, images, count) -> None:
    """--random-weights: rescale the kernel convs so the dynamic-conv parameters spread with std 1 over ``images``
    (``count(image)`` runs MMDetection's predict). With PyTorch's default init every mask was all foreground or all
    background (measured: 1000 at 192x256, 8 of 8 detections), which a mask comparison cannot fail on, e.g. with the
    relative coordinates dropped; spread, 7 of 8 have both. Detections do not change: kernels only make masks."""
    from deploybridge_mmdet.calibration_generic import _spread

    _spread(list(model.bbox_head.rtm_kernel), lambda: [count(image) for image in images], MASK_KERNEL_SPREAD)
