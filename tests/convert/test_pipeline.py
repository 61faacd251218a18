"""End-to-end convert -> artifact -> verify on the tiny test family (fast) with real ONNX Runtime."""
import json

import numpy as np
import onnx

from conftest import assert_one_line_error


def convert(cli, out, *extra):
    return cli("convert", "--plugin", "tiny", "--model", "tiny-net", "--random-weights", "--out", out, *extra)


def test_convert_writes_complete_artifact_and_verify_rechecks(cli, tiny, tmp_path):
    out = tmp_path / "art"
    result = convert(cli, out)
    assert result.code == 0, result.err
    assert "verification PASSED" in result.out and str(out) in result.out
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "manifest.json", "model.onnx", "report.json"]
    m = json.loads((out / "manifest.json").read_text())
    assert m["spec"] == {"family": "tiny", "model": "tiny-net", "weights": None, "random_weights": True, "seed": 0,
                         "input_shape": None, "config": None, "options": {}, "dynamic": None}
    assert [o["name"] for o in m["outputs"]] == ["features"] and m["outputs"][0]["shape"] == [1, 4, 32, 32]
    assert m["inputs"] == [{"name": "images", "dtype": "float32", "shape": [1, 3, 32, 32]}]
    assert m["export"]["exporter"] == "legacy" and m["export"]["opset"] == 17 and m["export"]["reason"] == "test family"
    tol = m["tolerances"]["features"]
    assert (tol["atol"], tol["rtol"]) == (0.0001, 0.001) and 0 < tol["noise_floor"] < 1e-5  # measured, tiny net: default wins
    assert m["verification"]["passed"] is True and len(m["verification"]["seeds"]) == 3
    assert {"deploybridge", "torch", "onnx", "onnxruntime", "plugin:tiny"} <= set(m["versions"])
    assert m["plugin"] == {"name": "tiny", "version": "0.1"}
    checks = m["verification"]["details"]["inputs"]
    assert all(c["outputs"][0]["max_abs"] < 1e-4 for c in checks)
    report = json.loads((out / "report.json").read_text())
    assert set(report["stages_seconds"]) == {"load", "export", "graph passes", "build", "verify"}
    # deploy verify re-checks from the manifest alone
    again = cli("verify", out, "--json")
    assert again.code == 0, again.err
    assert json.loads(again.out)["passed"] is True
    # deploy_convert_finished was called with the result
    assert [r.artifact for r in tiny.FINISHED] == [out]
    assert tiny.FINISHED[0].verification.passed


def test_hook_deploy_register_backends(cli, tiny, tmp_path):
    """deploy_register_backends: a plugin backend whose outputs are shifted by 1e-2 must be caught."""
    out = tmp_path / "bad"
    result = convert(cli, out, "--backend", "perturbed")
    assert result.code == 1, result.err
    assert "verification FAILED" in result.out and "does NOT match" in result.err
    m = json.loads((out / "manifest.json").read_text())
    assert m["verification"]["passed"] is False
    worst = max(c["outputs"][0]["max_abs"] for c in m["verification"]["details"]["inputs"])
    assert abs(worst - 1e-2) < 1e-4
    # a good artifact checked on the perturbed backend also fails
    good = tmp_path / "good"
    assert convert(cli, good).code == 0
    assert cli("verify", good, "--backend", "perturbed").code == 1
    assert cli("verify", good).code == 0
    # and a loose enough tolerance accepts it, as the user asked
    assert cli("verify", good, "--backend", "perturbed", "--atol", "0.02").code == 0


