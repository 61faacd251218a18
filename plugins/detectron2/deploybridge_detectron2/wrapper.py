"""A Detectron2 model as a tensor-in/tensor-out module with fixed output names and order.

Detectron2 models take a list of dicts and return ``Instances``; exporters and runtimes need tensors. The wrapper
calls the model exactly as ``DefaultPredictor`` does (``model([{"image": ...}])``, post-processing included: boxes
clipped, masks pasted into the image) and returns ``boxes, scores, classes[, masks][, keypoints]`` in that order,
whatever order Detectron2's ``Instances`` fields come in (Detectron2's own TracingAdapter flattens them by field
name, so the output order changes with the model).
"""
from __future__ import annotations

from contextlib import contextmanager

import torch

OUTPUT_ORDER = ("boxes", "scores", "classes", "masks", "keypoints")


def output_names(model) -> list[str]:
    """The outputs this model has, in the fixed order."""
    heads = getattr(model, "roi_heads", None)
    has = {"masks": bool(getattr(heads, "mask_on", False)), "keypoints": bool(getattr(heads, "keypoint_on", False))}
    return [n for n in OUTPUT_ORDER if has.get(n, True)]


def instances_to_tensors(instances, names) -> tuple:
    fields = {
        "boxes": lambda: instances.pred_boxes.tensor,
        "scores": lambda: instances.scores,
        "classes": lambda: instances.pred_classes,
        # pasted masks are bool (N, H, W) and stay bool: verification then compares the fraction of flipped pixels
        # (a probability on the 0.5 threshold may flip between runtimes; as 0/1 floats one flip is an error of 1)
        "masks": lambda: instances.pred_masks.to(torch.bool),
        "keypoints": lambda: instances.pred_keypoints,  # (N, K, 3): x, y, score
    }
    return tuple(fields[n]() for n in names)


class Detectron2Detector(torch.nn.Module):
    """``forward(images)``: one image (1 x 3 x H x W, 0-255 float in the config's INPUT.FORMAT channel order; the
    model normalises) -> the detections at that image's size."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.names = output_names(model)

    def forward(self, images: torch.Tensor):
        # no "height"/"width": the output size is the input's, read from the tensor, so a dynamic H x W export
        # does not bake the example's size into the graph
        if images.dtype == torch.float64:  # the noise-floor run (deploybridge.parity.noise_floor): see below
            with _scores_cast_for_nms():
                result = self.model([{"image": images[0]}])[0]["instances"]
        else:
            result = self.model([{"image": images[0]}])[0]["instances"]
        return instances_to_tensors(result, self.names)


@contextmanager
def _scores_cast_for_nms():
    """Detectron2's batched_nms casts boxes to float32 but not scores, so a float64 model fails in torchvision's NMS
    ("dets should have the same type as scores") and no noise floor could be measured: scores are cast to the boxes'
    dtype there (which boxes survive NMS is decided in float32; everything else stays float64). Never in force
    while exporting: only float64 inputs take this path."""
    import torchvision.ops.boxes as tv_boxes

    from deploybridge_detectron2.torchscript import make_batched_nms

    original = tv_boxes.batched_nms
    tv_boxes.batched_nms = make_batched_nms(original)
    try:
        yield
    finally:
        tv_boxes.batched_nms = original


def predictor_reference(cfg, model):
    """Detectron2's own ``DefaultPredictor`` (the user's entry point: its resize, channel flip and post-processing),
    holding the same weights as ``model``; returns ``inputs -> {name: ndarray}`` on the artifact's input tensor."""
    from detectron2.engine import DefaultPredictor

    own = cfg.clone()
    own.defrost()
    own.MODEL.WEIGHTS = ""  # weights are copied from the converted model below: nothing is loaded or downloaded
    predictor = DefaultPredictor(own)
    predictor.model.load_state_dict(model.state_dict())
    names = output_names(predictor.model)

    def predict(inputs) -> dict:
        image = inputs[0][0].permute(1, 2, 0).numpy()
        if predictor.input_format == "RGB":
            image = image[:, :, ::-1]  # DefaultPredictor takes BGR (cv2.imread) and flips it for RGB models
        with torch.no_grad():
            instances = predictor(image.copy())["instances"]
        return {n: t.numpy() for n, t in zip(names, instances_to_tensors(instances, names))}

    return predict
