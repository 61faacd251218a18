"""The ``mmdet`` family: an MMDetection config (+ local checkpoint) -> a LoadedModel the pipeline converts."""
from __future__ import annotations

from deploybridge.errors import DeployError
from deploybridge.parity.synthetic_inputs import calibration_seeds
from deploybridge.records import LoadedModel, ModelSpec, OutputSpec

DEFAULT_SHAPE = (1, 3, 320, 320)


def example_images(shape, seed: int):
    """Deterministic 0-255 images with structure at several scales (smooth blobs plus texture)."""
    import torch

    g = torch.Generator().manual_seed(seed)
    n, c, h, w = shape
    coarse = torch.rand(n, c, max(h // 32, 2), max(w // 32, 2), generator=g)
    smooth = torch.nn.functional.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False)
    return ((0.8 * smooth + 0.2 * torch.rand(shape, generator=g)) * 255).float()


def load(spec: ModelSpec) -> LoadedModel:
    import torch

    from deploybridge_mmdet import config as cfgmod, support
    from deploybridge_mmdet.calibration import CALIBRATION_IMAGES, calibrate_random
    from deploybridge_mmdet.dense import DenseDetector, is_dense
    from deploybridge_mmdet.two_stage import TwoStageDetector, is_two_stage
    from deploybridge_mmdet.reference import mmdet_predict

    name = spec.config or spec.model
    if not name:
        raise DeployError("the mmdet family needs --config NAME_OR_PATH, e.g. --config retinanet/retinanet_r18_fpn_1x_coco")
    torch.manual_seed(spec.seed)
    model, cfg = cfgmod.build(name, check=lambda model_cfg: support.check(model_cfg, name))  # before building
    if spec.weights:
        cfgmod.load_checkpoint(model, spec.weights, name)
    elif not spec.random_weights:
        raise DeployError("give --weights CHECKPOINT (a local file: nothing is downloaded) or --random-weights")
    pre = cfgmod.preprocessing(cfg)
    shape = tuple(spec.input_shape or DEFAULT_SHAPE)
    divisor = pre["pad_size_divisor"]
    if len(shape) != 4 or shape[1] != 3 or shape[2] % divisor or shape[3] % divisor:
        raise DeployError(f"input shape {shape} must be N,3,H,W with H and W multiples of {divisor} (the config's pad_size_divisor)")
    if is_dense(model):
        module = DenseDetector(model, pre)
    elif is_two_stage(model):
        module = TwoStageDetector(model, pre)
    else:
        raise DeployError(f"config '{name}' builds a {type(model).__name__}, which the mmdet family does not convert; it converts"
                          f" {support.SUPPORTED}")
    with torch.no_grad():  # an op the mmcv layer lacks fails here, naming itself (exit 2), before any export
        probe = torch.zeros(1, 3, *shape[2:])
        model.extract_feat(probe) if hasattr(model, "roi_head") else model._forward(probe)
    if not spec.weights:  # heads that detect something on inputs verification never uses
        calibrate_random(model, module, [example_images((1, 3, *shape[2:]), seed)
                                         for seed in calibration_seeds(spec.seed, CALIBRATION_IMAGES)])
    names = ["boxes", "scores", "labels"] + (["masks"] if getattr(module, "with_mask", False) else [])
    return LoadedModel(
        module=module.eval(),
        input_names=["images"],
        outputs=[OutputSpec(n, per_detection=True) for n in names],
        make_inputs=lambda seed: (example_images(shape, seed),),
        exporter_reason="MMDetection detectors trace with the legacy exporter; post-processing rewritten as tensor ops",
        preprocessing=pre,
        task="detection",
        categories=None,
        framework_reference=lambda inputs: mmdet_predict(model, inputs[0], pre),
        framework_name="MMDetection predict",
    )
