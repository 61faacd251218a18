"""The ``detectron2`` family: a Detectron2 config (+ local checkpoint) -> a LoadedModel the pipeline converts."""
from __future__ import annotations

import math

from deploybridge.errors import DeployError
from deploybridge.parity.synthetic_inputs import calibration_seeds, smooth_images
from deploybridge.records import LoadedModel, ModelSpec, OutputSpec, Task


def example_images(shape, seed: int):
    """Deterministic 0-255 images (smooth blobs and flat rectangles: something for a detector to find)."""
    return smooth_images(seed, tuple(shape)) * 255.0


def preprocessing(cfg, model) -> dict:
    """What Detectron2 does to an image before the network, read from the config and the built model."""
    resize = {"keep_ratio": True}
    if hasattr(cfg, "INPUT"):
        resize.update(shortest_edge=int(cfg.INPUT.MIN_SIZE_TEST), max_size=int(cfg.INPUT.MAX_SIZE_TEST))
    return {
        "source": "detectron2 config",
        "loaded_channel_order": model.input_format,  # INPUT.FORMAT: the channel order the network takes
        "mean": [float(v) for v in model.pixel_mean.flatten()],
        "std": [float(v) for v in model.pixel_std.flatten()],
        "pad_size_divisor": int(model.backbone.size_divisibility or 1),
        "resize": resize,
        "value_range": "0-255 float, before normalisation (the graph normalises)",
        # how --eval maps labels to a dataset's category ids (deploybridge.evaluation.coco_ap.category_ids)
        "labels": "0-based class index: class i is the dataset's i-th category (Detectron2's dataset mapping)",
    }


def default_shape(cfg, divisor: int) -> tuple[int, int, int, int]:
    """One image that ``DefaultPredictor``'s test resize leaves as it is: square, INPUT.MIN_SIZE_TEST on a side
    (rounded up to the backbone's size divisibility)."""
    side = int(cfg.INPUT.MIN_SIZE_TEST) if hasattr(cfg, "INPUT") else 512
    return (1, 3, math.ceil(side / divisor) * divisor, math.ceil(side / divisor) * divisor)


def check_shape(shape, cfg) -> None:
    if len(shape) != 4 or shape[0] != 1 or shape[1] != 3:
        raise DeployError(f"input shape {shape} must be 1,3,H,W (one image; Detectron2 detections are per image)")
    if hasattr(cfg, "INPUT"):
        short, long, lo, hi = min(shape[2:]), max(shape[2:]), int(cfg.INPUT.MIN_SIZE_TEST), int(cfg.INPUT.MAX_SIZE_TEST)
        if short != lo or long > hi:
            raise DeployError(f"input {shape[2]}x{shape[3]} is not a size Detectron2's test resize keeps (shortest edge"
                              f" INPUT.MIN_SIZE_TEST={lo}, longest at most INPUT.MAX_SIZE_TEST={hi}), so DefaultPredictor"
                              f" would see another image; add --option INPUT.MIN_SIZE_TEST={short} (and MAX_SIZE_TEST)")


def categories_of(cfg, name: str) -> list[str] | None:
    """Class names by class index: the shapes categories for this plugin's shapes configs, else the names Detectron2
    registers for the config's test dataset (COCO's 80, LVIS, Cityscapes) when their count is the model's."""
    from deploybridge.evaluation.datasets import shapes

    if name.startswith("shapes_"):
        return list(shapes.CATEGORIES)
    if not hasattr(cfg, "DATASETS") or not cfg.DATASETS.TEST:
        return None
    from detectron2.data import MetadataCatalog

    try:
        names = list(MetadataCatalog.get(cfg.DATASETS.TEST[0]).get("thing_classes", []))
    except (KeyError, AttributeError):
        return None
    heads = cfg.MODEL.RETINANET.NUM_CLASSES if cfg.MODEL.META_ARCHITECTURE == "RetinaNet" else cfg.MODEL.ROI_HEADS.NUM_CLASSES
    return names if len(names) == heads else None


def task_of(names) -> Task:
    return Task.KEYPOINTS if "keypoints" in names else Task.INSTANCE_MASKS if "masks" in names else Task.DETECTION


def load(spec: ModelSpec) -> LoadedModel:
    import torch

    from deploybridge_detectron2 import config as cfgmod
    from deploybridge_detectron2.calibration import CALIBRATION_IMAGES, calibrate_random
    from deploybridge_detectron2.wrapper import Detectron2Detector, predictor_reference

    name = spec.config or spec.model
    if not name:
        raise DeployError("the detectron2 family needs --config NAME_OR_PATH, e.g. --config"
                          " COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_3x --option MODEL.RESNETS.DEPTH=18")
    if not spec.weights and not spec.random_weights:
        raise DeployError("give --weights CHECKPOINT (a local .pth/.pkl: nothing is downloaded) or --random-weights")
    torch.manual_seed(spec.seed)
    model, cfg = cfgmod.build(name, dict(spec.options))
    module = Detectron2Detector(model).eval()
    pre = preprocessing(cfg, model)
    shape = tuple(spec.input_shape or default_shape(cfg, pre["pad_size_divisor"]))
    check_shape(shape, cfg)
    if spec.weights:
        cfgmod.load_weights(model, spec.weights)
    else:
        calibrate_random(model, [example_images((1, 3, *shape[2:]), seed)
                                 for seed in calibration_seeds(spec.seed, CALIBRATION_IMAGES)])
    names = module.names
    per_image = lambda seed: (example_images(shape, seed),)  # noqa: E731
    reference = predictor_reference(cfg, model) if hasattr(cfg, "INPUT") else None
    return LoadedModel(
        module=module,
        input_names=["images"],
        outputs=[OutputSpec(n, per_detection=True) for n in names],
        make_inputs=per_image,
        make_inputs_at=lambda seed, at: (example_images(at, seed),),
        exporter_reason="Detectron2 detectors trace with the legacy exporter (the dynamo exporter fails on them:"
                        " pytorch/vision 9306); post-processing runs in the graph",
        exporters=("legacy",),
        preprocessing=pre,
        task=task_of(names),
        categories=categories_of(cfg, name),  # labels are 0-based class indices
        framework_reference=reference,
        framework_name="Detectron2 DefaultPredictor" if reference else "",
    )
