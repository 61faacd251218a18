"""deploy_register_rewrites: scoped function rewrites, recorded, restored, loud when the target is missing."""
import json

import onnx
import pytest

from conftest import assert_one_line_error
from deploybridge.errors import DeployError
from deploybridge.records import Rewrite
from deploybridge.rewriting import applied, resolve_target


def test_rewrite_changes_the_export_and_is_restored(cli, tiny, tmp_path):
    original = tiny.scale
    out = tmp_path / "art"
    # the rewrite applies at opset 13 only: the exported graph multiplies by 3 where PyTorch multiplies by 2,
    # so verification must fail, which proves the rewrite was in force during export and only then
    result = cli("convert", "--plugin", "tiny", "--model", "tiny-net", "--random-weights", "--opset", "13", "--out", out)
    assert result.code == 1, result.err
    assert tiny.scale is original
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["rewrites"] == ["tiny_scale_by_three"]
    meta = {p.key: p.value for p in onnx.load(str(out / "model.onnx")).metadata_props}
    assert meta["deploybridge.rewrites"] == "tiny_scale_by_three"
    # out of its opset range it is not applied, and --no-rewrite disables it in range
    assert cli("convert", "--plugin", "tiny", "--model", "tiny-net", "--random-weights", "--opset", "14", "--out", tmp_path / "b").code == 0
    ok = cli("convert", "--plugin", "tiny", "--model", "tiny-net", "--random-weights", "--opset", "13",
             "--no-rewrite", "tiny_scale_by_three", "--out", tmp_path / "c")
    assert ok.code == 0, ok.err
    assert json.loads((tmp_path / "c" / "manifest.json").read_text())["rewrites"] == []


def test_missing_target_fails_naming_rewrite(cli, fake_plugin, tiny, tmp_path):
    import torch.nn.functional as F

    fake_plugin("badrewrite", "db_test_badrewrite")
    before = dict(vars(F))
    result = cli("convert", "--model", "tiny-net", "--random-weights", "--out", tmp_path / "a")
    assert_one_line_error(result, contains="rewrite 'ghost_rewrite' (plugin 'badrewrite'): target 'torch.nn.functional.no_such_function'")
    assert not (tmp_path / "a").exists()
    assert dict(vars(F)) == before


def _double(x):
    return 2 * x


def test_applied_restores_on_exception_and_handles_inherited_attributes():
    import torch

    class Base(torch.nn.Module):
        def forward(self, x):
            return x

    class Child(Base):
        pass

    torch.nn.modules._db_test_child = Child  # make it reachable by dotted path
    try:
        rw = [Rewrite("r1", "function", "torch.nn.modules._db_test_child.forward", replacement=lambda self, x: x + 1),
              Rewrite("r2", "function", "torch.nn.functional.relu", replacement=_double)]
        relu = torch.nn.functional.relu
        with pytest.raises(RuntimeError):
            with applied(rw) as names:
                assert names == ["r1", "r2"]
                assert Child().forward(torch.tensor(1.0)) == 2.0
                assert torch.nn.functional.relu is _double
                raise RuntimeError("export failed")
        assert torch.nn.functional.relu is relu
        assert "forward" not in vars(Child)  # inherited attribute: patch removed, not pinned
        assert Child().forward(torch.tensor(1.0)) == 1.0
    finally:
        del torch.nn.modules._db_test_child


def test_partial_application_is_undone_when_a_later_target_is_missing():
    import torch

    relu = torch.nn.functional.relu
    rw = [Rewrite("ok", "function", "torch.nn.functional.relu", replacement=_double),
          Rewrite("ghost", "function", "torch.nn.functional.ghost", replacement=_double)]
    with pytest.raises(DeployError, match="rewrite 'ghost'"):
        with applied(rw):
            pass
    assert torch.nn.functional.relu is relu


def test_resolve_target_errors():
    with pytest.raises(ImportError):
        resolve_target("no_such_package_xyz.fn")
    owner, attr = resolve_target("torch.nn.Module.forward")
    assert attr == "forward" and owner.__name__ == "Module"
