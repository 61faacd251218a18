"""Framework parity: Detectron2's own DefaultPredictor (its resize, BGR handling and post-processing, the same
weights in its own model copy) against the exported wrapper, instances paired within class by box IoU (mask IoU for
masks). It passes on the real thing and fails on the smallest differences that matter, planted into
DefaultPredictor's side only: one classifier bias shifted by 0.5, and every class id moved by one."""
from __future__ import annotations

from collections import Counter

import pytest

pytest.importorskip("detectron2", reason="Detectron2 not installed: run `deploy install detectron2`")

from deploybridge.parity import framework  # noqa: E402
from deploybridge.parity.synthetic_inputs import verification_seeds  # noqa: E402
from deploybridge.records import ModelSpec  # noqa: E402

R18 = {"MODEL.RESNETS.DEPTH": 18, "MODEL.RESNETS.RES2_OUT_CHANNELS": 64, "INPUT.MIN_SIZE_TEST": 192}
SEEDS = verification_seeds(0, 2)


@pytest.fixture(scope="module")
def faster():
    from deploybridge_detectron2.family import load

    return load(ModelSpec(family="detectron2", model="", config="COCO-Detection/faster_rcnn_R_50_FPN_3x",
                          random_weights=True, options=R18))


def _check(loaded) -> dict:
    import torch

    def wrapper(seed):
        with torch.no_grad():
            outputs = loaded.module(*loaded.make_inputs(seed))
        return None, {n: t.numpy() for n, t in zip(loaded.output_names, outputs)}

    return framework.check(loaded.framework_reference, loaded.make_inputs, wrapper, SEEDS)


def _planted(monkeypatch, change):
    """DefaultPredictor.__call__ with ``change(predictor, original_call, image)`` in its place."""
    from detectron2.engine import DefaultPredictor

    original = DefaultPredictor.__call__
    monkeypatch.setattr(DefaultPredictor, "__call__", lambda self, image: change(self, original, image))


def test_default_predictor_matches_the_wrapper(faster):
    result = _check(faster)
    assert result["passed"], result
    for row in result["inputs"]:
        assert row["matched_by"] == "boxes" and row["matched"] == row["framework_count"] == row["wrapper_count"] > 0
        assert row["max_score_deviation"] == 0.0 and row["min_iou"] == 1.0, row


def test_one_changed_classifier_bias_fails(faster, monkeypatch):
    import torch

    with torch.no_grad():
        classes = faster.module(*faster.make_inputs(SEEDS[0]))[2]
    common = Counter(classes.tolist()).most_common(1)[0][0]  # the class most detections have

    def shifted(predictor, call, image):
        bias = predictor.model.roi_heads.box_predictor.cls_score.bias
        kept = bias.detach().clone()
        with torch.no_grad():
            bias[common] += 0.5
            try:
                return call(predictor, image)
            finally:
                bias.copy_(kept)

    _planted(monkeypatch, shifted)
    result = _check(faster)
    assert not result["passed"]
    assert max(r["max_score_deviation"] for r in result["inputs"]) > framework.THRESHOLDS["max_score_deviation"], result


def test_swapped_classes_fail(faster, monkeypatch):
    def next_class(predictor, call, image):
        out = call(predictor, image)
        out["instances"].pred_classes = (out["instances"].pred_classes + 1) % 80
        return out

    _planted(monkeypatch, next_class)
    result = _check(faster)
    # a proposal may give near-identical boxes for neighbouring classes, so one may still pair: measured 1 of 100
    fractions = [r["matched_fraction"] for r in result["inputs"]]
    assert not result["passed"] and max(fractions) < 0.1, fractions
