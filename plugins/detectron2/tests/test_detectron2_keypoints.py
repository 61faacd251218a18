"""Keypoint R-CNN exports and verifies at opsets 11 and 17. Detectron2's scripted heatmaps_to_keypoints does not
export ("advanced indexing on tensor of unknown rank"); deploybridge_detectron2.keypoint_export computes the same
keypoints (per-detection bicubic upsampling as two matrix products with torch's cubic weights, argmax, score
1 / sum exp) in a loop the exporter writes."""
from __future__ import annotations

import pytest

from d2_zoo import zoo_converter  # noqa: F401 - a pytest fixture, used by name

pytest.importorskip("detectron2", reason="Detectron2 not installed: run `deploy install detectron2`")


def test_stand_in_equals_detectron2_keypoints_in_eager():
    """Measured: x and y identical (max diff 0.0), scores within 6.1e-6 relative, boxes under one pixel included."""
    import torch
    from detectron2.structures.keypoints import heatmaps_to_keypoints

    from deploybridge_detectron2.keypoint_export import heatmaps_to_xy_score, scripted

    g = torch.Generator().manual_seed(0)
    maps = torch.randn(20, 17, 56, 56, generator=g)
    x1, y1 = torch.rand(20, generator=g) * 100, torch.rand(20, generator=g) * 100
    size = torch.rand(20, 2, generator=g) * 150 + 0.3
    rois = torch.stack([x1, y1, x1 + size[:, 0], y1 + size[:, 1]], 1)
    ref = heatmaps_to_keypoints(maps, rois)[:, :, [0, 1, 3]]
    got = heatmaps_to_xy_score(maps, rois)
    assert float((ref[..., :2] - got[..., :2]).abs().max()) == 0.0
    assert float(((ref[..., 2] - got[..., 2]).abs() / ref[..., 2]).max()) < 1e-5
    assert torch.equal(scripted()(maps, rois), got)


@pytest.mark.parametrize("opset", [11, 17])
def test_keypoint_rcnn_converts_and_verifies(zoo_converter, opset):
    converted = zoo_converter("keypoints", opset)
    assert converted.code == 0, converted.stderr[-2000:]
    assert converted.unknown_warnings() == []
    fired = {r["name"] for r in converted.manifest()["rewrites"] if r["calls"]}
    assert "detectron2_keypoint_inference" in fired, fired
    metrics = [check["task"]["metrics"] for check in converted.report()["verification"]["inputs"]]
    assert all(m["matched_fraction"] == 1.0 and m["max_keypoint_deviation_px"] <= 1.0 for m in metrics), metrics
    assert sum(m["reference_count"] for m in metrics) >= 10, metrics