def test_force_replaces_and_without_force_refuses(cli, tiny, tmp_path):
    out = tmp_path / "art"
    assert convert(cli, out).code == 0
    before = (out / "manifest.json").read_text()
    assert_one_line_error(convert(cli, out), contains="already exists")
    assert (out / "manifest.json").read_text() == before
    assert convert(cli, out, "--force", "--seed", "3").code == 0
    assert json.loads((out / "manifest.json").read_text())["spec"]["seed"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["art", "site-packages"]


def test_exception_mid_pipeline_leaves_nothing(cli, tiny, tmp_path):
    """A graph pass that raises, and a backend build that crashes half-way: no output folder, no temp folder."""
    out = tmp_path / "art"
    assert_one_line_error(convert(cli, out, "--pass", "tiny_explode"), contains="graph pass 'tiny_explode'")
    result = convert(cli, out, "--backend", "crashing")
    assert result.code == 3 and "engine builder crashed" in result.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site-packages"]
    # an existing artifact survives a failed --force run untouched
    assert convert(cli, out).code == 0
    before = (out / "model.onnx").read_bytes()
    assert convert(cli, out, "--force", "--backend", "crashing").code == 3
    assert (out / "model.onnx").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["art", "site-packages"]


def test_hook_deploy_register_graph_passes(cli, tiny, tmp_path):
    """deploy_register_graph_passes: a requested pass runs, is re-checked and recorded."""
    out = tmp_path / "art"
    assert convert(cli, out, "--pass", "tiny_identity").code == 0
    model = onnx.load(str(out / "model.onnx"))
    assert model.graph.node[-1].op_type == "Identity"
    meta = {p.key: p.value for p in model.metadata_props}
    applied = ["tiny_identity", "fix_if_branch_types", "name_outputs", "order_outputs"]  # by order; the built-ins run for every family
    assert meta["deploybridge.passes"] == ",".join(applied)
    assert json.loads((out / "manifest.json").read_text())["passes"] == applied
    assert cli("verify", out).code == 0


def test_inspect_reports_io_ops_and_metadata(cli, tiny, tmp_path):
    out = tmp_path / "art"
    assert convert(cli, out).code == 0
    result = cli("inspect", out / "model.onnx", "--json")
    assert result.code == 0
    info = json.loads(result.out)
    assert info["opset"]["ai.onnx"] == 17
    assert info["ops"] == {"Conv": 2, "Relu": 1, "Constant": 1, "Mul": 1}
    assert info["outputs"][0]["name"] == "features"
    assert info["metadata"]["deploybridge.family"] == "tiny"
    human = cli("inspect", out)
    assert human.code == 0 and "Conv" in human.out and "deploybridge.model = tiny-net" in human.out


def test_rewrites_listing_shows_owners(cli, tiny):
    data = json.loads(cli("rewrites", "--json").out)
    owners = {r["name"]: r["owner"] for r in data["rewrites"]}
    assert owners["tiny_scale_by_three"] == "tiny"
    passes = {p["name"]: p["owner"] for p in data["graph_passes"]}
    assert {n: o for n, o in passes.items() if o == "tiny"} == {"tiny_explode": "tiny", "tiny_identity": "tiny"}
    assert {"fix_if_branch_types", "simplify", "name_outputs", "order_outputs"} <= {n for n, o in passes.items() if o == "builtin"}
    assert "tiny_scale_by_three" in cli("rewrites").out


def test_verification_compares_by_name_not_position(tmp_path):
    from deploybridge.records import OutputSpec, Tolerance
    from deploybridge.parity.tensor import compare_outputs

    outs = [OutputSpec("a"), OutputSpec("b")]
    ref = {"a": np.zeros(3, np.float32), "b": np.ones(3, np.float32)}
    got = {"b": np.ones(3, np.float32), "a": np.zeros(3, np.float32)}  # other order
    tol = {n: Tolerance() for n in "ab"}
    assert compare_outputs(0, outs, ref, got, tol).passed
    renamed = {"x": np.zeros(3, np.float32), "b": np.ones(3, np.float32)}
    check = compare_outputs(0, outs, ref, renamed, tol)
    assert not check.passed and "backend has no output 'a'" in check.outputs[0].note


def test_dynamo_exporter_selectable_and_recorded(cli, tiny, tmp_path):
    out = tmp_path / "dyn"
    result = cli("convert", "--plugin", "tiny", "--model", "tiny-net", "--random-weights", "--exporter", "dynamo", "--opset", "18", "--out", out)
    assert result.code == 0, result.err
    export = json.loads((out / "manifest.json").read_text())["export"]
    assert export["exporter"] == "dynamo" and export["reason"] == "chosen with --exporter"
    assert export["opset"] >= 18 and export["requested_opset"] == 18
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "manifest.json", "model.onnx", "report.json"]  # no external data
