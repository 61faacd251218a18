"""parity/debug/fixes.py: the rewrites and passes matching a divergence's op or module, and whether each was in force."""
from types import SimpleNamespace

from deploybridge.parity.debug.divergence import FirstDivergence, TensorError
from deploybridge.parity.debug.fixes import suggest
from deploybridge.records import GraphPass, Rewrite


class RoIHeads:  # stands for torchvision's class of that name: matched by class name
    pass


class Pooler:
    pass


def _host(rewrites, passes=()):
    return SimpleNamespace(rewrites=lambda: {r.name: r for r in rewrites},
                           graph_passes=lambda: {p.name: p for p in passes})


def _first(op: str, module: str | None, between=()):
    error = TensorError("t", "n", op, module, "", "", 3, [1], 1.0, 0.5, 0.9, 1e-3, True)
    return FirstDivergence(error, 1e-7, ["x"], [{"node": "n", "op": op}, *between], True)


MODULES = {"": object(), "model": object(), "model.roi_heads": RoIHeads(), "model.roi_heads.box_pool": Pooler()}
REWRITES = [
    Rewrite("roi_align_aligned", "function", "torch.ops.torchvision.roi_align", None, owner="rewrites", opsets=(7, 15)),
    Rewrite("mask_logits_by_label", "module", "torchvision.models.detection.roi_heads.RoIHeads", None, owner="rewrites"),
    Rewrite("linspace", "function", "torch.linspace", None, owner="rewrites"),
    Rewrite("new_roi_align", "function", "pkg.new_roi_align", None, owner="x", opsets=(16, 99)),
]
MANIFEST = {"export": {"exporter": "legacy", "opset": 11}, "passes": ["fix_if_branch_types"],
            "rewrites": [{"name": "mask_logits_by_label", "owner": "rewrites", "target": "x.RoIHeads", "calls": 1},
                         {"name": "gone_rewrite", "owner": "gone", "target": "pkg.mod.Pooler.forward", "calls": 3}]}


def test_op_matches_come_first_and_say_whether_they_were_in_force():
    found = suggest(_host(REWRITES), MANIFEST, None, _first("RoiAlign", "model.roi_heads.box_pool"), MODULES)
    names = [f["name"] for f in found]
    assert names[0] == "roi_align_aligned" and found[0]["matches"] == "op RoiAlign" and not found[0]["applied"]
    assert "re-convert with it" in found[0]["status"]
    by_name = {f["name"]: f for f in found}
    assert by_name["mask_logits_by_label"]["applied"] and "RoIHeads" in by_name["mask_logits_by_label"]["matches"]
    # in force when the artifact was made, its plugin not loaded now: still named, from the manifest
    assert by_name["gone_rewrite"]["applied"] and by_name["gone_rewrite"]["owner"] == "gone"
    assert "linspace" not in by_name
    assert "does not apply to the legacy exporter at opset 11" in by_name["new_roi_align"]["status"]


def test_passes_match_an_op_by_whole_words_of_their_name():
    passes = [GraphPass("fix_if_branch_types", lambda g, c: g, owner="builtin"),
              GraphPass("simplify", lambda g, c: g, owner="builtin")]
    found = suggest(_host([], passes), MANIFEST, None, _first("If", "model"), MODULES)
    assert [f["name"] for f in found if f["kind"] == "graph pass"] == ["fix_if_branch_types"]
    assert found[0]["applied"] and "ran in this export" in found[0]["status"]


def test_a_node_that_names_no_module_is_matched_by_op_only():
    found = suggest(_host(REWRITES), {"export": {"exporter": "legacy", "opset": 17}}, None, _first("Slice", None), MODULES)
    assert found == []
