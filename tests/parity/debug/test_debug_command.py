"""`deploy debug` on real artifacts: a planted wrong rewrite is named (op, module scope) as the first divergence, in a
plain and in a segmented (--truncate-nms) artifact; the correct artifact reports nothing diverging."""
import json

import pytest

MODEL = "shapes_maskrcnn"  # the embedded, trained torchvision Mask R-CNN: seconds to convert


def _module_named(predicate):
    """The qualified name of the one Conv2d of the shapes Mask R-CNN that ``predicate`` picks."""
    import torch

    from deploybridge.convert.resolve import load_model, resolve_family
    from deploybridge.plugins import Host
    from deploybridge.records import ModelSpec

    spec = ModelSpec(family="torchvision", model=MODEL)
    module = load_model(resolve_family(Host(only=["torchvision"]), spec, "torchvision"), spec).module
    names = [n for n, m in module.named_modules() if isinstance(m, torch.nn.Conv2d) and predicate(m)]
    assert len(names) == 1, names
    return names[0]


@pytest.fixture
def planted(fake_plugin, monkeypatch):
    """The scale_one_conv rewrite in force for conversions: TARGET picks the conv by its weights."""
    fake_plugin("scaled", "db_test_scaled")
    monkeypatch.setenv("DEPLOYBRIDGE_PLUGINS", "torchvision,scaled")
    import db_test_scaled
    import torch

    def plant(name: str, model: str = MODEL, random_weights: bool = False) -> None:
        from deploybridge.convert.resolve import load_model, resolve_family
        from deploybridge.plugins import Host
        from deploybridge.records import ModelSpec

        spec = ModelSpec(family="torchvision", model=model, random_weights=random_weights)
        modules = dict(load_model(resolve_family(Host(only=["torchvision"]), spec, "torchvision"), spec).module.named_modules())
        weight = modules[name].weight.detach().clone()
        same_shape = [m for m in modules.values() if isinstance(m, torch.nn.Conv2d) and m.weight.shape == weight.shape]
        if len(same_shape) == 1:  # by shape alone: the dynamo exporter traces the weights, a value test would be traced too
            db_test_scaled.TARGET = lambda conv: conv.weight.shape == weight.shape
        else:
            db_test_scaled.TARGET = lambda conv: conv.weight.shape == weight.shape and bool((conv.weight == weight).all())

    yield plant
    db_test_scaled.TARGET = None


def _debug(cli, folder):
    result = cli("debug", folder, "--json")
    return result, json.loads(result.out) if result.out.strip().startswith("{") else None


def test_correct_artifact_reports_no_divergence(cli, tmp_path):
    out = tmp_path / "ok"
    assert cli("convert", "--plugin", "torchvision", "--model", MODEL, "--out", out).code == 0
    result, report = _debug(cli, out)
    assert result.code == 0, result.err
    assert report["diverged"] is False and report["first_divergence"] is None
    assert report["compared"] >= 40  # backbone, FPN, RPN head, box and mask heads
    worst = max(t["max_rel"] for t in report["tensors"])
    assert worst < 1e-4, worst  # float32 noise, ten times under the bound at least
    assert (tmp_path / "ok.debug" / "errors.png").is_file()
    node_data = json.loads((tmp_path / "ok.debug" / "model-explorer.json").read_text())
    assert len(next(iter(node_data.values()))["results"]) >= 40


@pytest.mark.parametrize("conv,segmented", [("model.backbone.stages.2.0.0", False),
                                            ("model.roi_heads.mask_head.1.0", True)])
def test_planted_wrong_rewrite_is_the_first_divergence(cli, tmp_path, planted, conv, segmented):
    planted(conv)
    out = tmp_path / "planted"
    args = ["--truncate-nms"] if segmented else []
    converted = cli("convert", "--model", MODEL, "--family", "torchvision", *args, "--out", out)
    assert converted.code == 1, "a 1% error in one convolution must fail verification"
    assert "deploy debug" in converted.err
    manifest = json.loads((out / "manifest.json").read_text())
    assert bool(manifest.get("segments")) == segmented
    result, report = _debug(cli, out)
    assert result.code == 1, result.err
    first = report["first_divergence"]
    assert first["error"]["module"] == conv, first
    assert first["error"]["op"] in ("Mul", "Conv")
    assert first["created"] and first["input_error"] < 1e-4
    assert 5e-3 < first["error"]["max_rel"] < 2e-2  # the planted 1%
    fixes = {f["name"]: f for f in first["fixes"]}
    assert fixes["scale_one_conv"]["applied"], first["fixes"]  # the suspect: in force in this export


