"""The detectron2 family loader: configs and --option overrides, non-degenerate random weights, fixed outputs,
DefaultPredictor as the reference, input shapes DefaultPredictor keeps."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("detectron2", reason="Detectron2 not installed: run `deploy install detectron2`")

from deploybridge.errors import DeployError  # noqa: E402
from deploybridge.parity.synthetic_inputs import verification_seeds  # noqa: E402
from deploybridge.records import ModelSpec, Task  # noqa: E402

MASK_RCNN = "COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_3x"
R18 = {"MODEL.RESNETS.DEPTH": 18, "MODEL.RESNETS.RES2_OUT_CHANNELS": 64, "INPUT.MIN_SIZE_TEST": 192}


def _load(config=MASK_RCNN, **options):
    from deploybridge_detectron2.family import load

    return load(ModelSpec(family="detectron2", model="", config=config, random_weights=True, options={**R18, **options}))


@pytest.fixture(scope="module")
def mask_rcnn():
    return _load()


def _run(loaded, seed):
    import torch

    with torch.no_grad():
        return dict(zip(loaded.output_names, (t.numpy() for t in loaded.module(*loaded.make_inputs(seed)))))


def test_options_override_the_zoo_config_in_detectron2_form(mask_rcnn):
    from deploybridge_detectron2.config import yacs_config, config_path

    model = mask_rcnn.module.model
    assert type(model.backbone.bottom_up.res2[0]).__name__ == "BasicBlock"  # DEPTH=18 took effect
    cfg = yacs_config(config_path(MASK_RCNN), {**R18, "MODEL.ROI_HEADS.SCORE_THRESH_TEST": 0})  # int for a float key
    assert cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST == 0.0 and cfg.INPUT.MIN_SIZE_TEST == 192
    with pytest.raises(DeployError, match="no such Detectron2 config key"):
        yacs_config(config_path(MASK_RCNN), {"MODEL.RESNETS.DEPTHS": 18})


def test_outputs_have_fixed_names_order_and_task(mask_rcnn):
    assert mask_rcnn.output_names == ["boxes", "scores", "classes", "masks"]
    assert mask_rcnn.task == Task.INSTANCE_MASKS
    pre = mask_rcnn.preprocessing
    assert pre["loaded_channel_order"] == "BGR" and pre["resize"]["shortest_edge"] == 192
    assert pre["mean"] == pytest.approx([103.53, 116.28, 123.675]) and pre["pad_size_divisor"] == 32


def _informative(out) -> bool:
    """Detections to compare, whose scores are not saturated at 1.0 (ties there make the order arbitrary). Measured
    (R18, 192², 3 verification inputs): calibrated 0 % of scores over 0.999; uncalibrated 12-27 %."""
    scores = out["scores"]
    return len(scores) >= 5 and float((scores > 0.999).mean()) <= 0.05 and len(np.unique(out["classes"])) > 1


def test_random_weights_detect_on_every_verification_input(mask_rcnn):
    """Untouched, Detectron2's random init is degenerate (FrozenBN identities let activations grow block by block:
    softmax scores saturate at 1.0, or one box at 0.9995 then ~1e-9 with R50): calibrated, every verification
    input has detections with scores that are not saturated."""
    for seed in verification_seeds(0, 3):
        assert _informative(_run(mask_rcnn, seed)), seed


def test_uncalibrated_random_weights_are_degenerate(monkeypatch):
    """The planted case for the test above: without calibration the same model gives saturated scores."""
    import deploybridge_detectron2.calibration as calibration

    monkeypatch.setattr(calibration, "calibrate_random", lambda model, images: None)
    loaded = _load()
    outs = [_run(loaded, seed) for seed in verification_seeds(0, 3)]
    assert not any(_informative(out) for out in outs), [float((o["scores"] > 0.999).mean()) for o in outs]


def test_default_predictor_is_the_reference_and_agrees(mask_rcnn):
    from deploybridge.parity.framework import instance_parity

    assert mask_rcnn.framework_name == "Detectron2 DefaultPredictor"
    seed = verification_seeds(0, 1)[0]
    framework = mask_rcnn.framework_reference(mask_rcnn.make_inputs(seed))
    wrapper = _run(mask_rcnn, seed)
    rename = lambda out: {("labels" if k == "classes" else k): v for k, v in out.items()}  # noqa: E731
    result = instance_parity(rename(framework), rename(wrapper))
    assert result["passed"] and result["matched"] == len(wrapper["scores"]) > 0, result


@pytest.mark.parametrize("shape, message", [((1, 3, 256, 256), "INPUT.MIN_SIZE_TEST=256"),
                                            ((2, 3, 192, 192), "one image")])
def test_shapes_default_predictor_would_change_are_refused(shape, message):
    from deploybridge_detectron2.family import load

    with pytest.raises(DeployError, match=message):
        load(ModelSpec(family="detectron2", model="", config=MASK_RCNN, random_weights=True, options=R18,
                       input_shape=shape))


def test_configs_that_need_the_compiled_ops_are_refused_naming_them():
    from deploybridge_detectron2.config import build

    with pytest.raises(DeployError, match=r"deformable convolution .*_C"):
        build("COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_3x", {"MODEL.RESNETS.DEFORM_ON_PER_STAGE": [False, True, True, True]})
