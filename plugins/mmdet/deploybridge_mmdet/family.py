"""The ``mmdet`` family: an MMDetection config (+ local checkpoint) -> a LoadedModel the pipeline converts."""
from __future__ import annotations

from deploybridge.errors import DeployError
from deploybridge.parity.synthetic_inputs import calibration_seeds
from deploybridge.records import LoadedModel, ModelSpec, OutputSpec, Task

DEFAULT_SHAPE = (1, 3, 320, 320)


def example_images(shape, seed: int):
    """Deterministic 0-255 images with structure at several scales (smooth blobs plus texture)."""
    import torch

    g = torch.Generator().manual_seed(seed)
    n, c, h, w = shape
    coarse = torch.rand(n, c, max(h // 32, 2), max(w // 32, 2), generator=g)
    smooth = torch.nn.functional.interpolate(coarse, size=(h, w), mode="bilinear", align_corners=False)
    return ((0.8 * smooth + 0.2 * torch.rand(shape, generator=g)) * 255).float()


UNSET_AT_BUILD = ("level_embed",)  # allocated with torch.Tensor(...), set only by init_weights (a checkpoint loads it)


def initialise_unset(model) -> None:
    """Random weights for the parameters MMDetection allocates uninitialised (Deformable DETR's and DINO's
    ``level_embed``) and sets only in ``init_weights``, as it does (normal): left as they were built, they held whatever
    memory they got. Measured: the Deformable DETR test's artifact once gave NaN for every detection (248 of 256
    level-embedding values NaN, folded into a constant), in the suite and not alone."""
    import torch

    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.rsplit(".", 1)[-1] in UNSET_AT_BUILD:
                torch.nn.init.normal_(parameter)


def _masks(model) -> bool:
    roi = getattr(model, "roi_head", None)
    return bool(getattr(roi, "with_mask", False)) or hasattr(model, "mask_head") or "Ins" in type(getattr(model, "bbox_head", None)).__name__


def mask_rule(model) -> tuple[float, bool]:
    """(threshold, strict) by which this model's predict binarises masks: FCN mask heads keep probabilities
    ``>= mask_thr_binary``; CondInst and RTMDet-Ins keep ``> mask_thr(_binary)``."""
    cfg = model.test_cfg or {}
    if "rcnn" in cfg:
        return float(cfg["rcnn"].get("mask_thr_binary", 0.5)), False
    return float(cfg.get("mask_thr_binary", cfg.get("mask_thr", 0.5))), True


def mmdeploy_export(model, pre: dict, names: list[str], inputs: tuple, path, opset: int, probabilities: bool) -> None:
    """--exporter mmdeploy: MMDeploy's own conversion of this detector, given the family's input and outputs (mask
    probabilities when the reference is the native module, which gives them; else masks binarised as predict does)."""
    from deploybridge_mmdet import mmdeploy_export as peer
    from deploybridge_mmdet.mmdeploy_outputs import declare_outputs

    if opset < 16 and any(key in type(model).__name__ for key in ("Deformable", "DINO")):
        raise DeployError(f"{type(model).__name__}'s deformable attention samples with grid_sample, which ONNX has from"
                          " opset 16; choose --opset 16 or higher")
    rcnn = getattr(getattr(model, "roi_head", None), "test_cfg", None) if probabilities else None
    binary = rcnn.get("mask_thr_binary") if rcnn else None
    if binary is not None:  # MMDeploy's mask head binarises only when the threshold is >= 0: probabilities, as native
        rcnn["mask_thr_binary"] = -1.0
    try:
        peer.run_mmdeploy(model, inputs[0], path, opset, False, "masks" in names)
    finally:
        if binary is not None:
            rcnn["mask_thr_binary"] = binary
    threshold, strict = mask_rule(model) if "masks" in names and not probabilities else (None, True)
    declare_outputs(path, pre, names, "images", mask_thr=threshold, mask_strict=strict)


def load(spec: ModelSpec) -> LoadedModel:
    import torch

    from deploybridge_mmdet import config as cfgmod, support
    from deploybridge_mmdet.calibration import CALIBRATION_IMAGES, calibrate_random, knows
    from deploybridge_mmdet.calibration_generic import calibrate_by_predict
    from deploybridge_mmdet.cascade import CascadeDetector, is_cascade
    from deploybridge_mmdet.condinst import CondInstDetector, is_condinst
    from deploybridge_mmdet.dense import DenseDetector, is_dense
    from deploybridge_mmdet.predict_module import Predict, detection_count, top_score
    from deploybridge_mmdet.reference import mmdet_predict
    from deploybridge_mmdet.rtmdet_ins import RTMDetInsDetector, is_rtmdet_ins, spread_mask_kernels
    from deploybridge_mmdet.two_stage import TwoStageDetector, is_two_stage

    name = spec.config or spec.model
    if not name:
        raise DeployError("the mmdet family needs --config NAME_OR_PATH, e.g. --config retinanet/retinanet_r18_fpn_1x_coco")
    torch.manual_seed(spec.seed)
    paths: list[str] = []
    model, cfg = cfgmod.build(name, check=lambda model_cfg: paths.extend(support.check(model_cfg, name)))  # before building
    if spec.weights:
        cfgmod.load_checkpoint(model, spec.weights, name)
    elif not spec.random_weights:
        raise DeployError("give --weights CHECKPOINT (a local file: nothing is downloaded) or --random-weights")
    else:
        initialise_unset(model)
    pre = cfgmod.preprocessing(cfg)
    shape = tuple(spec.input_shape or DEFAULT_SHAPE)
    divisor = pre["pad_size_divisor"]
    if len(shape) != 4 or shape[1] != 3 or shape[2] % divisor or shape[3] % divisor:
        raise DeployError(f"input shape {shape} must be N,3,H,W with H and W multiples of {divisor} (the config's pad_size_divisor)")
    names = ["boxes", "scores", "labels"] + (["masks"] if _masks(model) else [])
    native = support.NATIVE in paths
    if native and is_rtmdet_ins(model):  # a dense head too, with masks: before is_dense
        module = RTMDetInsDetector(model, pre)
    elif native and is_condinst(model):  # an FCOS head and a mask head: before is_dense
        module = CondInstDetector(model, pre)
    elif native and is_dense(model):
        module = DenseDetector(model, pre)
    elif native and is_two_stage(model):
        module = TwoStageDetector(model, pre)
    elif native and is_cascade(model):
        module = CascadeDetector(model, pre)
    else:  # MMDeploy's export only: held to MMDetection's predict, which is also the PyTorch reference
        native, module = False, Predict(model, pre, names)
    with torch.no_grad():  # an op the mmcv layer lacks fails here, naming itself (exit 2), before any export
        probe = torch.zeros(1, 3, *shape[2:])
        # CondInst's _forward runs its training loss (it needs data samples): its native module is probed instead
        module(probe) if not native or is_condinst(model) else model.extract_feat(probe) if hasattr(model, "roi_head") else model._forward(probe)
    calibration_images = [example_images((1, 3, *shape[2:]), seed) for seed in calibration_seeds(spec.seed, CALIBRATION_IMAGES)]
    if not spec.weights and native and knows(model):  # heads that detect something on inputs verification never uses
        calibrate_random(model, module, calibration_images)
    elif not spec.weights:
        calibrate_by_predict(model, calibration_images, detection_count(model, pre), top_score(model, pre))
    if not spec.weights and is_rtmdet_ins(model):  # masks neither all foreground nor all background
        spread_mask_kernels(model, calibration_images, detection_count(model, pre))
    if native:
        names = names[:3] + (["masks"] if getattr(module, "with_mask", False) else [])  # native masks: probabilities
    mmdeploy = support.MMDEPLOY in paths
    return LoadedModel(
        module=module.eval(),
        input_names=["images"],
        outputs=[OutputSpec(n, per_detection=True) for n in names],
        make_inputs=lambda seed: (example_images(shape, seed),),
        default_exporter="legacy" if native else "mmdeploy",
        exporters=("legacy", "dynamo") if native else ("mmdeploy",),
        exporter_reason=("MMDetection detectors trace with the legacy exporter; post-processing rewritten as tensor ops" if native
                         else f"{type(model).__name__} converts through MMDeploy's own rewriters only (--exporter mmdeploy)"),
        extra_exporters={"mmdeploy": lambda inputs, path, opset: mmdeploy_export(model, pre, names, inputs, path, opset, native)}
        if mmdeploy else {},
        preprocessing=pre,
        task=Task.INSTANCE_MASKS if "masks" in names and not native else Task.DETECTION,
        categories=None,
        framework_reference=lambda inputs: mmdet_predict(model, inputs[0], pre),
        framework_name="MMDetection predict",
    )
