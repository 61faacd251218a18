"""The fastreid family: conversion and verification of fastreid embedders (ResNet-18 Bag of Tricks at 128x64 unless
said), the input contract in the manifest, seed 003's tolerance judged against the measured floor, and the errors."""
import json

import numpy as np
import pytest

pytest.importorskip("fastreid.modeling", reason="fastreid not installed here: run `deploy install fastreid`")

from conftest import assert_one_line_error  # noqa: E402

SMALL = ("--model", "bagtricks_R18", "--random-weights", "--input-shape", "4,3,128,64")


@pytest.fixture(scope="module")
def r18(tmp_path_factory):
    from deploybridge.cli import main

    out = tmp_path_factory.mktemp("fastreid") / "r18"
    assert main(["convert", "--plugin", "fastreid", *SMALL, "--out", str(out)]) == 0
    return out


def _manifest(folder):
    return json.loads((folder / "manifest.json").read_text())


def test_r18_verifies_with_rank_agreement_and_noise_floor_tolerances(r18):
    m = _manifest(r18)
    assert m["verification"]["passed"] and m["verification"]["inconclusive"] is None
    tasks = [i["task"]["metrics"] for i in m["verification"]["details"]["inputs"] if i.get("task")]
    assert all(t["min_cosine_similarity"] > 0.9999 for t in tasks)
    assert [t.get("rank_agreement") for t in tasks[:3]] == [1.0, 1.0, 1.0]  # batches of 4: 2 queries, 2 gallery
    tol = m["tolerances"]["features"]
    assert tol["noise_floor"] > 0 and tol["atol"] == pytest.approx(max(1e-4, 5 * tol["noise_floor"]))  # default 1e-4
    # seed 003: fastreid's own assert_allclose(rtol=1e-3, atol=1e-6) against the floor PyTorch itself has
    assert "assert_allclose(rtol=1e-3, atol=1e-6)" in tol["peer"] and "float64" in tol["peer"]


def test_the_input_contract_is_in_the_manifest_and_a_second_normalisation_is_refused(r18):
    from deploybridge.errors import DeployError
    from deploybridge.runtime.predict import artifact_runner

    pre = _manifest(r18)["preprocessing"]
    assert pre["value_range"].startswith("0-255") and pre["mean"] == pytest.approx([123.675, 116.28, 103.53])
    assert "inside the graph" in pre["normalization"]
    _, run = artifact_runner(r18)
    pixels = np.random.default_rng(0).uniform(0, 255, (4, 3, 128, 64)).astype(np.float32)
    features = run({"images": pixels})["features"]
    assert features.shape == (4, 512) and np.isfinite(features).all()
    mean, std = np.array(pre["mean"])[None, :, None, None], np.array(pre["std"])[None, :, None, None]
    with pytest.raises(DeployError, match="looks normalised already"):  # fast-reid#147/#177
        run({"images": ((pixels - mean) / std).astype(np.float32)})


def test_fastreids_in_place_preprocess_gets_a_copy():
    """fastreid normalises its input tensor in place: without the wrapper's copy the caller's images come back
    normalised, and the artifact, fed the same tensor next, would normalise them a second time."""
    import torch

    from deploybridge.records import ModelSpec
    from deploybridge_fastreid.family import load

    loaded = load(ModelSpec(family="fastreid", model="bagtricks_R18", random_weights=True, input_shape=(2, 3, 64, 32)))
    (images,) = loaded.make_inputs(1000)
    before = images.clone()
    with torch.no_grad():
        loaded.module(images)
    assert torch.equal(images, before)
    with torch.no_grad():
        loaded.module.model(images)  # fastreid's own model, called directly
    assert images.min() < 0, "fastreid no longer normalises in place: the copy can go"


def test_l2_normalize_option_gives_unit_features(cli, tmp_path):
    result = cli("convert", "--plugin", "fastreid", *SMALL, "--option", "l2_normalize=true", "--exporter", "dynamo",
                 "--out", tmp_path / "unit")
    assert result.code == 0, result.err
    m = _manifest(tmp_path / "unit")
    assert m["export"]["exporter"] == "dynamo" and m["preprocessing"]["features"].startswith("L2-normalised")
    from deploybridge.runtime.predict import artifact_runner

    _, run = artifact_runner(tmp_path / "unit")
    (images,) = __import__("deploybridge_fastreid.family", fromlist=["x"]).example_images(5, (4, 3, 128, 64))
    norms = np.linalg.norm(run({"images": images.numpy()})["features"], axis=1)
    assert np.allclose(norms, 1.0, atol=1e-5)


