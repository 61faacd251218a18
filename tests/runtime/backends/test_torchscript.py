"""The TorchScript backend: traced module saved as model.pt, verified against PyTorch, re-loaded by `deploy verify`;
--fp16 casts the module and its inputs (seed 000's half-precision failure: the input was not cast); an op without
a float16 CPU kernel is named in one line."""
import json

import numpy as np
import pytest

from conftest import assert_one_line_error

TV = ("convert", "--plugin", "torchvision")
CLASSIFIER = (*TV, "--model", "mobilenet_v3_small", "--random-weights", "--input-shape", "1,3,64,64")


def _checks(manifest: dict) -> list[dict]:
    return [o for i in manifest["verification"]["details"]["inputs"] for o in i["outputs"]]


def _manifest(folder) -> dict:
    return json.loads((folder / "manifest.json").read_text())


def test_detector_converts_verifies_and_reloads(cli, tmp_path):
    out = tmp_path / "retinanet"
    result = cli(*TV, "--model", "shapes_retinanet", "--backend", "torchscript", "--out", out)
    assert result.code == 0, result.err
    manifest = _manifest(out)
    assert manifest["backend"]["files"] == ["model.pt", "torchscript.json"]
    assert json.loads((out / "torchscript.json").read_text())["method"] == "trace"
    assert (out / "model.onnx").is_file()  # the inspectable reference is still kept
    inputs = manifest["verification"]["details"]["inputs"]
    assert sum(i["detections_ref"] for i in inputs) >= 3, "parity on no detections proves nothing"
    assert all(i["detections_got"] == i["detections_ref"] for i in inputs)
    assert all(c["max_abs"] <= c["atol"] for c in _checks(manifest))  # measured: 0.0 for boxes, scores and labels
    # `deploy verify` loads model.pt again (torch.jit.load) and re-runs every check
    verified = cli("verify", out, "--json")
    assert verified.code == 0, verified.err
    assert json.loads(verified.out)["backend"] == "torchscript"


def test_classifier_converts_and_verifies(cli, tmp_path):
    out = tmp_path / "classifier"
    assert cli(*CLASSIFIER, "--backend", "torchscript", "--out", out).code == 0
    checks = _checks(_manifest(out))
    assert max(c["max_abs"] for c in checks) <= 1e-4  # float32 trace of the same module: measured 0
    assert cli("verify", out).code == 0


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")
def test_fp16_casts_the_module_and_its_inputs(cli, tmp_path):
    import torch

    from deploybridge.runtime.backends.torchscript import BACKEND

    out = tmp_path / "fp16"
    result = cli(*CLASSIFIER, "--backend", "torchscript", "--fp16", "--out", out)
    assert result.code == 0, result.err
    manifest = _manifest(out)
    assert manifest["backend"]["options"] == {"fp16": True}
    assert "to_fp16" not in manifest["passes"]  # the module is cast, not model.onnx
    assert "float16" in manifest["tolerances"]["logits"]["basis"]
    checks = _checks(manifest)
    # really float16 (float32 gives 0 on this model) and within the float16 tolerances
    assert 0 < max(c["max_abs"] for c in checks)
    assert all(c["max_abs"] <= c["atol"] for c in checks)

    image = np.random.default_rng(0).random((1, 3, 64, 64), dtype=np.float32)
    # seed 000: a half-precision TorchScript module fed the float32 image it was given fails
    module = torch.jit.load(str(out / "model.pt"))
    with pytest.raises(RuntimeError, match="Half|float16"):
        module(torch.from_numpy(image))
    # the runner casts: callers keep passing float32, and get float32 back
    got = BACKEND.load(out, manifest, {})({"images": image})["logits"]
    assert got.dtype == np.float32 and got.shape == (1, 1000)
    with torch.no_grad():
        want = module(torch.from_numpy(image).half()).float().numpy()
    np.testing.assert_array_equal(got, want)


def _avg_pool3d_model():
    """A model whose op, avg_pool3d, has no float16 kernel on CPU in torch 2.14 (float32 runs it)."""
    import torch

    from deploybridge.records import LoadedModel, OutputSpec

    class Net(torch.nn.Module):
        def forward(self, x):
            return torch.nn.functional.avg_pool3d(x.unsqueeze(0), 2).squeeze(0)

    return LoadedModel(module=Net().eval(), input_names=["x"], outputs=[OutputSpec("y")],
                       make_inputs=lambda seed: (torch.rand(1, 4, 8, 8, generator=torch.Generator().manual_seed(seed)),))


def test_op_without_half_kernel_is_named(tmp_path):
    from deploybridge.errors import DeployError
    from deploybridge.runtime.backends.torchscript import BACKEND

    loaded = _avg_pool3d_model()
    (tmp_path / "fp32").mkdir()
    assert BACKEND.build_from_module(loaded, loaded.make_inputs(0), tmp_path / "fp32", {}) == ["model.pt", "torchscript.json"]
    (tmp_path / "fp16").mkdir()
    with pytest.raises(DeployError) as caught:
        BACKEND.build_from_module(loaded, loaded.make_inputs(0), tmp_path / "fp16", {"fp16": True})
    message = str(caught.value)
    assert "\n" not in message
    assert "'avg_pool3d_out_frame' has no float16 kernel on CPU" in message


def test_fp16_detector_names_nms_in_one_line(cli, tmp_path):
    # torchvision's CPU nms has no float16 kernel: the user gets its name, not a TorchScript traceback
    result = cli(*TV, "--model", "shapes_retinanet", "--backend", "torchscript", "--fp16", "--out", tmp_path / "r16")
    assert_one_line_error(result, contains="'nms_kernel' has no float16 kernel on CPU")
    assert not (tmp_path / "r16").exists()


def test_onnx_artifact_cannot_run_as_torchscript(cli, tiny, tmp_path):
    from deploybridge.errors import DeployError
    from deploybridge.runtime.backends.torchscript import BACKEND

    out = tmp_path / "ort"
    assert cli("convert", "--plugin", "tiny", "--model", "tiny-net", "--random-weights", "--out", out).code == 0
    assert_one_line_error(cli("verify", out, "--backend", "torchscript"), contains="has no model.pt (it was built for onnxruntime)")
    with pytest.raises(DeployError, match="convert with `deploy convert --backend torchscript`"):
        BACKEND.build(out / "model.onnx", tmp_path, {})


def test_fp16_io_is_refused(cli, tmp_path):
    # the runner takes float32 and casts; float16 model inputs are an ONNX-backend notion
    result = cli(*CLASSIFIER, "--backend", "torchscript", "--fp16-io", "--out", tmp_path / "io")
    assert_one_line_error(result, contains="--fp16-io is for ONNX backends")
    assert not (tmp_path / "io").exists()
