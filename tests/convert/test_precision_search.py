"""The automatic precision search: rounds, what it keeps in float32 and why, int8 and float16."""
from __future__ import annotations

import numpy as np

from int8_retinanet import converted


def test_search_keeps_nodes_in_float32_until_int8_verifies():
    m = converted().manifest
    precision = m["precision"]
    rounds = precision["rounds"]
    story = "\n".join(f"round {r['number']}: {r['kept_fp32']} kept, {'passed' if r['passed'] else 'failed'}: {r['summary']}"
                      for r in rounds)
    # all-int8 fails (on ONNX Runtime 1.2x it crashes the runtime: the round is probed in a child process first)
    assert rounds[0]["kept_fp32"] == 0 and not rounds[0]["passed"], story
    assert rounds[-1]["passed"] and len(rounds) <= 6, story
    assert all(not r["passed"] for r in rounds[:-1]), story
    # each failing round gave one more group back to float32, each with its reason and op counts
    groups = precision["kept_fp32"]
    assert len(groups) == len(rounds) - 1, story
    assert groups[0]["why"].startswith("post-processing") and groups[0]["count"] > 0
    assert all(g["why"] and g["count"] == len(g["nodes"]) and sum(g["ops"].values()) == g["count"] for g in groups)
    assert rounds[-1]["kept_fp32"] == sum(g["count"] for g in groups)
    assert rounds[-1]["kept_fp32"] < precision["lowerable_nodes"]  # something is still int8
    print(story)  # the numbers, in the test log


def _tiny_graph():
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w1, w2 = (numpy_helper.from_array(rng.normal(size=s).astype(np.float32), n) for n, s in
              (("w1", (4, 3, 3, 3)), ("w2", (2, 4, 1, 1))))
    scale = numpy_helper.from_array(np.array(100.0, np.float32), "scale")
    nodes = [helper.make_node("Sub", ["x", "scale"], ["xn"], name="normalise"),
             helper.make_node("Conv", ["xn", "w1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             helper.make_node("Conv", ["r1", "w2"], ["c2"], name="conv2"),
             helper.make_node("Sigmoid", ["c2"], ["s"], name="sigmoid"),
             helper.make_node("Mul", ["s", "scale"], ["y"], name="to_pixels")]
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w1, w2, scale])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_regions_post_processing_then_output_then_input_layers():
    from deploybridge.convert.precision_groups import region_groups, regions

    model = _tiny_graph()
    found = regions(model)
    assert found["post-processing"] == ["sigmoid", "to_pixels"]
    assert found["output layers"] == ["conv2"]
    assert found["input layers"] == ["normalise", "conv1"]
    groups = region_groups(model, ["conv1", "relu1", "conv2", "sigmoid", "to_pixels"])
    assert [g.nodes for g in groups] == [["sigmoid", "to_pixels"], ["conv2"], ["conv1"]]  # relu1 is left to measure


