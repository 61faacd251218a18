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
