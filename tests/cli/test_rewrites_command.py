"""deploy rewrites: one line per rewrite and graph pass at 100 columns; NAME shows one in full; --json has it all."""
import json
import re

from conftest import assert_one_line_error


def _registered(cli) -> dict:
    return json.loads(cli("rewrites", "--json").out)


def test_list_is_readable_at_100_columns(cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    data = _registered(cli)
    result = cli("rewrites")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert max(len(line) for line in lines) <= 100, [line for line in lines if len(line) > 100]
    for record in data["rewrites"] + data["graph_passes"]:  # each name whole on one line, one line per record
        assert sum(bool(re.search(rf"│ {re.escape(record['name'])} +│", line)) for line in lines) == 1, record["name"]
    linspace = next(r for r in data["rewrites"] if r["name"] == "linspace")
    assert linspace["why"][:30] not in result.out and "deploy rewrites NAME" in result.out


def test_name_shows_the_whole_record_with_its_why(cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    linspace = next(r for r in _registered(cli)["rewrites"] if r["name"] == "linspace")
    result = cli("rewrites", "linspace")
    assert result.code == 0, result.err
    assert max(len(line) for line in result.out.splitlines()) <= 100
    assert " ".join(result.out.split()).count(linspace["why"]) == 1  # wrapped, but all of it
    assert re.search(r"^target +torch\.linspace$", result.out, flags=re.M) and "plugin 'rewrites'" in result.out
    full = "mmdet.models.task_modules.coders.delta_xywh_bbox_coder.onnx_delta2bbox"  # the set-up installs mmdet
    long_target = cli("rewrites", "mmdet_onnx_delta2bbox")
    assert long_target.code == 0 and full in long_target.out  # NAME shows the whole target ...
    listed = next(line for line in cli("rewrites").out.splitlines() if "mmdet_onnx_delta2bbox" in line)
    assert full not in listed and "…" in listed and "onnx_delta2bbox" in listed  # ... the list its tail
    graph_pass = cli("rewrites", "to_fp16")
    assert graph_pass.code == 0 and "graph pass" in graph_pass.out and "float16" in graph_pass.out


def test_unknown_name_is_one_line_with_the_closest(cli):
    result = cli("rewrites", "linspac")
    assert_one_line_error(result, contains="no rewrite or graph pass named 'linspac' (did you mean linspace?)")
    assert_one_line_error(cli("rewrites", "zzzz"), contains="`deploy rewrites` lists them")


def test_json_keeps_every_field(cli):
    data = _registered(cli)
    linspace = next(r for r in data["rewrites"] if r["name"] == "linspace")
    assert {"why", "fixes_warnings", "families", "backends", "target"} <= set(linspace) and linspace["why"]
    one = json.loads(cli("rewrites", "linspace", "--json").out)
    assert one == {"rewrite": linspace}
    assert "description" in json.loads(cli("rewrites", "to_fp16", "--json").out)["graph_pass"]


def test_shorten_target_keeps_whole_trailing_names():
    from deploybridge.cli.commands.rewrites import shorten_target

    assert shorten_target("torch.linspace", 20) == "torch.linspace"
    assert shorten_target("mmcv.ops.roi_align.RoIAlign", 20) == "…roi_align.RoIAlign"
    assert shorten_target("torch.ops.torchvision.roi_align", 20) == "…roi_align"
    assert shorten_target("aten::triu", 6) == "…triu"  # a symbolic's domain::op
    assert shorten_target("a.b_very_long_function_name", 10) == "…tion_name"  # even the last name is too long
