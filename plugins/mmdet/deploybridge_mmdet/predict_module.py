"""MMDetection's own ``predict`` as a tensor-in/tensor-out module: the PyTorch reference of an architecture that only
MMDeploy exports (``--exporter mmdeploy``). It is never exported; verification runs it beside the artifact, so the
artifact is held to MMDetection's unmodified predict directly, float64 noise floor included."""
from __future__ import annotations

import torch


class Predict(torch.nn.Module):
    def __init__(self, model, pre: dict, names: list[str]):
        super().__init__()
        self.model = model
        self.pre = pre
        self.names = list(names)

    def forward(self, images):
        from deploybridge_mmdet.reference import predicted_instances

        result = predicted_instances(self.model, images, self.pre)
        found = {"boxes": result.bboxes, "scores": result.scores, "labels": result.labels.long()}
        if "masks" in self.names:
            found["masks"] = result.masks.bool()
        return tuple(found[name] for name in self.names)


def detection_count(model, pre: dict):
    """count(image) -> how many detections MMDetection's predict returns (for calibration_generic)."""
    module = Predict(model, pre, ["scores"])
    return lambda image: int(module(image)[0].shape[0])


def top_score(model, pre: dict):
    """score(image) -> the highest score MMDetection's predict gives (0 without detections), for calibration_generic."""
    module = Predict(model, pre, ["scores"])

    def highest(image) -> float:
        scores = module(image)[0]
        return float(scores.max()) if scores.numel() else 0.0

    return highest
