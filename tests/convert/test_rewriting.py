"""deploy_register_rewrites: the four rewrite kinds, scoped, recorded, restored, loud when the target is missing."""
import json

import numpy as np
import onnx
import pytest

from conftest import assert_one_line_error
from deploybridge.errors import DeployError
from deploybridge.records import LoadedModel, OutputSpec, Rewrite
from deploybridge.convert.rewriting import applied, resolve_target, select


def _patched_names():
    """Every attribute the built-in rewrites patch, as it is right now."""
    import torch

    return (torch.linspace, vars(torch.Tensor).get("__getitem__"), torch.ops.torchvision.roi_align)


def test_hook_deploy_register_rewrites(cli, tiny, tmp_path):
    import torchvision  # noqa: F401  registers torch.ops.torchvision

    original = tiny.scale
    builtins_before = _patched_names()
    out = tmp_path / "art"
    # the rewrite applies at opset 13 only: the exported graph multiplies by 3 where PyTorch multiplies by 2,
    # so verification must fail, which proves the rewrite was in force during export and only then
    result = cli("convert", "--plugin", "tiny", "--model", "tiny-net", "--random-weights", "--opset", "13", "--out", out)
    assert result.code == 1, result.err
    assert tiny.scale is original
    assert _patched_names() == builtins_before
    manifest = json.loads((out / "manifest.json").read_text())
    fired = [r["name"] for r in manifest["rewrites"] if r["calls"]]
    assert fired == ["tiny_scale_by_three"]
    assert {"name": "tiny_scale_by_three", "owner": "tiny", "kind": "function", "target": "db_test_tiny.scale",
            "calls": 1} in manifest["rewrites"]
    meta = {p.key: p.value for p in onnx.load(str(out / "model.onnx")).metadata_props}
    assert meta["deploybridge.rewrites"] == "tiny_scale_by_three"
    # out of its opset range it is not applied, and --no-rewrite disables it in range
    assert cli("convert", "--plugin", "tiny", "--model", "tiny-net", "--random-weights", "--opset", "14", "--out", tmp_path / "b").code == 0
    ok = cli("convert", "--plugin", "tiny", "--model", "tiny-net", "--random-weights", "--opset", "13",
             "--no-rewrite", "tiny_scale_by_three", "--out", tmp_path / "c")
    assert ok.code == 0, ok.err
    assert "tiny_scale_by_three" not in [r["name"] for r in json.loads((tmp_path / "c" / "manifest.json").read_text())["rewrites"]]
    # two conversions later, still nothing left behind
    assert tiny.scale is original
    assert _patched_names() == builtins_before


def test_unknown_no_rewrite_name_is_bad_input(cli, tiny, tmp_path):
    result = cli("convert", "--plugin", "tiny", "--model", "tiny-net", "--random-weights", "--no-rewrite", "linspaec",
                 "--out", tmp_path / "a")
    assert_one_line_error(result, contains="unknown rewrite(s) linspaec")
    assert not (tmp_path / "a").exists()


def test_missing_target_fails_naming_rewrite(cli, fake_plugin, tiny, tmp_path):
    import torch.nn.functional as F

    fake_plugin("badrewrite", "db_test_badrewrite")
    before = dict(vars(F))
    builtins_before = _patched_names()
    result = cli("convert", "--model", "tiny-net", "--random-weights", "--out", tmp_path / "a")
    assert_one_line_error(result, contains="rewrite 'ghost_rewrite' (plugin 'badrewrite'): target 'torch.nn.functional.no_such_function'")
    assert not (tmp_path / "a").exists()
    assert dict(vars(F)) == before
    assert _patched_names() == builtins_before  # the built-ins applied before the failing one were undone


def test_rewrites_command_lists_owners(cli, tiny):
    result = cli("rewrites", "--json")
    assert result.code == 0, result.err
    rows = {r["name"]: r for r in json.loads(result.out)["rewrites"]}
    for name in ("linspace", "roi_align_aligned", "negative_index"):
        assert rows[name]["owner"] == "rewrites" and rows[name]["why"] and rows[name]["opsets"][0] <= rows[name]["opsets"][1]
    assert rows["tiny_scale_by_three"]["owner"] == "tiny"
    assert rows["roi_align_aligned"]["target"] == "torch.ops.torchvision.roi_align"
    assert "roi_align_aligned" in cli("rewrites").out
    assert "x[i, j]" in cli("rewrites", "negative_index").out  # markup in 'why' is printed, not eaten


