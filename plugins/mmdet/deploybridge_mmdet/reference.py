"""MMDetection's own, unmodified ``predict`` on the images the artifact takes: the reference the family is held to."""
from __future__ import annotations


def image_sample(height: int, width: int):
    """The DetDataSample MMDetection's test pipeline makes for one unscaled, unpadded image of this size."""
    from mmdet.structures import DetDataSample

    size = (int(height), int(width))
    return DetDataSample(metainfo={"img_shape": size, "ori_shape": size, "pad_shape": size, "scale_factor": (1.0, 1.0),
                                   "batch_input_shape": size})


def predicted_instances(model, images, pre: dict):
    """MMDetection's ``pred_instances`` from ``model.predict`` on 0-255 BGR ``images`` (1,3,H,W), normalised in the
    images' dtype."""
    import torch

    from deploybridge_mmdet.dense import Normalise

    h, w = images.shape[-2:]
    with torch.no_grad():
        return model.predict(Normalise(pre).to(images.dtype)(images), [image_sample(h, w)], rescale=False)[0].pred_instances


def mmdet_predict(model, images, pre: dict) -> dict:
    """{'boxes','scores','labels'[, 'masks']} numpy arrays from ``model.predict`` on 0-255 BGR ``images`` (1,3,H,W)."""
    result = predicted_instances(model, images, pre)
    out = {"boxes": result.bboxes.numpy(), "scores": result.scores.numpy(), "labels": result.labels.numpy()}
    if "masks" in result:
        out["masks"] = result.masks.numpy()
    return out
