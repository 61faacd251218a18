"""`deploy debug` on seed 000 (Detectron2's ROIAlignV2 exported at opset 11 without roi_align_aligned, so with
aligned=False): the first divergence is the box pooler's RoiAlign, computed from tensors that agree (the FPN level
and the RPN's proposals), and roi_align_aligned is the fix, not applied. With the rewrite nothing diverges.

Measured (R18, 192², random weights, first verification seed): RoiAlign of level_poolers.0 [905, 256, 7, 7] max abs
6.18, 0.42 of its scale (tolerance 0.0148); its inputs' error 2.2e-6 of scale (fpn_output2 and the 944 proposals,
1.5e-4 px on 192); with the rewrite the same tensor is off by 6.6e-6 of scale. Opset 17 (RoiAlign-16 with
aligned) also reports nothing diverging: checked by hand, not here, to keep this to two conversions."""
from __future__ import annotations

import json

import pytest

from d2_zoo import zoo_converter  # noqa: F401 - a pytest fixture, used by name

pytest.importorskip("detectron2", reason="Detectron2 not installed: run `deploy install detectron2`")


def _debug(cli, folder) -> tuple[int, dict]:
    result = cli("debug", folder, "--json")
    assert result.out.strip().startswith("{"), result.err[-2000:]
    return result.code, json.loads(result.out)


def test_roi_align_without_its_rewrite_is_named_with_the_fix(zoo_converter, cli):
    converted = zoo_converter("mask", 11, "--no-rewrite", "roi_align_aligned")
    assert converted.code == 1, converted.stderr[-2000:]  # verification fails: the artifact is kept for debugging
    code, report = _debug(cli, converted.out)
    assert code == 1 and report["diverged"], report.get("first_divergence")
    first = report["first_divergence"]
    error = first["error"]
    assert error["op"] == "RoiAlign", error
    assert "roi_heads" in error["module"] and "pooler" in error["module"], error["module"]
    assert error["max_rel"] > 0.1, error  # measured 0.42
    # it creates the error: what it is computed from agrees, the RPN's proposals included (compared, not assumed)
    assert first["created"] and first["input_error"] < 1e-4, first["input_error"]
    modules = {t["tensor"]: t["module"] for t in report["tensors"]}
    assert any((modules.get(t) or "").endswith("proposal_generator") for t in first["inputs"]), first["inputs"]
    fixes = {f["name"]: f for f in first["fixes"]}
    assert "roi_align_aligned" in fixes and fixes["roi_align_aligned"]["applied"] is False, first["fixes"]
    assert first["fixes"][0]["name"] == "roi_align_aligned", [f["name"] for f in first["fixes"]]


def test_with_the_rewrite_nothing_diverges(zoo_converter, cli):
    converted = zoo_converter("mask", 11)
    assert converted.code == 0, converted.stderr[-2000:]
    code, report = _debug(cli, converted.out)
    assert code == 0 and not report["diverged"], report.get("first_divergence")
    # not vacuous: the box pooler's levels (the rewrite's output) were compared and agree
    pooled = [t for t in report["tensors"] if "box_pooler.level_poolers" in (t["module"] or "") and t["shape"][0] > 0]
    assert pooled and all(t["max_rel"] < 1e-4 for t in pooled), pooled
