"""--inputs: image files and folders become verification inputs, fed exactly as `deploy run` feeds them."""
import numpy as np
import pytest
from PIL import Image

from deploybridge.errors import DeployError
from deploybridge.parity.user_inputs import accepting_images, image_files
from deploybridge.records import LoadedModel, OutputSpec
from deploybridge.runtime.image_io import to_input


def _image(path, seed=0, size=(40, 60)):
    pixels = np.random.default_rng(seed).integers(0, 255, (*size, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return pixels


def test_folders_expand_to_their_images_sorted_and_files_stay_in_order(tmp_path):
    (tmp_path / "d").mkdir()
    for name in ("b.png", "a.jpg", "notes.txt"):
        (tmp_path / "d" / name).write_bytes(b"")
    single = tmp_path / "z.png"
    single.write_bytes(b"")
    found = image_files([single, tmp_path / "d", single])
    assert found == [str(single.resolve()), str((tmp_path / "d" / "a.jpg").resolve()), str((tmp_path / "d" / "b.png").resolve())]


@pytest.mark.parametrize("make, message", [
    (lambda p: p / "missing.png", "no such file or folder"),
    (lambda p: (p / "empty").mkdir() or p / "empty", "no image files"),
])
def test_bad_inputs_are_one_line_errors(tmp_path, make, message):
    with pytest.raises(DeployError, match=message):
        image_files([make(tmp_path)])


def test_an_image_is_fed_through_the_preprocessing_at_the_models_size(tmp_path):
    import torch

    pixels = _image(tmp_path / "x.png")
    pre = {"loaded_channel_order": "BGR", "value_range": "0-255", "resize": {"keep_ratio": True}}
    loaded = LoadedModel(module=torch.nn.Identity(), input_names=["images"], outputs=[OutputSpec("y")],
                         make_inputs=lambda seed: (torch.zeros(1, 3, 32, 64),), preprocessing=pre)
    wrapped = accepting_images(loaded)
    fed = wrapped.make_inputs(str(tmp_path / "x.png"))[0].numpy()
    assert np.array_equal(fed, to_input(pixels, (1, 3, 32, 64), pre)[0])
    assert fed.shape == (1, 3, 32, 64) and fed.max() > 1.0  # 0-255, as MMDetection is fed
    assert np.array_equal(wrapped.make_inputs(7)[0].numpy(), np.zeros((1, 3, 32, 64)))  # seeds as before
