"""`deploy debug` on bad input: one line on stderr, exit 2, and no report folder (DIR.debug) left behind; a verified
artifact: exit 0, nothing diverges."""
import importlib.util
import shutil

import numpy as np
import pytest

from conftest import assert_one_line_error


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    """The shapes Mask R-CNN, converted and verified once for the module (~7 s); tests debug copies of it."""
    from deploybridge.cli import main

    out = tmp_path_factory.mktemp("debug") / "maskrcnn"
    assert main(["convert", "--plugin", "torchvision", "--model", "shapes_maskrcnn", "--out", str(out)]) == 0
    return out


@pytest.fixture
def copy(artifact, tmp_path):
    folder = tmp_path / "art"
    shutil.copytree(artifact, folder)
    return folder


def _refused(cli, folder, *args, contains):
    result = cli("debug", folder, *args)
    assert_one_line_error(result, 2, contains=contains)
    assert not folder.with_name(folder.name + ".debug").exists(), "a report was written for a refused run"
    leftovers = [p.name for p in folder.parent.iterdir() if p.name.startswith(".debug-")]
    assert not leftovers, leftovers  # no scratch report folder either
    return result


def test_no_such_folder(cli, tmp_path):
    _refused(cli, tmp_path / "missing", contains="no such artifact folder")


def test_a_folder_without_a_manifest(cli, copy):
    (copy / "manifest.json").unlink()
    _refused(cli, copy, contains="has no manifest.json")


def test_a_changed_model_onnx(cli, copy):
    with open(copy / "model.onnx", "ab") as f:
        f.write(b"\0")
    _refused(cli, copy, contains="does not match the checksum")


def test_tensorrt_not_installed(cli, copy):
    if importlib.util.find_spec("tensorrt") is not None:
        pytest.skip("TensorRT is installed here")
    result = _refused(cli, copy, "--backend", "tensorrt", contains="backend 'tensorrt' is not usable here")
    assert "pip install tensorrt" in result.err


def test_a_backend_built_from_the_module(cli, copy):
    result = _refused(cli, copy, "--backend", "torchscript", contains="built from the pytorch module")
    assert "--backend onnxruntime" in result.err


def test_an_unknown_backend(cli, copy):
    _refused(cli, copy, "--backend", "onnxrntime", contains="did you mean onnxruntime")


def test_inputs_a_missing_file(cli, copy, tmp_path):
    _refused(cli, copy, "--inputs", tmp_path / "nope.png", contains="no such image file")


def test_inputs_a_file_that_is_no_image(cli, copy, tmp_path):
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    _refused(cli, copy, "--inputs", text, contains="is not an image")


def test_a_verified_artifact_has_nothing_diverging(cli, copy, tmp_path):
    from PIL import Image

    result = cli("debug", copy)
    assert result.code == 0, result.err
    assert "nothing diverges" in result.out, result.out
    report = copy.with_name(copy.name + ".debug")
    assert sorted(p.name for p in report.iterdir()) == ["debug.json", "errors.png", "model-explorer.json"]
    # on a user's image too
    image = tmp_path / "image.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (96, 128, 3), dtype=np.uint8)).save(image)
    assert cli("debug", copy, "--inputs", image, "--out", tmp_path / "on-image").code == 0
    assert (tmp_path / "on-image" / "debug.json").is_file()
