"""The planted errors are exactly the size the docs say, and each is caught by the task matcher alone."""
import numpy as np
import pytest

from deploybridge.errors import DeployError
from deploybridge.parity.matching import edge
from deploybridge.parity.planted import PLANTED, check_plant, plant
from deploybridge.parity.task import task_parity
from deploybridge.records import Task


def _outputs(dtype=bool):
    masks = np.zeros((2, 1, 64, 64), dtype)
    masks[0, 0, 10:30, 10:30] = 1  # 400 pixels
    masks[1, 0, 30:60, 20:60] = 1  # 1200 pixels: the largest object
    boxes = np.array([[10, 10, 30, 30], [20, 30, 60, 60]], np.float32)
    return {"boxes": boxes, "scores": np.array([0.9, 0.6], np.float32), "labels": np.array([1, 2]), "masks": masks}


@pytest.mark.parametrize("dtype", [bool, np.float32])
def test_the_mask_region_is_one_percent_of_the_largest_object_inside_it(dtype):
    ref = _outputs(dtype)
    got = plant("mask_region", ref)
    changed = np.argwhere(got["masks"] != ref["masks"])
    assert len(changed) == 12 and set(changed[:, 0]) == {1}  # ceil(1 % of 1200)
    assert not edge(ref["masks"][1, 0].astype(bool))[changed[:, 2], changed[:, 3]].any()


def test_each_error_changes_one_value_by_the_stated_amount():
    ref = _outputs()
    assert (plant("box_shift", ref)["boxes"] - ref["boxes"]).tolist() == [[2, 0, 2, 0], [0, 0, 0, 0]]
    assert np.allclose(plant("score_shift", ref)["scores"] - ref["scores"], [0.05, 0])
    assert (plant("label_swap", ref)["labels"] != ref["labels"]).sum() == 1
    empty = {k: v[:0] for k, v in ref.items()}
    assert all(plant(name, empty)[k].shape == v.shape for name in PLANTED for k, v in empty.items())


@pytest.mark.parametrize("name, task", [(n, Task.INSTANCE_MASKS) for n in PLANTED]
                         + [(n, Task.MASK_INSTANCES) for n in PLANTED if n != "box_shift"])  # no boxes to shift
def test_task_parity_catches_every_planted_error(name, task):
    ref = _outputs()
    if task is Task.MASK_INSTANCES:
        ref.pop("boxes")
    assert task_parity(task, ref, ref).passed
    check = task_parity(task, ref, plant(name, ref))
    assert not check.passed, (name, check.metrics)


def test_unknown_or_inapplicable_plants_are_one_line_errors():
    with pytest.raises(DeployError, match="unknown planted error 'nan'; choose one of mask_region"):
        check_plant("nan", ["boxes"])
    with pytest.raises(DeployError, match="changes the 'boxes' output, which this artifact does not have"):
        check_plant("box_shift", ["masks", "scores", "labels"])


def test_docs_verification_lists_every_planted_error_task_and_bound():
    from pathlib import Path

    from deploybridge.parity.task import DEFAULT_TASK_TOLERANCES

    page = (Path(__file__).parents[2] / "docs" / "verification.md").read_text()
    missing = [f"`{name}`" for name in [*PLANTED, *DEFAULT_TASK_TOLERANCES, *(t.value for t in Task)] if f"`{name}`" not in page]
    assert not missing, f"docs/verification.md does not name {missing}"
