"""Mask AP on the shapes validation split: the artifact equals the graph, and the graph equals MMDetection's predict."""
import json

import pytest

pytest.importorskip("mmdet", reason="MMDetection not installed here: run `deploy install mmdet`")

from deploybridge_solo.family import SHAPES_CHECKPOINT  # noqa: E402


@pytest.mark.skipif(not SHAPES_CHECKPOINT.exists(), reason="no committed SOLOv2 shapes checkpoint yet")
@pytest.mark.parametrize("placement", ["graph", "host"])
def test_mask_ap_delta_on_shapes(cli, tmp_path, placement):
    out = tmp_path / "solo"
    result = cli("convert", "--plugin", "solo", "--model", "solov2_shapes", "--option", f"placement={placement}",
                 "--eval", "shapes", "--out", out)
    assert result.code == 0, result.err
    evaluation = json.loads((out / "manifest.json").read_text())["evaluation"]
    assert evaluation["passed"] and abs(evaluation["delta"]["onnxruntime:mask_ap"]) <= 0.001
    recorded = json.loads(SHAPES_CHECKPOINT.with_suffix(".json").read_text())["shapes_validation"]
    # the recorded figure was measured with MMDetection's own predict; the graph's post-processing gives the same AP
    assert abs(evaluation["ap"]["pytorch"]["mask_ap"] - recorded["mask_ap"]) <= 1e-4
    assert recorded["mask_ap"] >= 0.4


@pytest.mark.skipif(not SHAPES_CHECKPOINT.exists(), reason="no committed SOLOv2 shapes checkpoint yet")
def test_thresholds_compare_class_indices_with_the_datasets_categories(cli, tmp_path):
    """SOLO's labels are 0-based class indices, the dataset's are category ids 1..3: compared raw, class 0 had only
    false positives and triangles were never matched (overall F1 0.23). Stored by the labels deploy run sees."""
    out = tmp_path / "solo"
    assert cli("convert", "--plugin", "solo", "--model", "solov2_shapes", "--out", out).code == 0
    result = cli("threshold", out, "--json")
    assert result.code == 0, result.err
    chosen = json.loads(result.out)
    assert sorted(chosen["per_class"]) == ["0", "1", "2"], chosen["per_class"]
    assert all(p["true_positives"] > 0 for p in chosen["per_class"].values()), chosen["per_class"]
    assert chosen["overall"]["f1"] > 0.5, chosen["overall"]
