"""Build a torchvision model from a ModelSpec and wrap it tensor-in/tensor-out."""
from __future__ import annotations

from pathlib import Path

from deploybridge.errors import DeployError, first_line
from deploybridge.parity.synthetic_inputs import calibration_seeds, smooth_images
from deploybridge.records import LoadedModel, ModelSpec, OutputSpec

from deploybridge_torchvision import keypoint_ties
from deploybridge_torchvision.catalogue import CATALOGUE, Entry
from deploybridge_torchvision.wrappers import IMAGENET_MEAN, IMAGENET_STD

# never verification inputs (calibration_seeds); a detector's head bias is set by the least-scoring of them
CALIBRATION_IMAGES = {"detection": 8, "keypoints": 8, "classification": 4, "segmentation": 4}

LEGACY_REASON = {
    "detection": "torch.export/dynamo still fail on torchvision detectors (pytorch/vision#9306, #9321); legacy tracing exporter",
    "keypoints": "torch.export/dynamo still fail on torchvision detectors (pytorch/vision#9306, #9321); legacy tracing exporter",
    "classification": "legacy exporter: stable opset choice and a single self-contained file",
    "segmentation": "legacy exporter: stable opset choice and a single self-contained file",
}


def _check_shape(name: str, entry: Entry, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    if len(shape) != 4 or shape[1] != 3:
        raise DeployError(f"{name} takes N,3,H,W RGB images; got --input-shape {','.join(map(str, shape))}")
    if entry.finds_objects and shape[0] != 1:
        raise DeployError(f"{name} is exported for one image at a time; use --input-shape 1,3,H,W")
    if entry.fixed_size and tuple(shape[2:]) != (entry.fixed_size, entry.fixed_size):
        # its transform resizes every image to this size inside the graph; the boxes are scaled back
        raise DeployError(f"{name} resizes every image to {entry.fixed_size}x{entry.fixed_size} inside the model; use"
                          f" --input-shape 1,3,{entry.fixed_size},{entry.fixed_size}")
    if min(shape[2:]) < 32:
        raise DeployError(f"{name}: input {shape[2]}x{shape[3]} is too small; use at least 32x32")
    return tuple(shape)  # type: ignore[return-value]


CHECKPOINTS = Path(__file__).parent / "checkpoints"


def _build(name: str, entry: Entry, shape, options: dict):
    import torchvision

    if entry.builder:
        from deploybridge_torchvision.shapes_models import BUILDERS

        if shape[2] != shape[3]:
            raise DeployError(f"{name} is exported for square images; use --input-shape 1,3,S,S")
        try:
            return BUILDERS[entry.builder](shape[2], **options)
        except TypeError as exc:
            raise DeployError(f"{name} does not accept these --option values: {first_line(exc)}") from None
    kwargs = dict(options)
    if entry.task != "classification":
        kwargs.setdefault("weights_backbone", None)
    if entry.task == "segmentation":
        kwargs.setdefault("aux_loss", False)
    if entry.finds_objects and not entry.fixed_size:
        # Export at the given size: no resize inside the graph.
        kwargs.setdefault("min_size", min(shape[2:]))
        kwargs.setdefault("max_size", max(shape[2:]))
    try:
        return torchvision.models.get_model(name, weights=None, **kwargs)
    except TypeError as exc:
        raise DeployError(f"{name} does not accept these --option values: {first_line(exc)}") from None


def shapes_images(seed: int, shape) -> "torch.Tensor":
    """Shapes-dataset images: what the project-trained models were trained on, so verification sees real detections;
    a verification seed draws a validation-split image (shapes.image_for_seed), further batch items fresh scenes."""
    import numpy as np
    import torch

    from deploybridge.evaluation.datasets.shapes import image_for_seed, make_image

    rng = np.random.default_rng(seed)
    batch = [image_for_seed(seed, shape[2], shape[3])] + [make_image(rng, shape[2], shape[3])[0] for _ in range(shape[0] - 1)]
    return torch.from_numpy(np.stack(batch)).permute(0, 3, 1, 2).float().div(255).contiguous()


def _categories(name: str, entry: Entry) -> list[str] | None:
    if entry.builder:
        from deploybridge.evaluation.datasets.shapes import CATEGORIES

        return ["__background__", *CATEGORIES]
    import torchvision

    try:  # names ship inside torchvision: no download
        return list(torchvision.models.get_model_weights(name).DEFAULT.meta["categories"])
    except (KeyError, ValueError, AttributeError):
        return None


def score_threshold(model) -> float | None:
    """The detector's own score cut (R-CNN heads: roi_heads.score_thresh; RetinaNet, FCOS, SSD: score_thresh), as
    --option may have set it."""
    value = getattr(getattr(model, "roi_heads", model), "score_thresh", None)
    return float(value) if value is not None else None


def load(spec: ModelSpec) -> LoadedModel:
    import torch

    from deploybridge_torchvision import weights as w
    from deploybridge_torchvision.wrappers import Detector, Normalized

    entry = CATALOGUE[spec.model]
    if entry.unavailable:
        raise DeployError(f"{spec.model} cannot be converted: {entry.unavailable}")
    shape = _check_shape(spec.model, entry, spec.input_shape or entry.default_shape)
    embedded = CHECKPOINTS / entry.checkpoint if entry.checkpoint else None
    if embedded is not None and not spec.weights and not spec.random_weights and not embedded.is_file():
        raise DeployError(f"{spec.model}: its committed checkpoint {embedded} is missing; reinstall deploybridge-torchvision or pass --weights")
    if not spec.weights and not spec.random_weights and embedded is None:
        raise DeployError(f"{spec.model}: give --weights FILE (or a pretrained name in the local torch cache) or --random-weights")
    # the shapes models were trained on shapes images: calibrated and verified on them too
    make_image = shapes_images if entry.builder else smooth_images
    torch.manual_seed(spec.seed)
    model = _build(spec.model, entry, shape, dict(spec.options))
    wrapper = Detector(model, entry.masks, entry.task == "keypoints") if entry.finds_objects else Normalized(model, entry.task == "segmentation")
    wrapper.eval()
    if spec.weights:
        path = Path(spec.weights)
        w.load_state(model, path if path.exists() else w.cached_pretrained_path(spec.model, spec.weights))
    elif not spec.random_weights:
        w.load_state(model, embedded)
    else:
        # several images: BatchNorm statistics from one image do not carry over to the next
        calibration = [make_image(s, (1,) + shape[1:]) for s in calibration_seeds(spec.seed, CALIBRATION_IMAGES[entry.task])]
        # detectors take one image per call; others one batch: BatchNorm after global pooling needs more than one value
        batches = calibration if entry.finds_objects else [torch.cat(calibration)]
        w.make_non_degenerate(model, wrapper, batches, entry.heads, entry.counts, entry.score_threshold)

    if entry.finds_objects:
        names = ["boxes", "scores", "labels"] + (["masks"] if entry.masks else [])
        names += ["keypoints", "keypoints_scores"] if entry.task == "keypoints" else []
        outputs = [OutputSpec(n, per_detection=True) for n in names]
        dynamic = {n: {0: "detections"} for n in names}
    else:
        outputs = [OutputSpec("logits" if entry.task == "classification" else "out")]
        dynamic = None
    return LoadedModel(
        module=wrapper,
        input_names=["images"],
        outputs=outputs,
        make_inputs=lambda seed: (make_image(seed, shape),),
        make_inputs_at=lambda seed, at: (make_image(seed, tuple(at)),),
        default_exporter="legacy",
        exporter_reason=LEGACY_REASON[entry.task],
        dynamic_axes=dynamic,
        task=entry.task,
        at_tie=keypoint_ties.at_tie(wrapper) if entry.task == "keypoints" else None,
        score_threshold=score_threshold(model) if entry.finds_objects else None,
        categories=_categories(spec.model, entry),
        preprocessing={
            "input": "float32 RGB in [0, 1], NCHW",
            "shape": list(shape),
            "normalization": "inside the graph" + (" (GeneralizedRCNNTransform)" if entry.finds_objects else f" (mean {list(IMAGENET_MEAN)}, std {list(IMAGENET_STD)})"),
            "resize": "none: feed images of exactly this size",
        },
    )

