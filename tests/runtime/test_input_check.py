"""Inputs the artifact does not take are refused in one line naming the expected shape (issue 18.6)."""
import numpy as np
import pytest

from deploybridge.errors import DeployError
from deploybridge.runtime.input_check import checked, expected, problem

STATIC = {"inputs": [{"name": "images", "dtype": "float32", "shape": [1, 3, 192, 192]}]}
DYNAMIC = {"inputs": [{"name": "images", "dtype": "float32", "shape": [1, 3, "height", "width"]}],
           "preprocessing": {"dynamic": {"axes": ["height", "width"], "min": [1, 3, 128, 128], "max": [1, 3, 256, 320]}}}


def echo(inputs):
    return {"out": inputs["images"].sum()}


def test_static_shape_names_the_expected_one():
    run = checked(echo, STATIC)
    assert run({"images": np.ones((1, 3, 192, 192), np.float32)})["out"] == 3 * 192 * 192
    with pytest.raises(DeployError) as err:
        run({"images": np.ones((1, 3, 100, 192), np.float32)})
    assert str(err.value) == ("input 'images' has shape 1x3x100x192; this artifact takes 1x3x192x192 (dim 2 is fixed at"
                              " 192); resize the input, or re-convert with --input-shape / --dynamic")


def test_dynamic_bounds_and_rank_and_names():
    dims, low, high = expected(DYNAMIC)["images"]
    assert dims == [1, 3, None, None] and low == [1, 3, 128, 128] and high == [1, 3, 256, 320]
    assert problem("images", (1, 3, 128, 320), dims, low, high) is None  # both bounds are inclusive
    assert "dim 3 is 352" in problem("images", (1, 3, 128, 352), dims, low, high)
    assert "has 3 dims" in problem("images", (3, 128, 128), dims, low, high)
    with pytest.raises(DeployError, match="unknown input 'image'; this artifact takes images"):
        checked(echo, DYNAMIC)({"image": np.zeros((1, 3, 128, 128), np.float32)})


def test_free_dims_without_bounds_take_any_size():
    free = {"inputs": [{"name": "images", "dtype": "float32", "shape": [1, 3, "height", "width"]}]}
    assert checked(echo, free)({"images": np.ones((1, 3, 7, 9), np.float32)})["out"] == 3 * 7 * 9
    assert checked(echo, {}) is echo  # no manifest inputs (a runner used during convert): nothing to check


def test_an_image_normalised_before_an_artifact_that_normalises_is_refused():
    """fast-reid#147/#177: normalising before a graph that normalises computes on the image twice, silently."""
    import numpy as np

    from deploybridge.runtime.input_check import range_problem

    pre = {"value_range": "0-255 float, before normalisation (the graph normalises)", "mean": [123.675, 116.28, 103.53],
           "std": [58.395, 57.12, 57.375]}
    pixels = np.random.default_rng(0).uniform(0, 255, (1, 3, 8, 8)).astype(np.float32)
    assert range_problem("images", pixels, pre) is None
    twice = (pixels - 123.675) / 58.395
    assert "looks normalised already" in range_problem("images", twice, pre)
    assert "looks scaled to 0-1" in range_problem("images", pixels / 255.0, pre)
    assert "up to" in range_problem("images", pixels * 4, pre)
    assert range_problem("images", np.zeros((1, 3, 8, 8), np.float32), pre) is None  # a black image is an image
    assert range_problem("images", twice, {"input": "float32 RGB in [0, 1]"}) is None  # contract unknown: not judged
