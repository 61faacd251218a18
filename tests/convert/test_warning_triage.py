"""Export-warning triage: fixed / fixable / harmless / unknown, in the manifest and on screen; known warnings are
registered by plugins and tied to the module that warned, not to a file name."""
import json
import os

from deploybridge.convert.export import module_of
from deploybridge.convert.warning_triage import triage
from deploybridge.records import KnownWarning, Rewrite

FIXER = Rewrite("fix_it", "function", "torch.relu", None, why="because", opsets=(11, 15), fixes=(r"aligned=True is only",), owner="me")
LOOPS = KnownWarning("loops", r"Iterating over a tensor", "batch size fixed", module=r"^torchvision\.models\.detection\.rpn$", owner="tv")
LEGACY = KnownWarning("legacy", r"legacy TorchScript-based ONNX export", "picked on purpose", owner="builtin")
KNOWN = {"loops": LOOPS, "legacy": LEGACY}
ITERATING = "Iterating over a tensor might cause the trace to be incorrect."
BOOLEAN = "Converting a tensor to a Python boolean might cause the trace to be incorrect."
WARNINGS = [
    {"category": "UserWarning", "message": "ROIAlign with aligned=True is only supported in opset >= 16.", "source": "x.py:1",
     "module": "x", "count": 2},
    {"category": "DeprecationWarning", "message": "You are using the legacy TorchScript-based ONNX export.", "source": "e.py:3",
     "module": "torch.onnx", "count": 1},
    {"category": "TracerWarning", "message": ITERATING, "source": "rpn.py:9", "module": "mine.rpn", "count": 1},
    {"category": "TracerWarning", "message": ITERATING, "source": "rpn.py:276", "module": "torchvision.models.detection.rpn", "count": 3},
]


def test_verdicts():
    applied = triage(WARNINGS, {"fix_it": FIXER}, ["fix_it"], KNOWN)
    assert [w["verdict"] for w in applied] == ["fixed", "harmless", "unknown", "harmless"]
    assert applied[0]["rewrite"] == "fix_it" and applied[0]["count"] == 2 and applied[0]["owner"] == "me"
    # the same warning from a module nobody has looked at is not harmless, though its file has the same name
    assert "no known warning matches it" in applied[2]["why"]
    assert {"known": "loops", "owner": "tv", "why": "batch size fixed"}.items() <= applied[3].items()
    not_applied = triage(WARNINGS, {"fix_it": FIXER}, [], KNOWN)
    assert not_applied[0]["verdict"] == "fixable" and "opsets 11-15" in not_applied[0]["why"]
    assert [w["verdict"] for w in triage(WARNINGS, {}, [], {})] == ["unknown"] * 4


def test_torchvisions_known_warning_is_for_torchvisions_module_only():
    """torchvision's BoxCoder verdict, registered by its plugin, is not given to another package's _utils.py."""
    from deploybridge.plugins import Host

    known = Host(only=["torchvision"]).known_warnings()
    where = {"category": "TracerWarning", "message": BOOLEAN, "source": "_utils.py:176", "count": 1}
    theirs, other, nowhere = triage([{**where, "module": "torchvision.models.detection._utils"}, {**where, "module": "foo._utils"},
                                     {**where, "module": ""}], {}, [], known)
    assert (theirs["verdict"], theirs["owner"]) == ("harmless", "torchvision") and "BoxCoder" in theirs["why"]
    assert other["verdict"] == "unknown" and nowhere["verdict"] == "unknown"


def test_module_of_names_the_module_not_the_file(tmp_path):
    root, other = str(tmp_path / "site"), str(tmp_path / "site" / "pkg")  # nested roots: the longest one decides
    tv = os.path.join(root, "torchvision", "models", "detection", "_utils.py")
    foo = os.path.join(root, "foo", "_utils.py")
    assert module_of(tv, {}, [root]) == "torchvision.models.detection._utils"
    assert module_of(foo, {}, [root]) == "foo._utils"
    assert module_of(os.path.join(root, "foo", "__init__.py"), {}, [root]) == "foo"
    assert module_of(os.path.join(other, "bar.py"), {}, [root, other]) == "bar"
    # an imported module's own name wins (a file run from a path entry that is not its package's root)
    assert module_of(foo, {os.path.abspath(foo): "vendored.foo._utils"}, [root]) == "vendored.foo._utils"
    assert module_of(str(tmp_path / "elsewhere.py"), {}, [root]) == ""
    assert module_of("<string>", {}, [root]) == ""


def test_hook_deploy_register_known_warnings(cli, fake_plugin, tmp_path):
    """A plugin's registered KnownWarning turns a warning from unknown into harmless, and the manifest names it and
    its owner. Every plugin is loaded (no --plugin), torchvision's `_utils` entry included: it does not match."""
    fake_plugin("warns", "db_test_warns")
    before = cli("convert", "--family", "warns", "--model", "warner", "--random-weights", "--out", tmp_path / "a")
    assert before.code == 0, before.out + before.err
    (warning,) = [w for w in json.loads((tmp_path / "a" / "manifest.json").read_text())["export_warnings"]
                  if w["message"].startswith("Converting a tensor to a Python boolean")]
    assert warning["module"] == "db_test_warns._utils" and warning["source"].startswith("_utils.py:")
    assert warning["verdict"] == "unknown" and "unknown" in before.out

    fake_plugin("known", "db_test_known")
    after = cli("convert", "--family", "warns", "--model", "warner", "--random-weights", "--out", tmp_path / "b")
    assert after.code == 0, after.out + after.err
    (warning,) = [w for w in json.loads((tmp_path / "b" / "manifest.json").read_text())["export_warnings"]
                  if w["message"].startswith("Converting a tensor to a Python boolean")]
    assert {"verdict": "harmless", "known": "db_test_keep_if_any", "owner": "known"}.items() <= warning.items()
    assert "unknown" not in after.out


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
