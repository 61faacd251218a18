"""Bad input: exit 2, one line that says what to do, no traceback, nothing on disk."""

import pytest

from conftest import assert_one_line_error

TV = ("convert", "--plugin", "torchvision")


@pytest.fixture
def out(tmp_path):
    return tmp_path / "out"


def assert_nothing_written(tmp_path):
    assert [p.name for p in tmp_path.iterdir() if p.name != "site-packages" and p.name != "inputs"] == []


CASES = {
    "missing weights file": (TV + ("--model", "mobilenet_v3_small", "--weights", "/no/such/weights.pth"), "not found"),
    "unknown model": (TV + ("--model", "resnet5000", "--random-weights"), "did you mean resnet50"),
    "unknown plugin": (("convert", "--plugin", "nope", "--model", "x", "--random-weights"), "unknown plugin 'nope'"),
    "unknown backend": (TV + ("--model", "mobilenet_v3_small", "--random-weights", "--backend", "tensorrtt"), "unknown backend 'tensorrtt'"),
    "malformed input shape": (TV + ("--model", "mobilenet_v3_small", "--random-weights", "--input-shape", "1,3,abc"), "malformed --input-shape"),
    "wrong channel count": (TV + ("--model", "mobilenet_v3_small", "--random-weights", "--input-shape", "1,4,224,224"), "takes N,3,H,W"),
    "detector batch of two": (TV + ("--model", "retinanet_resnet50_fpn", "--random-weights", "--input-shape", "2,3,320,320"), "one image at a time"),
    "weights and random weights": (TV + ("--model", "mobilenet_v3_small", "--random-weights", "--weights", "x.pth"), "exclude each other"),
    "no weights at all": (TV + ("--model", "mobilenet_v3_small"), "give --weights"),
    "unknown exporter": (TV + ("--model", "mobilenet_v3_small", "--random-weights", "--exporter", "magic"), "unknown exporter 'magic'"),
    "unknown graph pass": (TV + ("--model", "mobilenet_v3_small", "--random-weights", "--pass", "nope"), "unknown graph pass"),
    "malformed option": (TV + ("--model", "mobilenet_v3_small", "--random-weights", "--option", "novalue"), "malformed --option"),
    "bad option for the model": (TV + ("--model", "resnet50", "--random-weights", "--option", "no_such_kwarg=3"), "does not accept"),
    "missing required option": (("convert", "--model", "mobilenet_v3_small"), "missing option '--out'"),
    "unknown CLI option": (("convert", "--frobnicate"), "no such option"),
    "unknown family": (("convert", "--family", "nofam", "--model", "x", "--random-weights"), "unknown family 'nofam'"),
    "model no family handles": (("convert", "--model", "not-a-model", "--random-weights"), "no family handles model 'not-a-model'"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_convert_bad_input(cli, tmp_path, out, case):
    args, message = CASES[case]
    if "--out" not in args and case not in ("unknown CLI option", "missing required option"):
        args = args + ("--out", out)
    assert_one_line_error(cli(*args), contains=message)
    assert_nothing_written(tmp_path)


def test_existing_out_dir_without_force(cli, tmp_path, out):
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert_one_line_error(cli(*TV, "--model", "mobilenet_v3_small", "--random-weights", "--out", out), contains="already exists; pass --force")
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_unwritable_out_dir(cli, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert_one_line_error(cli(*TV, "--model", "mobilenet_v3_small", "--random-weights", "--out", blocker / "sub"), contains="is not a folder")
    assert_one_line_error(cli(*TV, "--model", "mobilenet_v3_small", "--random-weights", "--out", "/proc/deploybridge-test/out"),
                          contains="/proc")


def test_checkpoint_of_another_model(cli, tmp_path, out):
    import torch

    ckpt = tmp_path / "other.pth"
    torch.save({"conv.weight": torch.zeros(3, 3, 1, 1)}, ckpt)
    result = cli(*TV, "--model", "mobilenet_v3_small", "--weights", ckpt, "--out", out)
    assert_one_line_error(result, contains="does not fit this model")
    assert "1 unexpected" in result.err and "missing" in result.err
    assert not out.exists()


def test_not_a_checkpoint(cli, tmp_path, out):
    bad = tmp_path / "garbage.pth"
    bad.write_bytes(b"this is not a checkpoint")
    assert_one_line_error(cli(*TV, "--model", "mobilenet_v3_small", "--weights", bad, "--out", out), contains="cannot read")


def test_pretrained_name_not_in_local_cache(cli, tmp_path, out, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    result = cli(*TV, "--model", "mobilenet_v3_small", "--weights", "DEFAULT", "--out", out)
    assert_one_line_error(result, contains="not in the local torch cache")
    assert "never downloads" in result.err
    assert_one_line_error(cli(*TV, "--model", "mobilenet_v3_small", "--weights", "NOPE_V9", "--out", out), contains="pretrained weights name")


def test_corrupt_onnx_to_inspect(cli, tmp_path):
    bad = tmp_path / "model.onnx"
    bad.write_bytes(b"\x08\x07garbage" * 100)
    assert_one_line_error(cli("inspect", bad), contains="is not a readable ONNX model")
    assert_one_line_error(cli("inspect", tmp_path / "missing.onnx"), contains="no such ONNX file")


def test_verify_without_manifest(cli, tmp_path):
    (tmp_path / "art").mkdir()
    assert_one_line_error(cli("verify", tmp_path / "art"), contains="has no manifest.json")
    assert_one_line_error(cli("verify", tmp_path / "nothing-here"), contains="no such artifact folder")
    (tmp_path / "art" / "manifest.json").write_text("{not json")
    assert_one_line_error(cli("verify", tmp_path / "art"), contains="not valid JSON")


def test_verify_tampered_model(cli, tiny, tmp_path):
    art = tmp_path / "art"
    assert cli("convert", "--model", "tiny-net", "--random-weights", "--out", art).code == 0
    with open(art / "model.onnx", "ab") as f:
        f.write(b"\0")
    assert_one_line_error(cli("verify", art), contains="does not match the checksum")


def test_missing_backend_says_how_to_install(cli, tiny, tmp_path):
    result = cli("convert", "--model", "tiny-net", "--random-weights", "--backend", "missingrt", "--out", tmp_path / "a")
    assert_one_line_error(result, contains="pip install missingrt")
    assert not (tmp_path / "a").exists()


def test_debug_shows_traceback(cli, tmp_path):
    result = cli("--debug", "inspect", tmp_path / "missing.onnx")
    assert result.code == 2 and "Traceback" in result.err
    result = cli("inspect", tmp_path / "missing.onnx", "--debug")
    assert result.code == 2 and "Traceback" in result.err


def test_json_error_leaves_stdout_clean(cli, tmp_path):
    result = cli("inspect", tmp_path / "missing.onnx", "--json")
    assert result.code == 2 and result.out == ""


@pytest.mark.parametrize("opset, exporter, allowed", [("3", "legacy", "7 to 20"), ("21", "legacy", "7 to 20"),
                                                      ("99", "dynamo", "7 to 23")])
def test_an_opset_the_exporter_cannot_write_is_refused_before_export(cli, tiny, tmp_path, opset, exporter, allowed):
    """One line, exit 2, nothing on disk; before this check --opset 3 printed the whole TorchScript graph."""
    result = cli("convert", "--plugin", "tiny", "--model", "tiny-net", "--random-weights", "--opset", opset,
                 "--exporter", exporter, "--out", tmp_path / "a")
    assert_one_line_error(result, contains=f"the {exporter} exporter writes opsets {allowed}, not {opset}")
    assert "graph(" not in result.err and not (tmp_path / "a").exists()
