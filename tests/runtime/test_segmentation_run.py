"""A semantic segmentation artifact end to end (torchvision DeepLabV3-ResNet50, random weights): it verifies with
pixel agreement and per-class IoU, each planted segmentation error fails `deploy verify`, and `deploy run` draws its
class map with a legend. One conversion for the module."""
import json

import numpy as np
import pytest

from deploybridge.parity.planted import SEGMENTATION_PLANTED, caught_by

SHAPE = "1,3,160,160"  # the catalogue's 320 verifies the same way (docs/verification.md); 160 keeps the test short


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    from deploybridge.cli import main

    out = tmp_path_factory.mktemp("seg") / "deeplab"
    code = main(["convert", "--plugin", "torchvision", "--model", "deeplabv3_resnet50", "--random-weights",
                 "--input-shape", SHAPE, "--out", str(out)])
    assert code == 0
    return out


def test_it_verifies_with_every_class_at_iou_1(cli, artifact):
    result = cli("verify", artifact, "--json")
    assert result.code == 0, result.err
    verification = json.loads(result.out)
    assert verification["inconclusive"] is None
    for check in verification["inputs"]:
        metrics = check["task"]["metrics"]
        assert check["task"]["task"] == "semantic_segmentation" and metrics["class_count"] >= 2, metrics
        assert metrics["min_class_iou"] == 1.0 and metrics["pixel_agreement"] == 1.0, metrics
    table = cli("verify", artifact)
    assert "min class iou" in table.out


@pytest.mark.parametrize("error, expected", [("class_region", "semantic_segmentation parity: class N IoU N"),
                                             ("zeros", "semantic_segmentation parity: class N IoU N")])
def test_each_planted_segmentation_error_fails_verification(cli, artifact, error, expected):
    assert error in SEGMENTATION_PLANTED
    result = cli("verify", artifact, "--plant", error, "--json")
    assert result.code == 1, result.err
    caught = caught_by(json.loads(result.out))
    assert expected in caught, caught


def test_a_detection_plant_on_a_segmentation_artifact_is_a_one_line_error(cli, artifact):
    result = cli("verify", artifact, "--plant", "box_shift")
    assert result.code == 2 and "does not have" in result.err, result.err


def test_deploy_run_draws_the_class_map_with_a_legend(cli, artifact, tmp_path):
    from PIL import Image

    from deploybridge.runtime.draw import LEGEND_WIDTH

    rng = np.random.default_rng(0)
    picture = tmp_path / "scene.png"
    Image.fromarray(rng.integers(0, 255, (90, 120, 3), dtype=np.uint8)).save(picture)
    result = cli("run", artifact, picture, "--out", tmp_path / "pred")
    assert result.code == 0, result.err
    assert "classes ->" in result.out
    drawn = Image.open(tmp_path / "pred" / "scene.png")
    assert drawn.size[0] == 120 + LEGEND_WIDTH and drawn.size[1] >= 90
    record = json.loads((tmp_path / "pred" / "scene.json").read_text())
    assert record["classes"] and sum(c["pixels"] for c in record["classes"]) == 90 * 120
    assert all(isinstance(c["name"], str) for c in record["classes"])