def test_a_planted_rank_flip_fails_verification(cli, r18):
    result = cli("verify", r18, "--plant", "rank_flip")
    assert result.code == 1
    assert "queries rank the gallery as the reference does" in result.out


@pytest.mark.parametrize("args, said", [
    (("--model", "resnet_nonsense", "--random-weights"), "unknown model 'resnet_nonsense' for family 'fastreid'"),
    (("--model", "bagtricks_R18"), "--random-weights"),
    (("--model", "bagtricks_R18", "--random-weights", "--option", "MODEL.NO_SUCH=1"), "no such config key"),
    (("--model", "bagtricks_R18", "--random-weights", "--option", "l2_normalize=maybe"), "give true or false"),
    (("--config", "missing.yml", "--random-weights"), "no such file"),
])
def test_bad_input_is_one_line(cli, tmp_path, args, said):
    result = cli("convert", "--plugin", "fastreid", *args, "--out", tmp_path / "art")
    assert_one_line_error(result, 2, said)
    assert not (tmp_path / "art").exists()


def test_weights_of_another_model_are_refused_naming_keys(cli, tmp_path):
    import torch

    torch.save({"model": {"backbone.conv1.weight": torch.zeros(1)}}, tmp_path / "other.pth")
    result = cli("convert", "--plugin", "fastreid", "--model", "bagtricks_R18", "--weights", tmp_path / "other.pth",
                 "--out", tmp_path / "art")
    assert_one_line_error(result, 2, "lacks")


def test_the_default_model_converts_with_nothing_else_given(cli, tmp_path):
    """`deploy convert --plugin fastreid --random-weights --out DIR`: Bag of Tricks R50, a batch of 8 at 256x128."""
    result = cli("convert", "--plugin", "fastreid", "--random-weights", "--out", tmp_path / "default")
    assert result.code == 0, result.out + result.err
    m = _manifest(tmp_path / "default")
    assert m["spec"]["model"] == "bagtricks_R50" and m["inputs"][0]["shape"][1:] == [3, 256, 128]
    assert m["verification"]["passed"] and "below float32 noise" in m["tolerances"]["features"]["peer"]


def test_deploy_run_writes_features_and_pair_similarities(cli, r18, tmp_path):
    from PIL import Image

    from deploybridge.runtime.image_io import to_input
    from deploybridge.runtime.predict import artifact_runner
    from deploybridge_fastreid import reid_shapes

    images, _ = reid_shapes.images_of([5, 9], 2, seed=0, size=(96, 48))  # not the artifact's size: resized as run does
    paths = []
    for k, image in enumerate(images):
        paths.append(tmp_path / f"{k}.png")
        Image.fromarray(image).save(paths[-1])
    result = cli("run", r18, *paths, "--out", tmp_path / "out")
    assert result.code == 0, result.err
    got = json.loads((tmp_path / "out" / "0.json").read_text())["features"]
    _, run = artifact_runner(r18)
    x, _ = to_input(images[0], (1, 3, 128, 64), _manifest(r18)["preprocessing"])
    expected = run({"images": x})["features"][0]
    assert len(got) == 512 and np.allclose(got, expected, atol=1e-5)
    pairs = json.loads((tmp_path / "out" / "similarity.json").read_text())
    assert set(pairs[str(paths[0])]) == {str(p) for p in paths[1:]}
    assert all(-1.0 <= s <= 1.0 for s in pairs[str(paths[0])].values())


def test_converts_and_verifies_on_openvino(cli, tmp_path):
    pytest.importorskip("openvino", reason="OpenVINO is installed by make install")
    result = cli("convert", "--plugin", "fastreid", *SMALL, "--backend", "openvino", "--out", tmp_path / "ov")
    assert result.code == 0, result.out + result.err
    m = _manifest(tmp_path / "ov")
    assert m["backend"]["name"] == "openvino" and m["verification"]["passed"]
    tasks = [i["task"]["metrics"] for i in m["verification"]["details"]["inputs"] if i.get("task")]
    assert min(t["min_cosine_similarity"] for t in tasks) > 0.9999 and all(t.get("rank_agreement", 1.0) == 1.0 for t in tasks)
