"""SOLO, Decoupled SOLO (+light) and SOLOv2-light from MMDetection's bundled configs: converted and held to
MMDetection's own predict, in the graph and on the host; a bundled config with a local checkpoint (--weights)."""
import json

import pytest

pytest.importorskip("mmdet", reason="MMDetection not installed here: run `deploy install mmdet`")


def _convert(cli, out, *flags):
    result = cli("convert", "--plugin", "solo", "--opset", "11", *flags, "--out", out)
    assert result.code == 0, result.err
    return json.loads((out / "manifest.json").read_text())


def _instances(manifest) -> int:
    return sum(r["framework_count"] for r in manifest["framework_parity"]["inputs"])


@pytest.mark.parametrize("config, placement", [
    ("solo/solo_r50_fpn_1x_coco", "graph"),
    ("solo/decoupled-solo_r50_fpn_1x_coco", "host"),
    ("solo/decoupled-solo-light_r50_fpn_3x_coco", "graph"),
])
def test_variant_converts_and_equals_mmdetection_predict(cli, tmp_path, config, placement):
    # random weights: the class bias is calibrated so that ~150 (point, class) candidates pass score_thr (a random
    # head with MMDetection's prior-probability bias finds nothing)
    manifest = _convert(cli, tmp_path / "a", "--config", config, "--random-weights", "--option", f"placement={placement}")
    framework = manifest["framework_parity"]
    assert framework["passed"] and all(r["matched_fraction"] >= 0.99 for r in framework["inputs"])
    assert _instances(manifest) >= 3, "almost nothing detected: the comparison proves little"
    if placement == "host":
        assert manifest["segments"][-1]["op"] == "SOLOPostprocess"


def test_bundled_config_with_local_checkpoint(cli, tmp_path):
    """`--config solov2/solov2-light_r18_fpn_ms-3x_coco --weights FILE`: the checkpoint is MMDetection's format
    ({'state_dict': ...}); its weights, not the config's initialisation, are what is converted."""
    import torch

    from deploybridge.records import ModelSpec
    from deploybridge_solo.family import load

    config = "solov2/solov2-light_r18_fpn_ms-3x_coco"
    loaded = load(ModelSpec(family="solo", model=config, config=config, random_weights=True, seed=7))
    torch.save({"state_dict": loaded.module.model.state_dict(), "meta": {}}, tmp_path / "solov2_light.pth")
    manifest = _convert(cli, tmp_path / "b", "--config", config, "--weights", tmp_path / "solov2_light.pth")
    assert manifest["spec"]["weights"].endswith("solov2_light.pth") and manifest["framework_parity"]["passed"]
    assert _instances(manifest) >= 3  # the calibrated weights came through the checkpoint (uncalibrated: none)


def test_random_heads_are_calibrated_on_an_image_verification_never_uses(monkeypatch):
    """Seed 0's first verification input used to be the calibration image itself."""
    import torch

    from deploybridge.parity.verification import seeds_for
    from deploybridge.records import ModelSpec
    from deploybridge_solo import family

    seen = []
    real = family.calibrate_random_head

    def recording(model, images, pre, **kw):
        seen.append(images)
        return real(model, images, pre, **kw)

    monkeypatch.setattr(family, "calibrate_random_head", recording)
    spec = ModelSpec(family="solo", model="solov2_shapes", random_weights=True, seed=0)
    loaded = family.load(spec)
    assert len(seen) == 1
    for seed in seeds_for(spec, 3):
        assert not torch.equal(seen[0], loaded.make_inputs(seed)[0])
