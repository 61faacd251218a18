"""CondInst (``CondInst`` with a ``CondInstBboxHead`` and a ``CondInstMaskHead``) as a tensor-in/tensor-out module:
boxes, scores, labels and instance mask probabilities, computed as MMDetection 3.3's ``CondInst.predict`` does.

Read from ``condinst_head.py`` (the box head is an FCOS head that also predicts each point's dynamic-conv
parameters):

* per level the top ``nms_pre`` (point, class) sigmoid scores above ``score_thr``, each keeping its point, stride
  and parameters; *then* times the sigmoid centerness (``BaseDenseHead._bbox_post_process``); boxes = point -/+ the
  distances, clipped to the image; ``min_bbox_size``; class-wise NMS; the first ``max_per_img``;
* the mask head's feature module on the FPN levels (stride 8), two extra channels per detection, the pixel's
  offset from the detection's point / (stride x ``size_of_interest``), the dynamic 1x1 convs (one batched matmul
  per layer, rtmdet_ins.dynamic_convs), MMDetection's own ``aligned_bilinear`` x2 (to ``mask_out_stride``), sigmoid,
  ``aligned_bilinear`` x ``mask_out_stride``, cropped to the input.

Masks are probabilities (N, H, W); MMDetection keeps ``> mask_thr``. Held to MMDetection's unmodified predict by
plugins/mmdet/tests/test_mmdet_rtmdet_ins.py (parametrized over both).
"""
from __future__ import annotations

import torch

from deploybridge_mmdet.rtmdet_ins import KernelMaskDetector, candidates, dynamic_convs, point_rows


def mask_probabilities(mask_head, feats, params: torch.Tensor, points: torch.Tensor, strides: torch.Tensor,
                       height, width) -> torch.Tensor:
    """CondInstMaskHead.forward_single + _predict_by_feat_single for the kept detections: (N, H, W) probabilities."""
    from mmdet.models.utils import aligned_bilinear

    mask_feat = mask_head.mask_feature_head(feats)[0]
    channels, h, w = mask_feat.shape
    locations = mask_head.prior_generator.single_level_grid_priors((h, w), 0, dtype=mask_feat.dtype,
                                                                   device=mask_feat.device)
    relative = (points[:, None, :] - locations[None]).permute(0, 2, 1) / (
        strides.reshape(-1, 1, 1) * mask_head.size_of_interest)
    x = torch.cat([relative, mask_feat.reshape(1, channels, -1).expand(params.shape[0], -1, -1)], 1)
    # parse_dynamic_params shapes the hidden layers by the mask features' channel count (in_channels)
    logits = dynamic_convs(x, params, mask_head.weight_nums, mask_head.bias_nums, mask_head.in_channels)
    # one spare plane, dropped after: PyTorch's upsampling refuses an empty tensor (no detection), where MMDetection's
    # predict takes another branch (``if bboxes.shape[0] == 0``)
    planes = torch.cat([logits.reshape(-1, h, w), torch.zeros_like(mask_feat[:1])])[None]
    planes = aligned_bilinear(planes, int(mask_head.mask_feat_stride / mask_head.mask_out_stride))
    planes = aligned_bilinear(planes.sigmoid(), mask_head.mask_out_stride)
    return planes[0, :-1, :height, :width]


class CondInstDetector(KernelMaskDetector):
    def forward(self, images):
        from deploybridge_mmdet.dense_heads import distance_boxes

        head = self.model.bbox_head
        height, width = images.shape[-2:]
        feats = self.model.extract_feat(self.normalise(images))
        cls_scores, bbox_preds, centerness, param_preds = head(feats)
        priors = head.prior_generator.grid_priors([c.shape[-2:] for c in cls_scores], dtype=bbox_preds[0].dtype,
                                                  device=bbox_preds[0].device, with_stride=True)
        rows = [(point_rows(reg, head.bbox_coder.encode_size), prior, point_rows(param, head.num_params),
                 point_rows(factor, 1).reshape(-1).sigmoid())
                for reg, prior, param, factor in zip(bbox_preds, priors, param_preds, centerness)]
        scores, labels, distances, priors, params, factors = candidates(head, cls_scores, rows, self.nms_pre,
                                                                        self.score_thr)
        scores = scores * factors  # after selection: a centerness never drops or admits a candidate
        boxes = distance_boxes(head.bbox_coder, priors[:, :2], distances, height, width)
        boxes, scores, labels, priors, params = self.kept(boxes, scores, labels, priors, params)
        masks = mask_probabilities(self.model.mask_head, feats, params, priors[:, :2], priors[:, 2], height, width)
        return boxes, scores, labels, masks


def is_condinst(model) -> bool:
    from deploybridge_mmdet.support import CONDINST

    return (type(model).__name__, type(getattr(model, "bbox_head", None)).__name__,
            type(getattr(model, "mask_head", None)).__name__) == CONDINST