def test_two_stage_box_post_processing_is_post_processing():
    """Boxes that only say where a second stage pools (RoiAlign's rois) are post-processing, not features; so is a
    MatMul of two computed tensors (torchvision's mask pasting, Wy @ mask @ Wx^T: quantized, its box-derived
    weights broke every mask of shapes Mask R-CNN, mask AP -62.8 points; kept float32, +0.56)."""
    from onnx import TensorProto, helper, numpy_helper

    from deploybridge.convert.precision_groups import regions

    w = numpy_helper.from_array(np.ones((2, 3, 1, 1), np.float32), "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["f"], name="backbone"),
             helper.make_node("Sigmoid", ["f"], ["s"], name="score"),
             helper.make_node("ReduceMax", ["s"], ["box"], name="decode", keepdims=0, axes=[1]),
             helper.make_node("Reshape", ["box", "shape"], ["rois"], name="to_rois"),
             helper.make_node("RoiAlign", ["f", "rois", "idx"], ["pooled"], name="pool"),
             helper.make_node("Conv", ["pooled", "w2"], ["y"], name="second_stage"),
             helper.make_node("MatMul", ["y", "y"], ["z"], name="paste")]  # two computed tensors: not a layer
    inits = [w, numpy_helper.from_array(np.ones((1, 2, 1, 1), np.float32), "w2"),
             numpy_helper.from_array(np.array([-1, 4], np.int64), "shape"), numpy_helper.from_array(np.zeros(1, np.int64), "idx")]
    graph = helper.make_graph(nodes, "two_stage", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4])],
                              [helper.make_tensor_value_info("z", TensorProto.FLOAT, None)], inits)
    found = regions(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    assert found["post-processing"] == ["score", "decode", "to_rois", "paste"]  # boxes for the second stage, pasting
    assert found["output layers"] == ["second_stage"]


def test_int8_judges_by_task_parity_float32_by_both():
    from deploybridge.parity.precision_gate import judge
    from deploybridge.parity.tensor import InputCheck
    from deploybridge.parity.verification import Verification

    def verification():  # tensor parity failed (a detection count differs), task parity passed
        check = InputCheck(seed=1000, passed=False, task={"task": "detection", "passed": True, "metrics": {}, "failures": []})
        return Verification("onnxruntime", False, [check], {})

    fp32, int8 = verification(), verification()
    judge(fp32, "fp32")
    judge(int8, "int8")
    assert not fp32.passed and int8.passed
    assert any("not a gate" in line for line in int8.not_run)
    bad = verification()
    bad.inputs[0].task["passed"] = False
    judge(bad, "int8")
    assert not bad.passed


def test_fp16_search_fixes_what_all_float16_breaks(tmp_path):
    """All-float16 shapes RetinaNet moves a score by 0.0227 (bound 0.01); the search keeps the 5 score Sigmoids in
    float32 (still 0.0227), then the 14 prediction convs (cls_logits, bbox_reg at 5 levels): passes (measured)."""
    from deploybridge.convert.pipeline import ConvertOptions, convert
    from deploybridge.plugins import Host
    from deploybridge.records import ModelSpec

    spec = ModelSpec(family="", model="shapes_retinanet")
    result = convert(Host(only=["torchvision"]), spec, ConvertOptions(out=tmp_path / "art", precision="fp16"),
                     plugin="torchvision")
    m = result.manifest
    assert result.passed, m["verification"]["summary"]
    rounds, kept = m["precision"]["rounds"], m["precision"]["kept_fp32"]
    assert m["precision"]["mode"] == "fp16" and "to_fp16" in m["passes"]
    assert not rounds[0]["passed"] and "scores deviate up to" in rounds[0]["summary"], rounds
    deviation = float(rounds[0]["summary"].rsplit(" ", 1)[1])
    assert deviation > m["task_tolerances"]["max_score_deviation"] == 0.01
    assert rounds[-1]["passed"] and len(rounds) <= 6
    assert kept[0]["why"].startswith("post-processing") and set(kept[0]["ops"]) == {"Sigmoid"}
    assert kept[-1]["why"].startswith("output layers") and set(kept[-1]["ops"]) == {"Conv"}
    # the float16 artifact: float16 tolerances, most convs still float16, the report compares it with float32
    assert any("float16" in t["basis"] for t in m["tolerances"].values())
    import onnx

    model = onnx.load(str(result.artifact / "model.onnx"))
    assert sum(n.op_type == "Cast" for n in model.graph.node) > 20
    cmp = m["precision"]["comparison"]
    assert cmp["fp32"]["verification"] == cmp["fp16"]["verification"] == "passed" and cmp["speedup"] > 0
    assert cmp["fp16"]["task"]["max_score_deviation"] <= 0.01 < deviation


def test_int8_mask_bound_passes_patchy_flips_and_catches_a_hole():
    """int8's interior-flip bound (0.1): 9 % of an object flipped inside it (what shapes Mask R-CNN int8 measured:
    up to 8.9 %) passes; a hole of 14 % of the object (mask IoU 0.86, above the 0.8 bound) fails, and float32's bound (0.005) fails both."""
    import numpy as np

    from deploybridge.parity.precision_gate import task_tolerances
    from deploybridge.parity.task import task_parity

    mask = np.zeros((1, 1, 64, 64), np.float32)
    mask[0, 0, 8:48, 8:48] = 1.0  # 1600 pixels
    ref = {"boxes": np.array([[8, 8, 48, 48]], np.float32), "scores": np.array([0.9], np.float32),
           "labels": np.array([1], np.int64), "masks": mask}

    def holed(pixels):
        got = {k: v.copy() for k, v in ref.items()}
        side = int(round(pixels ** 0.5))
        got["masks"][0, 0, 20:20 + side, 20:20 + side] = 0.0
        return got

    int8 = task_tolerances("int8", {})
    patchy, hole = holed(144), holed(240)  # 144 and 225 of 1600 pixels, inside the object
    assert task_parity("instance_masks", ref, patchy, int8).passed
    assert not task_parity("instance_masks", ref, hole, int8).passed
    assert not task_parity("instance_masks", ref, patchy).passed  # float32's bounds