def _double(x):
    return 2 * x


def test_function_kind_restores_on_exception_and_handles_inherited_attributes():
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
            with applied(rw) as result:
                assert result.names == ["r1", "r2"]
                assert Child().forward(torch.tensor(1.0)) == 2.0
                assert torch.nn.functional.relu(torch.tensor(-3.0)) == -6.0
                assert result.calls == {"r1": 1, "r2": 1}
                raise RuntimeError("export failed")
        assert torch.nn.functional.relu is relu
        assert "forward" not in vars(Child)  # inherited attribute: patch removed, not pinned
        assert Child().forward(torch.tensor(1.0)) == 1.0
    finally:
        del torch.nn.modules._db_test_child


def test_a_tensor_method_rewrite_leaves_tensors_no_sequences_afterwards():
    """negative_index rewrites Tensor.__getitem__, which torch.Tensor inherits from its C base. Assigned on the class
    and deleted afterwards, it left CPython's generic sequence slot behind: every later torch.tensor([0-d tensor])
    failed ("len() of a 0-d tensor"), and so did MMDeploy's export after any legacy one in the same process. The
    rewrite is in force while applied (calls counted, negative indices wrapped); afterwards the patch is gone and the
    class's C slots are as before (planted: slots not put back -> TypeError)."""
    import torch
    from deploybridge_rewrites.negative_index import make_getitem

    x = torch.arange(12).reshape(3, 4)
    i, j = torch.tensor([0, 2]), torch.tensor([-1, 1])
    with applied([Rewrite("negative_index", "function", "torch.Tensor.__getitem__", replacement=make_getitem,
                          wrap=True)]) as result:
        assert x[i, j].tolist() == [3, 9]
        assert result.calls["negative_index"] == 1
        # while in force too: the legacy exporter's own symbolics build torch.tensor([0-d tensor]) when they slice a
        # shape (fastreid AGW/SBS failed with "len() of a 0-d tensor"; planted: keep_sequence() not called -> fails)
        assert torch.tensor([torch.tensor(-1)]).tolist() == [-1]
        assert x[i, j].tolist() == [3, 9] and result.calls["negative_index"] == 2  # indexing still reaches the patch
    assert "__getitem__" not in vars(torch.Tensor)
    assert torch.tensor([torch.tensor(-1)]).tolist() == [-1]


def test_module_kind_replaces_forward_of_every_instance():
    import torch

    layer = torch.nn.ReLU()
    with applied([Rewrite("leaky", "module", "torch.nn.ReLU", replacement=lambda self, x: torch.where(x > 0, x, 0.5 * x))]) as result:
        assert layer(torch.tensor(-2.0)) == -1.0
    assert layer(torch.tensor(-2.0)) == 0.0
    assert "forward" in vars(torch.nn.ReLU) and result.calls == {"leaky": 1}
    with pytest.raises(DeployError, match="rewrite 'nomod'.*is not a module class"):
        with applied([Rewrite("nomod", "module", "torch.nn.functional.relu", replacement=_double)]):
            pass


def test_wrap_gets_the_original():
    import torch

    def make(original):
        return lambda x, inplace=False: original(x) + 1

    with applied([Rewrite("plus_one", "function", "torch.nn.functional.relu", replacement=make, wrap=True)]):
        assert torch.nn.functional.relu(torch.tensor(-1.0)) == 1.0
    assert torch.nn.functional.relu(torch.tensor(-1.0)) == 0.0


def _relu_net():
    import torch

    return LoadedModel(module=torch.nn.Sequential(torch.nn.ReLU()).eval(), input_names=["x"], outputs=[OutputSpec("y")],
                       make_inputs=lambda seed: (torch.linspace(-2, 2, 8).reshape(2, 4),))


def _ops(path) -> list[str]:
    return [n.op_type for n in onnx.load(str(path)).graph.node]


def _leaky_symbolic(g, x):
    return g.op("LeakyRelu", x, alpha_f=0.5)


