"""--inputs: verification on the user's own images, in convert and again in deploy verify; --plant on a real artifact."""
import json
import shutil

import numpy as np
from PIL import Image

from conftest import assert_one_line_error


def _shapes_images(folder, n=2):
    from deploybridge.evaluation.datasets.shapes import generate

    generate(folder, n, seed=7, size=160)  # not the artifact's 192: fed through the model's own resize
    return folder / "images"


def test_convert_and_verify_on_the_users_images(cli, tmp_path):
    images = _shapes_images(tmp_path / "data")
    out = tmp_path / "art"
    result = cli("convert", "--plugin", "torchvision", "--model", "shapes_retinanet", "--inputs", images, "--out", out, "--json")
    assert result.code == 0, result.err
    manifest = json.loads(result.out)
    files = sorted(str(p.resolve()) for p in images.iterdir())
    assert manifest["verification"]["seeds"] == files  # the images instead of seeded inputs
    checked = manifest["verification"]["details"]["inputs"]
    assert [c["seed"] for c in checked if not c.get("input_shape")] == files
    assert all(c["detections_ref"] > 0 for c in checked)

    assert cli("verify", out).code == 0
    moved = tmp_path / "moved"
    shutil.move(images, moved)
    assert_one_line_error(cli("verify", out), 2, "none of the 2 images this artifact was verified on exist any more")
    again = cli("verify", out, "--inputs", moved / sorted(p.name for p in moved.iterdir())[0])
    assert again.code == 0, again.out + again.err


def test_images_alongside_seeded_inputs(cli, tmp_path):
    blank = tmp_path / "blank.png"
    Image.fromarray(np.zeros((192, 192, 3), np.uint8)).save(blank)
    both = cli("convert", "--plugin", "torchvision", "--model", "shapes_retinanet", "--inputs", blank, "--num-inputs", "1",
               "--out", tmp_path / "both", "--json")
    assert both.code == 0, both.err
    assert json.loads(both.out)["verification"]["seeds"] == [str(blank.resolve()), 1000]
    zero = cli("convert", "--plugin", "torchvision", "--model", "shapes_retinanet", "--num-inputs", "0", "--out", tmp_path / "z")
    assert_one_line_error(zero, 2, "--num-inputs 0 leaves verification nothing to compare")


def test_bad_inputs_are_refused_before_anything_runs(cli, tmp_path):
    (tmp_path / "empty").mkdir()
    for args, message in (((tmp_path / "nope.png",), "no such file or folder"), ((tmp_path / "empty",), "no image files")):
        result = cli("convert", "--plugin", "torchvision", "--model", "shapes_retinanet", "--inputs", *args, "--out", tmp_path / "x")
        assert_one_line_error(result, 2, message)
        assert not (tmp_path / "x").exists()
    not_image = tmp_path / "notes.png"
    not_image.write_text("hello")
    result = cli("convert", "--plugin", "torchvision", "--model", "shapes_retinanet", "--inputs", not_image, "--out", tmp_path / "x")
    assert_one_line_error(result, 2, "is not an image Pillow can read")
    assert not (tmp_path / "x").exists()
