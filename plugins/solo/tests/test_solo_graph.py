"""SOLOv2 with post-processing in the graph: equal to MMDetection's own predict, and it converts and verifies."""
import json

import pytest

pytest.importorskip("mmdet", reason="MMDetection not installed here: run `deploy install mmdet`")

from deploybridge_solo.family import SHAPES_CHECKPOINT  # noqa: E402

needs_checkpoint = pytest.mark.skipif(not SHAPES_CHECKPOINT.exists(), reason="no committed SOLOv2 shapes checkpoint yet")


@needs_checkpoint
def test_graph_post_processing_equals_mmdetection_predict():
    import torch

    from deploybridge.parity.framework import instance_parity
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
@pytest.mark.parametrize("placement", ["graph", "host"])
@pytest.mark.parametrize("opset", [11, 17])
def test_convert_and_verify(cli, tmp_path, opset, placement):
    out = tmp_path / f"solo{opset}"
    result = cli("convert", "--plugin", "solo", "--model", "solov2_shapes", "--opset", str(opset),
                 "--option", f"placement={placement}", "--out", out)
    assert result.code == 0, result.err
    manifest = json.loads((out / "manifest.json").read_text())
    assert [o["name"] for o in manifest["outputs"]] == ["masks", "scores", "labels"]
    assert manifest["verification"]["passed"]
    assert sum(i["detections_ref"] for i in manifest["verification"]["details"]["inputs"]) >= 3
    framework = manifest["framework_parity"]  # the wrapper against MMDetection's unmodified predict, in the conversion
    assert framework["framework"] == "MMDetection predict" and framework["passed"]
    assert all(r["matched_by"] == "masks" and r["matched_fraction"] >= 0.99 for r in framework["inputs"])
    if placement == "graph":
        assert manifest["segments"] is None
        return
    engine, host = manifest["segments"]
    assert (engine["kind"], host["kind"], host["op"], host["owner"]) == ("engine", "host", "SOLOPostprocess", "solo")
    assert host["outputs"] == ["masks", "scores", "labels"] and len(engine["outputs"]) == 11  # 5 kernel, 5 class maps, features
    import onnx

    ops = {n.op_type for n in onnx.load(str(out / engine["file"])).graph.node}
    # what only the graph placement has (measured: these 16 op types appear in graph-placement engines only)
    assert not ops & {"TopK", "MatMul", "NonZero", "Sigmoid", "ReduceSum", "GatherND"}, "the engine should end at the head's raw outputs"


@needs_checkpoint
def test_deploy_run_feeds_bgr_like_mmdetection(cli, tmp_path):
    """`deploy run` on a host-placement artifact: the image fed BGR, 0-255 (the manifest's preprocessing), the
    plugin's host step after the engine; the detections are MMDetection's predict on the same image."""
    import numpy as np
    from PIL import Image

    from deploybridge.evaluation.datasets import shapes
    from deploybridge.parity.framework import instance_parity
    from deploybridge.records import ModelSpec
    from deploybridge_solo.family import bgr_tensor, load

    out = tmp_path / "solo"
    assert cli("convert", "--plugin", "solo", "--model", "solov2_shapes", "--option", "placement=host", "--out", out).code == 0
    pixels, _ = shapes.make_image(np.random.default_rng(7), 192, 192)
    Image.fromarray(pixels).save(tmp_path / "shapes.png")
    result = cli("run", out, tmp_path / "shapes.png", "--threshold", "0", "--out", tmp_path / "pred", "--json")
    assert result.code == 0, result.err
    records = json.loads(result.out)[str(tmp_path / "shapes.png")]
    loaded = load(ModelSpec(family="solo", model="solov2_shapes"))
    ref = loaded.framework_reference((bgr_tensor(pixels),))
    assert len(records) == len(ref["scores"]) >= 3
    assert np.abs(np.array([r["score"] for r in records]) - np.round(ref["scores"], 4)).max() <= 2e-4
    assert [r["name"] for r in records] == [shapes.CATEGORIES[int(c)] for c in ref["labels"]]
