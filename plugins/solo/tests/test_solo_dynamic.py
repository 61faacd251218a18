"""Dynamic H/W: verified at three sizes; dynamo's baked CoordConv grid is caught at the second size."""
import json

import pytest

pytest.importorskip("mmdet", reason="MMDetection not installed here: run `deploy install mmdet`")

from deploybridge_solo.family import SHAPES_CHECKPOINT  # noqa: E402

pytestmark = pytest.mark.skipif(not SHAPES_CHECKPOINT.exists(), reason="no committed SOLOv2 shapes checkpoint yet")


def _convert(cli, out, *flags):
    result = cli("convert", "--plugin", "solo", "--model", "solov2_shapes", "--option", "dynamic=true", *flags, "--out", out)
    checks = json.loads((out / "report.json").read_text())["verification"]["inputs"] if (out / "report.json").exists() else []
    return result, checks


@pytest.mark.parametrize("placement", ["graph", "host"])
def test_legacy_dynamic_hw_verified_at_three_sizes(cli, tmp_path, placement):
    result, checks = _convert(cli, tmp_path / "a", "--opset", "11", "--option", f"placement={placement}")
    assert result.code == 0, result.err
    sizes = {tuple(c["input_shape"][2:]) if c["input_shape"] else (192, 192) for c in checks}
    assert sizes == {(192, 192), (160, 224), (256, 256)} and all(c["passed"] for c in checks)
    assert all(c["detections_ref"] > 0 for c in checks)


def test_dynamo_bakes_the_grid_without_the_linspace_rewrite_and_verification_catches_it(cli, tmp_path):
    """Convert rejects the baked grid and keeps the artifact, marked unverified; `deploy verify` runs the same checks
    (the other sizes, MMDetection's predict) and rejects it too; the good export passes both."""
    good, _ = _convert(cli, tmp_path / "good", "--exporter", "dynamo")
    assert good.code == 0, good.err
    bad, checks = _convert(cli, tmp_path / "bad", "--exporter", "dynamo", "--no-rewrite", "linspace")
    assert bad.code == 1, bad.err
    failed = [c for c in checks if not c["passed"]]
    assert failed and all(c["input_shape"] for c in failed)  # the export size passes; the other sizes do not
    assert json.loads((tmp_path / "bad" / "manifest.json").read_text())["verified"] is False
    verified = cli("verify", tmp_path / "bad", "--json")
    assert verified.code == 1, verified.err
    again = json.loads(verified.out)
    assert [(c["seed"], c["input_shape"], c["passed"]) for c in again["inputs"]] == \
        [(c["seed"], c["input_shape"], c["passed"]) for c in checks]
    assert again["framework"]["passed"] and again["not_run"] == []
    rechecked = cli("verify", tmp_path / "good", "--json")
    assert rechecked.code == 0 and len(json.loads(rechecked.out)["inputs"]) == len(checks)


def test_host_placement_refuses_dynamo_in_one_line(cli, tmp_path):
    result, _ = _convert(cli, tmp_path / "d", "--exporter", "dynamo", "--option", "placement=host")
    assert result.code == 2 and "legacy exporter only" in result.err and "Traceback" not in result.err
    assert not (tmp_path / "d").exists()
