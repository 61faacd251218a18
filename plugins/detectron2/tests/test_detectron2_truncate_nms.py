"""--truncate-nms on Detectron2 models, ONNX Runtime opset 17: every NonMaxSuppression leaves the engine (Detectron2's
batched_nms exports as one NonMaxSuppression on class-offset boxes) and runs on the host between engine segments;
the artifact still verifies against PyTorch and DefaultPredictor. RetinaNet has one NMS; an R-CNN two (the RPN's,
over all FPN levels at once, and the box head's)."""
from __future__ import annotations

import pytest

from d2_zoo import zoo_converter  # noqa: F401 - a pytest fixture, used by name

pytest.importorskip("detectron2", reason="Detectron2 not installed: run `deploy install detectron2`")

HOST_NMS = {"retinanet": 1, "faster": 2}


def _engine_nms_nodes(out) -> int:
    import onnx

    def count(graph) -> int:
        return sum(n.op_type == "NonMaxSuppression" or sum(count(a.g) for a in n.attribute if a.HasField("g"))
                   for n in graph.node)

    return sum(count(onnx.load(str(p)).graph) for p in (out / "segments").glob("*/model.onnx"))


@pytest.mark.parametrize("model", list(HOST_NMS))
def test_truncated_detectron2_model_runs_nms_on_the_host_and_verifies(zoo_converter, model):
    converted = zoo_converter(model, 17, "--truncate-nms")
    assert converted.code == 0, converted.stderr[-2000:]
    manifest = converted.manifest()
    assert "truncate_before_nms" in manifest["passes"]
    hosts = [s for s in manifest["segments"] if s["kind"] == "host"]
    assert [s["op"] for s in hosts] == ["HostNonMaxSuppression"] * HOST_NMS[model], manifest["segments"]
    assert _engine_nms_nodes(converted.out) == 0
    details = manifest["verification"]["details"]
    for check in details["inputs"]:
        metrics = check["task"]["metrics"]
        assert metrics["reference_count"] > 0 and metrics["matched_fraction"] == 1.0, (check["seed"], metrics)
    assert details["framework"]["passed"]
    assert sum(r["matched"] for r in details["framework"]["inputs"]) > 0


def test_a_wrong_host_nms_fails_verification(zoo_converter, monkeypatch):
    """The planted case: the host NMS's IoU threshold 0.1 looser than the graph's (more overlapping boxes kept).
    Verification compares the truncated artifact with PyTorch and fails (exit 1)."""
    from deploybridge.runtime import host_nms

    original = host_nms.non_max_suppression

    def looser(boxes, scores, limit=None, iou=None, *rest, **kw):
        import numpy as np

        return original(boxes, scores, limit, np.asarray(iou, np.float32) + 0.1, *rest, **kw)

    monkeypatch.setattr(host_nms, "non_max_suppression", looser)
    # the default NMS_THRESH_TEST given again: a conversion of its own (with the plant), not the cached one
    converted = zoo_converter("retinanet", 17, "--truncate-nms", "--option", "MODEL.RETINANET.NMS_THRESH_TEST=0.5")
    assert converted.code == 1, converted.stderr[-2000:]
    tasks = [check["task"] for check in converted.report()["verification"]["inputs"]]
    assert not all(t["passed"] for t in tasks), tasks
