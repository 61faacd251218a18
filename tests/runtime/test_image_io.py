"""image_io: images fed as a family's preprocessing says, and shown back as a person sees them."""
import numpy as np
import pytest

from deploybridge.runtime.image_io import detect, to_display, to_input

TORCHVISION = {"input": "float32 RGB in [0, 1], NCHW"}
MMDET = {"source": "mmdet config", "loaded_channel_order": "BGR", "resize": {"scale": [1333, 800], "keep_ratio": True},
         "value_range": "0-255 float, before normalisation (the graph normalises)"}


def picture(h=48, w=64, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_torchvision_and_mmdetection_inputs():
    """torchvision: 0-1 RGB; MMDetection: 0-255 BGR (the image's first channel is the input's last)."""
    pixels = picture()
    tv, _ = to_input(pixels, (1, 3, 48, 64), TORCHVISION)
    mm, _ = to_input(pixels, (1, 3, 48, 64), MMDET)
    np.testing.assert_allclose(tv[0, 0] * 255, pixels[..., 0], atol=1e-4)
    np.testing.assert_array_equal(mm[0, 2], pixels[..., 0])
    np.testing.assert_array_equal(mm[0, 0], pixels[..., 2])


def test_keep_ratio_pads_bottom_right_and_maps_boxes_back():
    """A 40x80 image in a 64x64 input: resized to 32x64 (ratio kept), rows 32-63 zero; a box around the resized
    image comes back around the whole original image. Stretched (torchvision): every row is image."""
    pixels = np.full((40, 80, 3), 200, np.uint8)
    x, scale = to_input(pixels, (1, 3, 64, 64), MMDET)
    assert scale == (40 / 32, 80 / 64)
    assert x[0, :, :32].min() == 200 and x[0, :, 32:].max() == 0
    got = detect(pixels, lambda fed: {"boxes": np.array([[0, 0, 64, 32]], np.float32), "scores": np.ones(1),
                                      "labels": np.zeros(1, int)}, (1, 3, 64, 64), MMDET)
    np.testing.assert_allclose(got["boxes"], [[0, 0, 80, 40]])
    stretched, _ = to_input(pixels, (1, 3, 64, 64), TORCHVISION)
    assert stretched.min() == pytest.approx(200 / 255)


@pytest.mark.parametrize("pre", [TORCHVISION, MMDET], ids=["torchvision", "mmdet"])
def test_display_undoes_the_input(pre):
    """What report.png shows is the image itself, whichever way the family is fed."""
    pixels = picture()
    x, _ = to_input(pixels, (1, 3, 48, 64), pre)
    np.testing.assert_array_equal(to_display(x, pre), pixels)


def test_display_of_a_0_255_input_read_as_0_1_is_white():
    """The report.png bug this replaced: a 0-255 BGR input multiplied by 255 shows (almost) white."""
    x, _ = to_input(picture(), (1, 3, 48, 64), MMDET)
    wrong = to_display(x, TORCHVISION)
    right = to_display(x, MMDET)
    assert (wrong == 255).mean() > 0.95 and right.std() > 50


def test_a_class_map_comes_back_at_the_image_size_nearest_pixel():
    """deploy run's segmentation path: the argmax of 1 x C x h x w scores, mapped onto the original H x W."""
    from deploybridge.runtime.image_io import class_map

    pixels = np.zeros((60, 90, 3), np.uint8)
    fed = []

    def run(x):
        fed.append(x.shape)
        scores = np.zeros((1, 3, 20, 30), np.float32)
        scores[0, 2, :, 15:] = 1.0  # the right half is class 2
        scores[0, 1, :10, :15] = 1.0  # the top-left quarter class 1
        return scores

    classes = class_map(pixels, run, (1, 3, 20, 30))
    assert fed == [(1, 3, 20, 30)] and classes.shape == (60, 90)
    assert (classes[:, 45:] == 2).all() and (classes[:30, :45] == 1).all() and (classes[30:, :45] == 0).all()
