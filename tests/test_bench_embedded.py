"""Issue 18's done-when in CI: the embedded Mask R-CNN, RetinaNet, SOLOv2 and torchvision ResNet-50 convert and
verify on ONNX Runtime fp32, ONNX Runtime int8 (ΔAP recorded for the shapes models), OpenVINO fp32 and TorchScript
fp32, and `benchmarks/bench_embedded.py` shows all of them in one table (few runs: speed is judged in
benchmarks/RESULTS.md, not here; memory is judged here: the ONNX Runtime process peaks at <= 0.5x eager's)."""
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))


def test_every_embedded_model_on_every_backend_in_one_table(tmp_path, capsys):
    pytest.importorskip("openvino", reason="OpenVINO is installed by make install")
    import bench_embedded

    results = tmp_path / "RESULTS.md"
    assert bench_embedded.main(["--runs", "3", "--warmup", "1", "--out", str(tmp_path / "art"),
                                "--results", str(results), "--force"]) == 0
    text = results.read_text()
    conversions = [ln.split(" | ") for ln in text.split("## Conversions")[1].split("## Issue")[0].splitlines()
                   if ln.startswith("| ") and not ln.startswith("| model")]
    done = {(c[0].strip("| "), c[1], c[2]): c[3] for c in conversions}
    for model in bench_embedded.MODELS:
        for variant in [("onnxruntime", "fp32"), ("onnxruntime", "int8"), ("openvino", "fp32"), ("torchscript", "fp32")]:
            assert done.get((model, *variant)) == "0", (model, variant, done)
        table = [ln for ln in text.split("## Speed")[1].splitlines() if f"/{model} |" in ln]
        for artifact, runtime in [("onnxruntime-fp32", "onnxruntime"), ("onnxruntime-fp32", "openvino"),
                                  ("onnxruntime-int8", "onnxruntime"), ("openvino-fp32", "openvino"),
                                  ("torchscript-fp32", "torchscript"), ("onnxruntime-fp32", "pytorch")]:
            rows = [ln for ln in table if f"| {artifact} |" in ln and f"| {runtime} " in ln]
            assert rows and "| ok |" in rows[0], (model, artifact, runtime, table)
        assert f"- {model}: ONNX Runtime peak RSS" in text and "target <= 0.5x: holds" in text.split(f"- {model}: ONNX Runtime peak RSS")[1].splitlines()[0]
    for model in bench_embedded.EVAL:  # int8 with its ΔAP recorded and within the int8 bound (1 AP point)
        manifest = json.loads((tmp_path / "art" / model / "onnxruntime-int8" / "manifest.json").read_text())
        evaluation = manifest["evaluation"]
        assert manifest["verified"] and manifest["precision"]["mode"] == "int8", model
        assert evaluation["passed"] and evaluation["max_delta"] == 0.01 and evaluation["delta"], model
        assert all(abs(d) <= 0.01 for d in evaluation["delta"].values()), (model, evaluation["delta"])
