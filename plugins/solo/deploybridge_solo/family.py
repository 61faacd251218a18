"""The ``solo`` family: SOLOv2 from an MMDetection config, post-processing in the graph (deploybridge_solo.graph)
or on the host (``--option placement=host``, deploybridge_solo.host)."""
from __future__ import annotations

from pathlib import Path

from deploybridge.errors import DeployError
from deploybridge.parity.synthetic_inputs import calibration_seeds
from deploybridge.records import LoadedModel, ModelSpec, OutputSpec, Task

HERE = Path(__file__).parent
SHAPES_CONFIG = HERE / "configs" / "solov2_shapes.py"
SHAPES_CHECKPOINT = HERE / "checkpoints" / "solov2_shapes.pth"
DEFAULT_SHAPE = (1, 3, 192, 192)
# graph: post-processing inside the engine (fixed size); host: the engine ends at the head, deploybridge_solo.host
PLACEMENTS = ("graph", "host")


def bgr_tensor(pixels_rgb):
    """HxWx3 uint8 RGB -> 1x3xHxW float BGR 0-255, as MMDetection's LoadImageFromFile hands it on."""
    import torch

    return torch.from_numpy(pixels_rgb[..., ::-1].copy()).permute(2, 0, 1)[None].float()


def shapes_image(shape, seed: int):
    """A shapes image (what the shapes model was trained on) as MMDetection feeds it: BGR, 0-255 float; a
    verification seed draws a validation-split image (shapes.image_for_seed)."""
    from deploybridge.evaluation.datasets import shapes

    return bgr_tensor(shapes.image_for_seed(seed, shape[2], shape[3]))


def mmdeploy_export(model, pre: dict, inputs: tuple, path, opset: int, dynamic: bool) -> None:
    """--exporter mmdeploy: MMDeploy's own SOLO conversion, given this family's input and outputs."""
    from deploybridge_mmdet import mmdeploy_export as peer
    from deploybridge_mmdet.mmdeploy_outputs import solo_declared_outputs

    peer.run_mmdeploy(model, inputs[0], path, opset, dynamic)
    cfg = model.mask_head.test_cfg
    solo_declared_outputs(path, pre, float(cfg.filter_thr), float(cfg.mask_thr), "images")


def shapes_categories():
    from deploybridge.evaluation.datasets.shapes import CATEGORIES

    return CATEGORIES


def load(spec: ModelSpec) -> LoadedModel:
    import torch

    from deploybridge_mmdet import config as cfgmod
    from deploybridge_mmdet.calibration import CALIBRATION_IMAGES
    from deploybridge_solo import calibration
    from deploybridge_mmdet.family import example_images
    from deploybridge_mmdet.reference import mmdet_predict
    from deploybridge_solo.graph import SOLOGraph, variant_of

    name = spec.config or spec.model
    shapes = name in (None, "", "solov2_shapes")
    config = str(SHAPES_CONFIG) if shapes else name
    torch.manual_seed(spec.seed)
    model, cfg = cfgmod.build(config)
    weights = spec.weights or (str(SHAPES_CHECKPOINT) if shapes and not spec.random_weights else None)
    if weights:
        cfgmod.load_checkpoint(model, weights, name or "solov2_shapes")
    elif not spec.random_weights:
        raise DeployError("give --weights CHECKPOINT (a local file: nothing is downloaded) or --random-weights")
    if variant_of(getattr(model, "mask_head", None)) is None:
        raise DeployError(f"config '{name}' builds a {type(model).__name__}; the solo family converts SOLO, Decoupled SOLO"
                          " and SOLOv2 (with their Light heads); use --plugin mmdet for other detectors")
    shape = tuple(spec.input_shape or DEFAULT_SHAPE)
    pre = cfgmod.preprocessing(cfg)
    placement = str(spec.options.get("placement", "graph"))
    if placement not in PLACEMENTS:
        raise DeployError(f"--option placement={placement}: choose one of {', '.join(PLACEMENTS)}")
    make_inputs = (lambda seed: (shapes_image(shape, seed),)) if shapes else (lambda seed: (example_images(shape, seed),))
    if not weights:
        calibration.calibrate_random_head(  # on images verification never uses
            model, [make_inputs(seed)[0] for seed in calibration_seeds(spec.seed, CALIBRATION_IMAGES)], pre)
    return LoadedModel(
        module=SOLOGraph(model.eval(), pre, placement).eval(),
        input_names=["images"],
        outputs=[OutputSpec("masks", per_detection=True), OutputSpec("scores", per_detection=True),
                 OutputSpec("labels", per_detection=True)],
        make_inputs=make_inputs,
        exporter_reason=("SOLOv2 traces with the legacy exporter; dynamo bakes CoordConv's linspace grid (rewrite linspace)"
                         + ("; the host step is a legacy-exporter symbolic" if placement == "host" else "")),
        exporters=("legacy",) if placement == "host" else ("legacy", "dynamo"),
        preprocessing=pre,
        # --option dynamic=true: any H and W (multiples of the pad divisor); SOLO's grids are fixed, so every
        # candidate count in the post-processing stays the same and only the mask maps change size
        dynamic_axes={"images": {2: "height", 3: "width"}, "masks": {0: "instances", 1: "height", 2: "width"},
                      "scores": {0: "instances"}, "labels": {0: "instances"}} if spec.options.get("dynamic") else None,
        other_shapes=[(shape[0], 3, shape[2] - 32, shape[3] + 32), (shape[0], 3, shape[2] + 64, shape[3] + 64)],
        make_inputs_at=(lambda seed, at: (shapes_image(at, seed),)) if shapes else (lambda seed, at: (example_images(at, seed),)),
        framework_reference=lambda inputs: mmdet_predict(model, inputs[0], pre),
        extra_exporters={"mmdeploy": lambda inputs, path, opset: mmdeploy_export(model, pre, inputs, path, opset,
                                                                                bool(spec.options.get("dynamic")))},
        framework_name="MMDetection predict",
        task=Task.MASK_INSTANCES,  # every verification pairs the instances by mask IoU (deploybridge.parity.tasks)
        categories=list(shapes_categories()) if shapes else None,  # labels are 0-based class indices
    )
