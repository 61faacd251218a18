"""The ``detr`` family: model catalogue, weights and the LoadedModel the pipeline converts."""
from __future__ import annotations

from pathlib import Path

from deploybridge.errors import DeployError
from deploybridge.records import LoadedModel, ModelSpec, OutputSpec, Task

from deploybridge_detr.model import IMAGENET_MEAN, IMAGENET_STD, Config

MODELS = {
    # DETR-R50 as the paper: hidden 256, 6 + 6 layers, 8 heads, FFN 2048, 100 queries
    "detr_r50": Config("resnet50", hidden=256, encoder_layers=6, decoder_layers=6, heads=8, num_queries=100,
                       feedforward=2048),
    # for tests: ResNet-18, hidden 128, 2 + 2 layers, 50 queries
    "detr_r18_tiny": Config("resnet18", hidden=128, encoder_layers=2, decoder_layers=2, heads=8, num_queries=50,
                            feedforward=512),
}
DEFAULT_MODEL = "detr_r50"
DEFAULT_SIZE = 320
CALIBRATION_IMAGES = 4
OUTPUTS = ("boxes", "scores", "labels")
EXPORTER_REASON = ("fixed-size graph of standard ops (ResNet, nn.Transformer, softmax/max): the legacy exporter is"
                   " enough; dynamo converts and verifies too")


def input_shape(spec: ModelSpec) -> tuple[int, int, int, int]:
    shape = tuple(spec.input_shape or (1, 3, DEFAULT_SIZE, DEFAULT_SIZE))
    if len(shape) != 4 or shape[0] != 1 or shape[1] != 3:
        raise DeployError(f"detr takes one RGB image: --input-shape 1,3,H,W (got {','.join(map(str, shape))})")
    if min(shape[2:]) < 32 or max(shape[2:]) > 1600:
        raise DeployError(f"detr input height and width must be 32..1600 px (the positional table covers 50 x 50 feature"
                          f" cells); got {shape[2]}x{shape[3]}")
    return shape  # type: ignore[return-value]


def load(spec: ModelSpec) -> LoadedModel:
    import torch

    from deploybridge.parity.synthetic_inputs import calibration_seeds, smooth_images
    from deploybridge_detr import calibration
    from deploybridge_detr.model import Detections, MinimalDETR

    name = spec.model or DEFAULT_MODEL
    if name not in MODELS:
        raise DeployError(f"unknown detr model '{name}'; known: {', '.join(MODELS)}")
    if spec.options:
        raise DeployError(f"detr takes no --option (got {', '.join(spec.options)}); pick a model with --model")
    if not spec.weights and not spec.random_weights:
        raise DeployError("detr ships no trained weights: give --random-weights, or --weights FILE (a state_dict of"
                          " this model)")
    cfg = MODELS[name]
    shape = input_shape(spec)
    torch.manual_seed(spec.seed)
    detr = MinimalDETR(cfg).eval()
    if spec.weights:
        _load_state(detr, Path(spec.weights))
    else:
        images = [smooth_images(s, shape) for s in calibration_seeds(spec.seed, CALIBRATION_IMAGES)]
        calibration.calibrate(detr, images, confident=cfg.num_queries // 5)
    return LoadedModel(
        module=Detections(detr).eval(),
        input_names=["images"],
        outputs=[OutputSpec(n, per_detection=True) for n in OUTPUTS],
        make_inputs=lambda seed: (smooth_images(seed, shape),),
        default_exporter="legacy",
        exporter_reason=EXPORTER_REASON,
        exporters=("legacy", "dynamo"),
        task=Task.DETECTION,
        preprocessing={
            "input": "float32 RGB in [0, 1], NCHW, one image",
            "shape": list(shape),
            "normalization": f"inside the graph (mean {list(IMAGENET_MEAN)}, std {list(IMAGENET_STD)})",
            "resize": "none: feed images of exactly this size",
            "outputs": f"one row per query ({cfg.num_queries}): boxes xyxy in input pixels, scores = best class"
                       f" probability other than no-object, labels = that class (COCO category id); no NMS, no"
                       f" threshold (random weights were calibrated at {calibration.THRESHOLD})",
        },
    )


def _load_state(detr, path: Path) -> None:
    import torch

    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise DeployError(f"weights file {path} not found; give an existing checkpoint path") from None
    except Exception as exc:
        raise DeployError(f"cannot read {path} as a torch checkpoint ({type(exc).__name__}); save it with"
                          f" torch.save(model.state_dict(), path)") from None
    state = state.get("model", state) if isinstance(state, dict) else state
    try:
        detr.load_state_dict(state)
    except (RuntimeError, AttributeError) as exc:
        raise DeployError(f"{path} does not fit this detr model ({str(exc).splitlines()[0][:120]}); check --model") from None
