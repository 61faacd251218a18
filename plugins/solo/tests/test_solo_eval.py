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
