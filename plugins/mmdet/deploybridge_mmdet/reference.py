"""MMDetection's own, unmodified ``predict`` on the images the artifact takes: the reference the family is held to."""
from __future__ import annotations


def mmdet_predict(model, images, pre: dict) -> dict:
    """{'boxes','scores','labels'[, 'masks']} numpy arrays from ``model.predict`` on 0-255 BGR ``images`` (1,3,H,W)."""
    import torch
    from mmdet.structures import DetDataSample

    from deploybridge_mmdet.dense import Normalise

    h, w = images.shape[-2:]
    sample = DetDataSample(metainfo={"img_shape": (h, w), "ori_shape": (h, w), "pad_shape": (h, w),
                                     "scale_factor": (1.0, 1.0), "batch_input_shape": (h, w)})
    with torch.no_grad():
        result = model.predict(Normalise(pre)(images), [sample], rescale=False)[0].pred_instances
    out = {"boxes": result.bboxes.numpy(), "scores": result.scores.numpy(), "labels": result.labels.numpy()}
    if "masks" in result:
        out["masks"] = result.masks.numpy()
    return out
