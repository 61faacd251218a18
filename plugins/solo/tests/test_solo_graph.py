"""SOLOv2 with post-processing in the graph: equal to MMDetection's own predict, and it converts and verifies."""
import json

import pytest

pytest.importorskip("mmdet", reason="MMDetection not installed here: run `deploy install mmdet`")

from deploybridge_solo.family import SHAPES_CHECKPOINT  # noqa: E402

needs_checkpoint = pytest.mark.skipif(not SHAPES_CHECKPOINT.exists(), reason="no committed SOLOv2 shapes checkpoint yet")


@needs_checkpoint
def test_graph_post_processing_equals_mmdetection_predict():
    import torch

    from deploybridge.framework_parity import instance_parity
    from deploybridge.records import ModelSpec
    from deploybridge_mmdet.reference import mmdet_predict
    from deploybridge_solo.family import load

    loaded = load(ModelSpec(family="solo", model="solov2_shapes"))
    graph = loaded.module
    matched = total = 0
    worst_score = 0.0
    for seed in range(8):
        (images,) = loaded.make_inputs(seed)
        with torch.no_grad():
            masks, scores, labels = (t.numpy() for t in graph(images))
        ref = mmdet_predict(graph.model, images, loaded.preprocessing)
        parity = instance_parity(ref, {"masks": masks, "scores": scores, "labels": labels})  # mask IoU >= 0.95
        total += max(parity["framework_count"], parity["wrapper_count"])
        matched += parity["matched"]
        worst_score = max(worst_score, parity["max_score_deviation"])
    assert total >= 10, "the checkpoint finds almost nothing: the comparison proves little"
    assert matched / total >= 0.99, (matched, total)
    assert worst_score <= 1e-3, worst_score


@needs_checkpoint
@pytest.mark.parametrize("opset", [11, 17])
def test_convert_and_verify(cli, tmp_path, opset):
    out = tmp_path / f"solo{opset}"
    result = cli("convert", "--plugin", "solo", "--model", "solov2_shapes", "--opset", str(opset), "--out", out)
    assert result.code == 0, result.err
    manifest = json.loads((out / "manifest.json").read_text())
    assert [o["name"] for o in manifest["outputs"]] == ["masks", "scores", "labels"]
    assert manifest["verification"]["passed"]
    assert sum(i["detections_ref"] for i in manifest["verification"]["details"]["inputs"]) >= 3
    framework = manifest["framework_parity"]  # the wrapper against MMDetection's unmodified predict, in the conversion
    assert framework["framework"] == "MMDetection predict" and framework["passed"]
    assert all(r["matched_by"] == "masks" and r["matched_fraction"] >= 0.99 for r in framework["inputs"])
