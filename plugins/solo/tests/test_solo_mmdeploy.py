"""--exporter mmdeploy: MMDeploy 1.3.1's own SOLOv2 conversion on torch 2.14, with the mmdet plugin's two scoped fixes,
held to the same verifier as the native path."""
import json
import sys

import pytest

pytest.importorskip("mmdet", reason="MMDetection not installed here: run `deploy install mmdet`")
pytest.importorskip("mmdeploy", reason="MMDeploy not installed here: run `deploy install mmdeploy`")

from deploybridge_solo.family import SHAPES_CHECKPOINT  # noqa: E402

needs_checkpoint = pytest.mark.skipif(not SHAPES_CHECKPOINT.exists(), reason="no committed SOLOv2 shapes checkpoint yet")


def _convert(cli, out, *flags):
    result = cli("convert", "--plugin", "solo", "--model", "solov2_shapes", "--exporter", "mmdeploy", *flags, "--out", out)
    manifest = json.loads((out / "manifest.json").read_text()) if (out / "manifest.json").exists() else None
    return result, manifest


@needs_checkpoint
def test_mmdeploy_converts_and_the_verifier_finds_where_it_differs_from_mmdetection(cli, tmp_path):
    result, manifest = _convert(cli, tmp_path / "m", "--opset", "11")
    # MMDeploy's SOLOv2 rewrite keeps one class per grid point (torch.max over classes); MMDetection's predict keeps
    # every (point, class) pair over score_thr, so matrix NMS sees other candidates: measured 24/23/29 instances
    # against MMDetection's 31/34/47. The artifact is written and verification fails it, loudly (exit 1).
    assert result.code == 1, result.err
    assert "does NOT match" in result.err + result.out
    assert manifest["export"]["exporter"] == "mmdeploy"
    fired = {r["name"]: r["calls"] for r in manifest["rewrites"]}
    assert fired["mmdeploy_legacy_exporter"] == 1 and "mmdeploy_fx_wrap_list" in fired
    assert [o["name"] for o in manifest["outputs"]] == ["masks", "scores", "labels"]
    inputs = manifest["verification"]["details"]["inputs"]
    assert all(i["detections_got"] < i["detections_ref"] for i in inputs)


@needs_checkpoint
def test_mmdeploy_top_instances_equal_mmdetection_predict(tmp_path):
    """Where both keep the same candidates (the highest scores), MMDeploy's artifact equals MMDetection's predict."""
    import numpy as np
    import onnxruntime as ort

    from deploybridge.parity.framework import instance_parity
    from deploybridge.records import ModelSpec
    from deploybridge_solo.family import load, mmdeploy_export

    from deploybridge.evaluation.datasets import shapes
    from deploybridge_solo.family import bgr_tensor

    loaded = load(ModelSpec(family="solo", model="solov2_shapes"))
    size = loaded.make_inputs(1000)[0].shape[-2:]
    # the scene this was measured on (a fresh shapes scene of seed 1000, not a validation image)
    images = bgr_tensor(shapes.make_image(np.random.default_rng(1000), *size)[0])
    from deploybridge.convert import rewriting
    from deploybridge.plugins import Host

    chosen = rewriting.select(Host(only=["solo"]).rewrites(), "mmdeploy", 11, family="solo")
    with rewriting.applied(chosen, 11):
        mmdeploy_export(loaded.module.model, loaded.preprocessing, (images,), tmp_path / "m.onnx", 11, False)
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    got = dict(zip([o.name for o in session.get_outputs()], session.run(None, {"images": images.numpy()})))
    ref = loaded.framework_reference((images,))
    top = 6  # the six best: the same instances in both (MMDeploy's seventh is a candidate MMDetection ranks lower)
    parity = instance_parity({k: v[:top] for k, v in ref.items()}, {k: v[:top] for k, v in got.items()})
    assert parity["matched"] == top and parity["max_score_deviation"] <= 1e-4
    assert np.asarray(got["masks"]).shape[1:] == tuple(images.shape[-2:])


def test_without_the_legacy_exporter_fix_mmdeploy_fails_on_torch_2_14(cli, tmp_path):
    result, _ = _convert(cli, tmp_path / "x", "--random-weights", "--no-rewrite", "mmdeploy_legacy_exporter")
    assert result.code == 2 and "TorchExportError" in result.err and "\x1b[" not in result.err
    assert not (tmp_path / "x").exists()


FX_WRAP_PROBE = """
import importlib, sys
import torch.fx._symbolic_trace as fx
from mmdeploy.core import RewriterContext
from deploybridge.convert import rewriting
from deploybridge.plugins import Host

sys.path.insert(0, sys.argv[1])
fix = [r for r in Host(only=["solo"]).rewrites().values() if r.name == "mmdeploy_fx_wrap_list"]
try:
    with rewriting.applied(fix if sys.argv[2] == "with" else [], 11):
        with RewriterContext(cfg={}, backend="onnxruntime"):
            importlib.import_module("wraps_f")  # a module that fx-wraps a function, imported during the context
except KeyError as exc:
    print("KeyError", exc)
    sys.exit(3)
assert any(name == "f" for (_, name) in fx._wrapped_fns_to_patch), "torch's own registry lost the wrap"
print("clean exit")
"""


@pytest.mark.parametrize("fixed", [False, True])
def test_fx_wrap_list_fix(tmp_path, fixed):
    """MMDeploy's rewrite context pops torch.fx's wrap registry as a list: a torch.fx.wrap during the context ends in
    KeyError: -1, and MMDeploy's own patches stay in force in the process (measured: every later torchvision
    conversion in that process failed). So the probe runs in a subprocess. With the rewrite it exits cleanly and
    torch's registry keeps the wrap."""
    import subprocess

    (tmp_path / "wraps_f.py").write_text("import torch.fx\n\ndef f(x):\n    return x\n\ntorch.fx.wrap('f')\n")
    (tmp_path / "probe.py").write_text(FX_WRAP_PROBE)
    done = subprocess.run([sys.executable, str(tmp_path / "probe.py"), str(tmp_path), "with" if fixed else "without"],
                          capture_output=True, text=True)
    if fixed:
        assert done.returncode == 0 and "clean exit" in done.stdout, done.stderr[-2000:]
    else:
        assert done.returncode == 3 and "KeyError -1" in done.stdout, done.stderr[-2000:]