def test_symbolic_kind_is_registered_at_the_export_opset_and_removed(tmp_path):
    import torch

    from deploybridge.convert.export import export_onnx

    loaded = _relu_net()
    x = loaded.make_inputs(0)
    rw = Rewrite("leaky_symbolic", "symbolic", "aten::relu", replacement=_leaky_symbolic)
    with applied([rw], opset=13) as result:
        export_onnx(loaded, x, tmp_path / "a.onnx", "legacy", 13)
    assert _ops(tmp_path / "a.onnx") == ["LeakyRelu"] and result.calls == {"leaky_symbolic": 1}
    export_onnx(loaded, x, tmp_path / "b.onnx", "legacy", 13)
    assert _ops(tmp_path / "b.onnx") == ["Relu"]  # unregistered afterwards

    # a user's own custom symbolic at that opset survives a conversion that overrides it
    def users(g, x):
        return g.op("Neg", x)

    torch.onnx.register_custom_op_symbolic("aten::relu", users, 13)
    try:
        with applied([rw], opset=13):
            export_onnx(loaded, x, tmp_path / "c.onnx", "legacy", 13)
        export_onnx(loaded, x, tmp_path / "d.onnx", "legacy", 13)
        assert _ops(tmp_path / "c.onnx") == ["LeakyRelu"] and _ops(tmp_path / "d.onnx") == ["Neg"]
    finally:
        torch.onnx.unregister_custom_op_symbolic("aten::relu", 13)
    with pytest.raises(DeployError, match="rewrite 'bad_symbolic'.*domain::op"):
        with applied([Rewrite("bad_symbolic", "symbolic", "relu", replacement=_leaky_symbolic)], opset=13):
            pass


def test_dynamo_kind_goes_into_the_translation_table(tmp_path):
    import onnxruntime as ort
    from onnxscript import opset18 as op

    from deploybridge.convert.export import export_onnx

    def neg_relu(x):
        return op.Neg(op.Relu(x))

    loaded = _relu_net()
    x = loaded.make_inputs(0)
    rw = Rewrite("neg_relu", "dynamo", "torch.ops.aten.relu.default", replacement=neg_relu)
    with applied([rw]) as result:
        export_onnx(loaded, x, tmp_path / "a.onnx", "dynamo", 18, result.translation_table)
    got = ort.InferenceSession(str(tmp_path / "a.onnx"), providers=["CPUExecutionProvider"]).run(None, {"x": x[0].numpy()})[0]
    np.testing.assert_array_equal(got, -np.maximum(x[0].numpy(), 0))
    assert result.fired == ["neg_relu"]  # not countable: recorded as applied
    with pytest.raises(DeployError, match="rewrite 'ghost_op'.*cannot be resolved"):
        with applied([Rewrite("ghost_op", "dynamo", "torch.ops.aten.no_such_op.default", replacement=neg_relu)]):
            pass


def test_selection_by_kind_exporter_opset_and_backend():
    rws = {r.name: r for r in [
        Rewrite("sym", "symbolic", "aten::relu", None),
        Rewrite("dyn", "dynamo", "torch.ops.aten.relu.default", None),
        Rewrite("fn_low", "function", "torch.relu", None, opsets=(9, 15)),
        Rewrite("fn_ov", "function", "torch.relu", None, backends=("openvino",)),
        Rewrite("fn_mine", "function", "torch.relu", None, families=("mine",)),
    ]}
    names = lambda *a: [r.name for r in select(rws, *a)]  # noqa: E731
    assert names("legacy", 13, (), "onnxruntime", "other") == ["sym", "fn_low"]
    assert names("dynamo", 18, (), "onnxruntime", "other") == ["dyn"]
    assert names("legacy", 16, (), "openvino", "other") == ["sym", "fn_ov"]
    assert names("legacy", 13, ("sym",), "onnxruntime", "other") == ["fn_low"]
    assert names("legacy", 16, (), "onnxruntime", "mine") == ["sym", "fn_mine"]  # a plugin's rewrite for its own family
    with pytest.raises(DeployError, match="unknown rewrite"):
        select(rws, "legacy", 13, ("nope",))


def test_partial_application_is_undone_when_a_later_target_is_missing():
    import torch

    relu = torch.nn.functional.relu
    rw = [Rewrite("ok", "function", "torch.nn.functional.relu", replacement=_double),
          Rewrite("ghost", "function", "torch.nn.functional.ghost", replacement=_double)]
    with pytest.raises(DeployError, match="rewrite 'ghost'"):
        with applied(rw):
            pass
    assert torch.nn.functional.relu is relu


def test_resolve_target_errors_and_op_namespaces():
    with pytest.raises(ImportError):
        resolve_target("no_such_package_xyz.fn")
    owner, attr = resolve_target("torch.nn.Module.forward")
    assert attr == "forward" and owner.__name__ == "Module"
    owner, attr = resolve_target("torch.ops.torchvision.roi_align")  # imports torchvision to register its ops
    assert attr == "roi_align" and hasattr(owner, "roi_align")
