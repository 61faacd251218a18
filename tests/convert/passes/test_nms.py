"""truncate_before_nms: no NonMaxSuppression left in any engine segment, and the detections still match PyTorch."""
import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from deploybridge.convert.onnx_io import iter_nodes
from deploybridge.runtime.segments import plan


def _ops(path: Path) -> list[str]:
    return [n.op_type for n in iter_nodes(onnx.load(str(path)).graph)]


@pytest.mark.parametrize("model,host_steps", [("shapes_retinanet", 1), ("shapes_maskrcnn", 2)])
def test_truncated_shapes_models_match_pytorch(cli, tmp_path, model, host_steps):
    out = tmp_path / model
    result = cli("convert", "--plugin", "torchvision", "--model", model, "--truncate-nms", "--out", out)
    assert result.code == 0, result.err
    manifest = json.loads((out / "manifest.json").read_text())
    assert "truncate_before_nms" in manifest["passes"] and manifest["verification"]["passed"]
    engines = [s for s in manifest["segments"] if s["kind"] == "engine"]
    hosts = [s for s in manifest["segments"] if s["kind"] == "host"]
    assert len(hosts) == host_steps and len(engines) == host_steps + 1
    for segment in engines:  # the engines never see an NMS, not even inside If/Loop bodies
        ops = _ops(out / segment["file"])
        assert "NonMaxSuppression" not in ops and "HostNonMaxSuppression" not in ops
    assert _ops(out / "model.onnx").count("HostNonMaxSuppression") == host_steps
    assert engines[-1]["outputs"][:len(manifest["outputs"])] == [o["name"] for o in manifest["outputs"]]
    details = manifest["verification"]["details"]["inputs"]
    assert all(i["task"]["passed"] for i in details) and sum(i["detections_ref"] for i in details) > 0
    assert cli("verify", out).code == 0


def test_no_detections_and_the_untruncated_artifact_agree(cli, tmp_path):
    """An empty image (nothing passes the score threshold) runs through the host NMS with zero boxes."""
    from deploybridge.convert.resolve import resolve_backend
    from deploybridge.plugins import Host
    from deploybridge.runtime.segments import load

    for name, flag in (("cut", ["--truncate-nms"]), ("whole", [])):
        assert cli("convert", "--plugin", "torchvision", "--model", "shapes_retinanet", *flag, "--out", tmp_path / name).code == 0
    backend = resolve_backend(Host(only=["builtin"]), "onnxruntime")
    runs = {n: load(backend, tmp_path / n, {}, {}) for n in ("cut", "whole")}
    for pixels in (np.zeros((1, 3, 192, 192), np.float32), np.random.default_rng(0).random((1, 3, 192, 192), np.float32)):
        cut, whole = runs["cut"]({"images": pixels}), runs["whole"]({"images": pixels})
        assert list(cut) == ["boxes", "scores", "labels"]
        for key in cut:  # same boxes up to a few float32 ulps (ONNX Runtime fuses differently across the cut)
            np.testing.assert_allclose(cut[key], whole[key], rtol=1e-6, atol=1e-5)


def test_trt_lint_of_the_cut_artifact_has_no_nms(cli, tmp_path):
    out = tmp_path / "cut"
    assert cli("convert", "--plugin", "torchvision", "--model", "shapes_retinanet", "--truncate-nms", "--out", out).code == 0
    report = json.loads(cli("inspect", out, "--trt-lint", "--json").out)["trt_lint"]
    assert report["counts"]["error"] == 0
    assert not [f for f in report["findings"] if f["op"] == "NonMaxSuppression"]
    assert [f["rule"] for f in report["findings"] if "HostNonMaxSuppression" in f["op"]] == ["host-step"]
    assert all(f["detail"] for f in report["findings"])  # every remaining finding is explained


def test_model_without_nms_is_refused(cli, tiny, tmp_path):
    result = cli("convert", "--plugin", "tiny", "--model", "tiny-net", "--random-weights", "--truncate-nms", "--out", tmp_path / "a")
    assert result.code == 2 and "no NonMaxSuppression" in result.err
    assert not (tmp_path / "a").exists()


def test_plan_stages_follow_host_outputs_and_subgraph_reads():
    """x -> A -> host1 -> B (an If that reads host1's output only inside its branch) -> host2 -> C."""
    f = TensorProto.FLOAT
    branch = helper.make_graph([helper.make_node("Identity", ["s1"], ["b_in"])], "branch", [],
                               [helper.make_tensor_value_info("b_in", f, None)])
    nodes = [
        helper.make_node("Relu", ["x"], ["a"], name="A"),
        helper.make_node("HostNonMaxSuppression", ["a", "a"], ["s1"], domain="deploybridge", name="host1"),
        helper.make_node("If", ["cond"], ["b"], name="B", then_branch=branch, else_branch=branch),
        helper.make_node("Add", ["b", "a"], ["b2"], name="B2"),
        helper.make_node("HostNonMaxSuppression", ["b2", "b2"], ["s2"], domain="deploybridge", name="host2"),
        helper.make_node("Neg", ["s2"], ["y"], name="C"),
    ]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", f, None), helper.make_tensor_value_info("cond", TensorProto.BOOL, [])],
                              [helper.make_tensor_value_info("y", f, None)])
    steps = plan(helper.make_model(graph))
    kinds = [(s.host.name if s.host is not None else [n.name for n in s.nodes]) for s in steps]
    assert kinds == [["A"], "host1", ["B", "B2"], "host2", ["C"]]
    assert steps[2].inputs == ["a", "cond", "s1"]  # 's1' is read inside the If's branch
    assert steps[0].outputs == ["a"] and steps[-1].outputs == ["y"]
