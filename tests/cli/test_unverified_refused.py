"""`deploy run` and `deploy threshold` refuse an unverified artifact (exit 2) unless given --allow-unverified, and
then say on stderr that they used it anyway (convert.manifest.require_verified, which `deploy bench` calls too)."""
import json

import numpy as np
import pytest
from PIL import Image

from conftest import assert_one_line_error


@pytest.fixture
def detectors(cli, fake_plugin, tmp_path):
    """Two conversions of the test box detector: verified, and unverified (its framework reference scores 0.01 off)."""
    fake_plugin("baked", "db_test_baked")
    made = {}
    for name, framework, code in (("verified", "same", 0), ("unverified", "shifted", 1)):
        made[name] = tmp_path / name
        result = cli("convert", "--plugin", "baked", "--model", "boxes", "--option", f"framework={framework}", "--out", made[name])
        assert result.code == code, result.err
    image = tmp_path / "a.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(image)
    coco = {"images": [{"id": 1, "file_name": "a.png", "width": 32, "height": 32}], "categories": [{"id": 1, "name": "a"}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 8, 32], "area": 256, "iscrowd": 0}]}
    (tmp_path / "coco.json").write_text(json.dumps(coco))
    return made, image, tmp_path / "coco.json"


def test_run_and_threshold_refuse_an_unverified_artifact(cli, detectors, tmp_path):
    made, image, coco = detectors
    before = (made["unverified"] / "manifest.json").read_text()
    refused = cli("run", made["unverified"], image, "--out", tmp_path / "pred")
    assert_one_line_error(refused, 2, contains="is unverified")
    assert "--allow-unverified" in refused.err and "FAILED" in refused.err and not (tmp_path / "pred").exists()
    refused = cli("threshold", made["unverified"], "--dataset", coco)
    assert_one_line_error(refused, 2, contains="is unverified")
    assert (made["unverified"] / "manifest.json").read_text() == before  # no thresholds written into it
    # the verified one runs, without a warning
    ran = cli("run", made["verified"], image, "--out", tmp_path / "pred", "--json", "--threshold", "0")
    assert ran.code == 0 and "warning" not in ran.err and len(json.loads(ran.out)[str(image)]) == 5


def test_allow_unverified_uses_it_and_says_so(cli, detectors, tmp_path):
    made, image, coco = detectors
    ran = cli("run", made["unverified"], image, "--out", tmp_path / "pred", "--json", "--threshold", "0", "--allow-unverified")
    assert ran.code == 0, ran.err
    assert "warning:" in ran.err and "is unverified" in ran.err and "--allow-unverified" in ran.err
    assert len(json.loads(ran.out)[str(image)]) == 5
    chosen = cli("threshold", made["unverified"], "--dataset", coco, "--json", "--allow-unverified")
    assert chosen.code == 0 and "is unverified" in chosen.err
    assert json.loads((made["unverified"] / "manifest.json").read_text())["thresholds"]["dataset"] == str(coco)
