"""SOLOv2 with post-processing in the graph: equal to MMDetection's own predict, and it converts and verifies."""
import json

import numpy as np
import pytest

pytest.importorskip("mmdet", reason="MMDetection not installed here: run `deploy install mmdet`")

from deploybridge_solo.family import SHAPES_CHECKPOINT  # noqa: E402

needs_checkpoint = pytest.mark.skipif(not SHAPES_CHECKPOINT.exists(), reason="no committed SOLOv2 shapes checkpoint yet")


def _match(ref_masks, ref_labels, got_masks, got_labels):
    """Greedy one-to-one matching by mask IoU within a class: list of (ref index, got index, IoU)."""
    ref = ref_masks.reshape(len(ref_masks), -1).astype(np.float64)
    got = got_masks.reshape(len(got_masks), -1).astype(np.float64)
    inter = ref @ got.T
    union = ref.sum(1)[:, None] + got.sum(1)[None, :] - inter
    iou = np.where(union > 0, inter / np.maximum(union, 1), 0.0) * (ref_labels[:, None] == got_labels[None, :])
    pairs, used = [], set()
    for r in np.argsort(-iou.max(1, initial=0)):
        g = int(np.argmax(np.where([j in used for j in range(len(got))], -1, iou[r]))) if len(got) else -1
        if g >= 0 and iou[r, g] > 0:
            used.add(g)
            pairs.append((int(r), g, float(iou[r, g])))
    return pairs


@needs_checkpoint
def test_graph_post_processing_equals_mmdetection_predict():
    import torch

    from deploybridge.records import ModelSpec
    from deploybridge_mmdet.reference import mmdet_predict
    from deploybridge_solo.family import load

    loaded = load(ModelSpec(family="solo", model="solov2_shapes"))
    graph = loaded.module
    matched = total = 0
    worst_iou, worst_score = 1.0, 0.0
    for seed in range(8):
        (images,) = loaded.make_inputs(seed)
        with torch.no_grad():
            masks, scores, labels = (t.numpy() for t in graph(images))
        ref = mmdet_predict(graph.model, images, loaded.preprocessing)
        pairs = _match(ref["masks"], ref["labels"], masks, labels)
        total += max(len(ref["scores"]), len(scores))
        matched += sum(1 for _, _, iou in pairs if iou >= 0.95)
        for r, g, iou in pairs:
            worst_iou = min(worst_iou, iou)
            worst_score = max(worst_score, abs(float(ref["scores"][r]) - float(scores[g])))
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