def test_dynamo_export_scopes_survive_the_graph_passes(cli, tmp_path, planted):
    """The dynamo exporter's module scopes are node metadata, which onnx-graphsurgeon drops: the pass runner keeps
    them, so every node of the exported MobileNetV3 names its module, and a planted error is found by them."""
    ok = tmp_path / "ok"
    assert cli("convert", "--plugin", "torchvision", "--model", "mobilenet_v3_small", "--random-weights",
               "--exporter", "dynamo", "--out", ok).code == 0
    result, report = _debug(cli, ok)
    assert result.code == 0, result.err
    assert report["unmapped_nodes"] == 0 and report["compared"] >= 100, (report["unmapped_nodes"], report["compared"])
    planted("model.features.4.block.1.0", "mobilenet_v3_small", random_weights=True)
    bad = tmp_path / "bad"
    assert cli("convert", "--model", "mobilenet_v3_small", "--family", "torchvision", "--random-weights",
               "--exporter", "dynamo", "--out", bad).code == 1
    result, report = _debug(cli, bad)
    first = report["first_divergence"]
    assert result.code == 1 and first["error"]["module"] in ("model.features.4.block.1.0", "model.features.4.block.1.1"), first
    assert first["error"]["source"], "the dynamo exporter's stack trace names a source line"


def test_other_backend_is_compared_with_onnxruntime_tensor_by_tensor(cli, tmp_path):
    pytest.importorskip("openvino", reason="OpenVINO not installed: `make install` installs it")
    out = tmp_path / "ok"
    assert cli("convert", "--plugin", "torchvision", "--model", MODEL, "--out", out).code == 0
    result = cli("debug", out, "--backend", "openvino", "--json")
    report = json.loads(result.out)
    assert result.code == 0, result.err
    assert report["reference"] == "onnxruntime-fp32" and report["backend"] == "openvino"
    # every typed tensor of the graph is a candidate, not only module outputs (2000+: read in two passes, a sample
    # first); NMS index lists in another order are ties, not errors
    assert report["compared"] > 500, report["compared"]


def test_a_graph_departing_from_float32_at_one_node_is_found_in_two_passes(tmp_path):
    """compare_with_fp32 on a graph equal to the float32 one but for a Mul by 1.01 after one FPN convolution: more
    tensors than one pass reads (2000+), so a sample is read first and then the window before its first divergence;
    the convolution's tensor, and no earlier one, is the first divergence, with its module."""
    import onnx
    from onnx import helper

    from deploybridge.cli import main
    from deploybridge.convert.resolve import load_model, resolve_family
    from deploybridge.parity.debug import bisect, divergence, search
    from deploybridge.plugins import Host
    from deploybridge.records import ModelSpec

    out = tmp_path / "ok"
    assert main(["convert", "--plugin", "torchvision", "--model", MODEL, "--out", str(out)]) == 0
    fp32 = onnx.load(str(out / "model.onnx"))
    model = onnx.load(str(out / "model.onnx"))
    target = "/model/backbone/fpn/layer_blocks.2/layer_blocks.2.0/Conv_output_0"
    k = next(i for i, n in enumerate(model.graph.node) if target in n.output)
    conv = model.graph.node[k]
    conv.output[0] = target + "_raw"
    model.graph.initializer.append(onnx.numpy_helper.from_array(__import__("numpy").array(1.01, "float32"), "planted_scale"))
    model.graph.node.insert(k + 1, helper.make_node("Mul", [target + "_raw", "planted_scale"], [target], name=conv.name + "_planted"))
    spec = ModelSpec(family="torchvision", model=MODEL)
    loaded = load_model(resolve_family(Host(only=["torchvision"]), spec, "torchvision"), spec)
    feed = {n: t.numpy() for n, t in zip(loaded.input_names, loaded.make_inputs(1000))}
    assert sum(1 for n in model.graph.node for _ in n.output) > bisect.MAX_TENSORS
    errors, _ = search.compare_with_fp32(model, fp32, dict(loaded.module.named_modules()), feed, None, None, 1e-3, 1e-6)
    first = divergence.locate(model, errors, list(feed))
    assert first is not None and first.error.tensor == target, first and first.error
    assert first.error.module == "model.backbone.fpn.layer_blocks.2.0" and first.created
    assert len(errors) < bisect.MAX_TENSORS  # never every tensor at once
