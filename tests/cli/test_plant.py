"""Every planted error of docs/verification.md fails `deploy verify`, in float32 and float16, on a detector with
probability masks (torchvision Mask R-CNN) and on a mask-only instance segmenter with boolean masks (SOLOv2)."""
import json

import pytest

from conftest import assert_one_line_error
from deploybridge.parity.planted import PLANTED, caught_by

MODELS = {
    "maskrcnn": ("--plugin", "torchvision", "--model", "shapes_maskrcnn"),
    "solo": ("--plugin", "solo", "--model", "solov2_shapes"),
}
# the check each error must be caught by, at least (others may fail too)
EXPECTED = {
    "mask_region": "flipped away from its edge",
    "label_swap": "have another label",
    "box_shift": "boxes deviate",
    "score_shift": "scores deviate",
}


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    from deploybridge.cli import main

    folder = tmp_path_factory.mktemp("planted")
    made = {}
    for model, args in MODELS.items():
        for precision, flags in (("fp32", ()), ("fp16", ("--fp16",))):
            out = folder / f"{model}-{precision}"
            assert main(["convert", *args, *flags, "--out", str(out)]) == 0, (model, precision)
            made[model, precision] = out
    return made


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
@pytest.mark.parametrize("model", list(MODELS))
@pytest.mark.parametrize("error", list(PLANTED))
def test_each_planted_error_fails_verification(cli, artifacts, model, precision, error):
    if model == "solo" and error == "box_shift":
        result = cli("verify", artifacts[model, precision], "--plant", error)
        assert_one_line_error(result, 2, "changes the 'boxes' output, which this artifact does not have")
        return
    result = cli("verify", artifacts[model, precision], "--plant", error, "--json")
    assert result.code == 1, result.err
    caught = caught_by(json.loads(result.out))
    assert any(EXPECTED[error] in c for c in caught), caught


def test_the_unplanted_artifacts_verify(cli, artifacts):
    for folder in artifacts.values():
        assert cli("verify", folder).code == 0, folder
