"""Export-warning triage: fixed / fixable / harmless / unknown, in the manifest and on screen."""
import json

from deploybridge.records import Rewrite
from deploybridge.convert.warning_triage import triage

FIXER = Rewrite("fix_it", "function", "torch.relu", None, why="because", opsets=(11, 15), fixes=(r"aligned=True is only",))
WARNINGS = [
    {"category": "UserWarning", "message": "ROIAlign with aligned=True is only supported in opset >= 16.", "source": "x.py:1", "count": 2},
    {"category": "DeprecationWarning", "message": "You are using the legacy TorchScript-based ONNX export.", "source": "e.py:3", "count": 1},
    {"category": "TracerWarning", "message": "Iterating over a tensor might cause the trace to be incorrect.", "source": "mine.py:9", "count": 1},
    {"category": "TracerWarning", "message": "Iterating over a tensor might cause the trace to be incorrect.", "source": "rpn.py:276", "count": 3},
]


def test_verdicts():
    applied = triage(WARNINGS, {"fix_it": FIXER}, ["fix_it"])
    assert [w["verdict"] for w in applied] == ["fixed", "harmless", "unknown", "harmless"]
    assert applied[0]["rewrite"] == "fix_it" and applied[0]["count"] == 2
    # the same warning from code nobody has looked at is not harmless: known entries can be tied to a source
    assert "not in the triage table" in applied[2]["why"]
    not_applied = triage(WARNINGS, {"fix_it": FIXER}, [])
    assert not_applied[0]["verdict"] == "fixable" and "opsets 11-15" in not_applied[0]["why"]


def test_convert_shows_the_triage_and_the_rewrite_makes_parity(cli, fake_plugin, tmp_path):
    fake_plugin("rois", "db_test_rois")
    ok = cli("convert", "--plugin", "rois", "--model", "roi-pooler", "--random-weights", "--opset", "11", "--out", tmp_path / "a")
    assert ok.code == 0, ok.err
    assert "unknown" in ok.out and "db-test: a warning nobody has triaged" in ok.out
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert {"name": "roi_align_aligned", "calls": 1} .items() <= next(r for r in manifest["rewrites"] if r["name"] == "roi_align_aligned").items()
    verdicts = {w["message"]: w["verdict"] for w in manifest["export_warnings"]}
    assert verdicts["db-test: a warning nobody has triaged"] == "unknown"
    assert not any(w["message"].startswith("ROIAlign") for w in manifest["export_warnings"])  # the op is no longer exported aligned

    # without the rewrite: the warning is back, marked fixable, and verification catches the error
    bad = cli("convert", "--plugin", "rois", "--model", "roi-pooler", "--random-weights", "--opset", "11",
              "--no-rewrite", "roi_align_aligned", "--out", tmp_path / "b")
    assert bad.code == 1, bad.err
    assert "fixable" in bad.out and "roi_align_aligned" in bad.out
    assert "verification FAILED" in bad.out or "FAIL" in bad.out
