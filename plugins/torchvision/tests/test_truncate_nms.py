"""--truncate-nms on the full-size torchvision detectors: NMS runs on the host, detections still match PyTorch.

Two-stage models (Faster/Mask R-CNN) lose both NMS: the RPN's (batched over FPN levels by the coordinate
trick) and the box head's; the engine is cut into three segments and the mask head runs in the last one.
"""
import json

import pytest

from deploybridge.convert.onnx_io import iter_nodes

CASES = [("retinanet_resnet50_fpn", 1), ("fasterrcnn_mobilenet_v3_large_320_fpn", 2), ("maskrcnn_resnet50_fpn", 2)]


@pytest.mark.slow
@pytest.mark.parametrize("model,host_steps", CASES)
def test_truncated_detector_matches_pytorch(cli, tmp_path, model, host_steps):
    import onnx

    out = tmp_path / model
    result = cli("convert", "--plugin", "torchvision", "--model", model, "--random-weights", "--truncate-nms", "--out", out)
    assert result.code == 0, result.err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["verification"]["passed"]
    assert [s["kind"] for s in manifest["segments"]].count("host") == host_steps
    for segment in (s for s in manifest["segments"] if s["kind"] == "engine"):
        ops = {n.op_type for n in iter_nodes(onnx.load(str(out / segment["file"])).graph)}
        assert not ops & {"NonMaxSuppression", "HostNonMaxSuppression"}, segment["file"]
    inputs = manifest["verification"]["details"]["inputs"]
    assert sum(i["detections_ref"] for i in inputs) >= 3, "parity on no detections proves nothing"
