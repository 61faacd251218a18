"""Every listed torchvision model converts, builds ONNX Runtime and verifies; random weights are not degenerate."""
import json

import pytest
import torch

from deploybridge.records import ModelSpec
from deploybridge_torchvision.catalogue import CATALOGUE
from deploybridge_torchvision.load import load

DETECTION_CAP = {"retinanet_resnet50_fpn": 300}
# The R50s at 192² / 160² (at their default 320² they took 62-139 s each in CI), the rest at their default sizes; the
# other builders at small sizes in test_zoo.py. Mask R-CNN at 192² keeps 2 detections in float64 that float32 does
# not: the noise floor pairs the detections both keep (boxes 0.0019 px; paired by position it was 24.6 px, capped)
SIZES = {"retinanet_resnet50_fpn": 192, "fasterrcnn_resnet50_fpn": 192, "deeplabv3_resnet50": 160,
         "maskrcnn_resnet50_fpn": 192}
MODELS = ["resnet50", "mobilenet_v3_small", "deeplabv3_resnet50", "retinanet_resnet50_fpn", "fasterrcnn_resnet50_fpn",
          "fasterrcnn_mobilenet_v3_large_320_fpn", "maskrcnn_resnet50_fpn", "shapes_maskrcnn", "shapes_retinanet"]


@pytest.mark.parametrize("model", MODELS)
def test_convert_then_verify(cli, tmp_path, model):
    out = tmp_path / model
    size = ["--input-shape", f"1,3,{SIZES[model]},{SIZES[model]}"] if model in SIZES else []
    result = cli("convert", "--plugin", "torchvision", "--model", model, "--random-weights", *size, "--out", out)
    assert result.code == 0, result.out + result.err
    manifest = json.loads((out / "manifest.json").read_text())
    details = manifest["verification"]["details"]
    assert details["passed"] and len(details["inputs"]) == 3
    for check in details["inputs"]:
        for c in check["outputs"]:
            tol = details["tolerances"][c["name"]]
            assert c["max_abs"] is not None and c["max_abs"] <= tol["atol"] + tol["rtol"] * 1e4, c  # recorded, finite
            assert c["passed"]
        if CATALOGUE[model].task == "detection":
            assert check["detections_ref"] == check["detections_got"]
    # tolerances were derived from a measured noise floor and stay well below a visible error
    for name, tol in manifest["tolerances"].items():
        assert tol["noise_floor"] is not None and tol["atol"] < 0.05, (name, tol)
    assert manifest["export"]["exporter"] == "legacy" and manifest["export"]["reason"]
    # every export warning was looked at (torch's by the built-in plugin, torchvision's by this one), except
    # batched_nms' size test in torchvision.ops.boxes, which nobody has triaged yet
    unknown = [w["module"] for w in manifest["export_warnings"] if w["verdict"] == "unknown"]
    assert unknown == (["torchvision.ops.boxes"] if model == "retinanet_resnet50_fpn" else []), unknown
    assert [o["name"] for o in manifest["outputs"]] == (
        ["boxes", "scores", "labels"] + (["masks"] if CATALOGUE[model].masks else [])
        if CATALOGUE[model].task == "detection" else ["logits" if CATALOGUE[model].task == "classification" else "out"]
    )
    again = cli("verify", out)
    assert again.code == 0, again.out + again.err


@pytest.mark.parametrize("model", [m for m in MODELS if CATALOGUE[m].task == "detection"])
def test_random_detectors_find_objects_on_every_verification_input(model):
    """Issue 17: a verification where the reference detects nothing is inconclusive. The head bias is set by the
    least-scoring of 8 calibration images (a random detector's scores scale with each image's contrast: calibrated
    on the average, RetinaNet found 300, 0 and 11 objects on seed 0's inputs, and nothing on seed 1's)."""
    from deploybridge.parity.verification import seeds_for

    for weight_seed in (0, 1) if CATALOGUE[model].builder or "mobilenet" in model else (0,):  # R50s: one load is ~15 s
        spec = ModelSpec("torchvision", model, random_weights=True, seed=weight_seed)
        loaded = load(spec)
        with torch.no_grad():
            outs = [loaded.module(*loaded.make_inputs(seed)) for seed in seeds_for(spec, 3)]
        counts = [len(out[1]) for out in outs]
        scores = torch.cat([out[1] for out in outs])
        assert min(counts) >= 1 and max(counts) <= DETECTION_CAP.get(model, 100), (weight_seed, counts)
        assert float(scores.min()) >= 0.05 and float(scores.max() - scores.min()) > 0.2, scores


def test_random_heads_are_calibrated_on_images_verification_never_uses(monkeypatch):
    from deploybridge.parity.verification import seeds_for
    from deploybridge_torchvision import weights

    seen = []
    real = weights.make_non_degenerate
    monkeypatch.setattr(weights, "make_non_degenerate", lambda model, forward, batches, *a, **kw: (
        seen.extend(batches), real(model, forward, batches, *a, **kw))[1])
    spec = ModelSpec("torchvision", "shapes_retinanet", random_weights=True)
    loaded = load(spec)
    assert len(seen) == 8
    for seed in seeds_for(spec, 3):
        (images,) = loaded.make_inputs(seed)
        assert not any(torch.equal(images, calibration) for calibration in seen)


@pytest.mark.parametrize("model", [m for m in MODELS if CATALOGUE[m].task != "detection"])
def test_random_classifiers_and_segmenters_are_not_degenerate(model):
    loaded = load(ModelSpec("torchvision", model, random_weights=True))
    with torch.no_grad():
        outs = [loaded.module(*loaded.make_inputs(seed)) for seed in (1000, 1001)]
    assert float(outs[0].std()) > 0.5
    winners = outs[0].argmax(1)
    assert winners.unique().numel() > 1 or not torch.equal(winners, outs[1].argmax(1))


def test_random_weights_are_deterministic():
    a = load(ModelSpec("torchvision", "mobilenet_v3_small", random_weights=True, seed=7)).module.state_dict()
    b = load(ModelSpec("torchvision", "mobilenet_v3_small", random_weights=True, seed=7)).module.state_dict()
    c = load(ModelSpec("torchvision", "mobilenet_v3_small", random_weights=True, seed=8)).module.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a if a[k].is_floating_point())


def test_local_checkpoint_and_cached_pretrained_weights(cli, tmp_path, monkeypatch):
    """--weights FILE loads a state_dict; --weights DEFAULT loads torchvision's file only from the local cache."""
    import torchvision

    model = load(ModelSpec("torchvision", "mobilenet_v3_small", random_weights=True, seed=3)).module.model
    ckpt = tmp_path / "mine.pth"
    torch.save(model.state_dict(), ckpt)
    assert cli("convert", "--plugin", "torchvision", "--model", "mobilenet_v3_small", "--weights", ckpt, "--out", tmp_path / "a").code == 0
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "home"))
    url = torchvision.models.get_model_weights("mobilenet_v3_small").DEFAULT.url
    cached = tmp_path / "home" / "hub" / "checkpoints" / url.rsplit("/", 1)[1]
    cached.parent.mkdir(parents=True)
    torch.save(model.state_dict(), cached)
    result = cli("convert", "--plugin", "torchvision", "--model", "mobilenet_v3_small", "--weights", "DEFAULT", "--out", tmp_path / "b", "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["spec"]["weights"] == "DEFAULT"
