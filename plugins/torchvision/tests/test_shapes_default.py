"""The embedded default: project-trained shapes checkpoints, task-aware verification, AP, thresholds, deploy run."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import assert_one_line_error
from deploybridge.evaluation.datasets import shapes
from deploybridge.records import ModelSpec
from deploybridge_torchvision.load import CHECKPOINTS, load

MODELS = ["shapes_maskrcnn", "shapes_retinanet"]


def committed(model):
    meta = CHECKPOINTS / f"{model}.json"
    if not meta.is_file():
        pytest.fail(f"{model}: no committed checkpoint metadata {meta}")
    return json.loads(meta.read_text())


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """One conversion of the default model with --eval, shared by the tests below."""
    from deploybridge.cli import main

    out = tmp_path_factory.mktemp("demo") / "art"
    code = main(["convert", "--plugin", "torchvision", "--model", "shapes_maskrcnn", "--out", str(out), "--eval", "shapes"])
    assert code == 0
    return out


@pytest.mark.parametrize("model", MODELS)
def test_committed_checkpoint_reaches_its_recorded_ap(model):
    """Measured now on the validation split, against the figure stored next to the checkpoint."""
    from deploybridge_torchvision.shapes_models import validation_ap

    meta = committed(model)
    assert (CHECKPOINTS / f"{model}.pth").stat().st_size <= 15 * 2**20
    loaded = load(ModelSpec("torchvision", model))
    ap = validation_ap(loaded.module.model, meta["size"])
    assert meta["box_ap"] >= 0.5  # the goal, as recorded at training time
    assert ap["box_ap"] >= meta["box_ap"] - 0.005, (ap, meta)
    if "mask_ap" in meta:
        assert ap["mask_ap"] >= meta["mask_ap"] - 0.005


def test_default_converts_with_delta_ap_zero(demo):
    m = json.loads((demo / "manifest.json").read_text())
    assert m["spec"]["weights"] is None and m["spec"]["random_weights"] is False  # the committed checkpoint
    ev = m["evaluation"]
    assert ev["passed"] and ev["images"] == shapes.VALIDATION_IMAGES
    assert ev["ap"]["pytorch"]["box_ap"] >= 0.5  # the default Mask R-CNN meets the goal
    assert all(abs(d) <= 0.001 for d in ev["delta"].values()), ev["delta"]
    for check in m["verification"]["details"]["inputs"]:
        t = check["task"]
        assert t["passed"] and t["metrics"]["matched_fraction"] == 1.0 and t["metrics"]["reference_count"] > 0
        assert t["metrics"]["min_mask_iou"] >= 0.9
    assert (demo / "report.png").is_file()
    assert m["categories"] == ["__background__", "circle", "square", "triangle"]


def test_task_parity_catches_shifted_boxes_and_dropped_detection(cli, tiny, demo):
    shifted = cli("verify", demo, "--backend", "shifted", "--json")
    assert shifted.code == 1
    tasks = [i["task"] for i in json.loads(shifted.out)["inputs"]]
    assert all(not t["passed"] and t["metrics"]["max_box_deviation_px"] >= 4.9 for t in tasks)
    dropped = cli("verify", demo, "--backend", "dropping", "--json")
    assert dropped.code == 1
    tasks = [i["task"] for i in json.loads(dropped.out)["inputs"]]
    assert all(t["metrics"]["backend_count"] == t["metrics"]["reference_count"] - 1 for t in tasks)
    assert all(t["metrics"]["matched_fraction"] < 1.0 and not t["passed"] for t in tasks)
    assert cli("verify", demo).code == 0


def test_threshold_then_run(cli, demo, tmp_path):
    result = cli("threshold", demo, "--json")
    assert result.code == 0, result.err
    stored = json.loads((demo / "manifest.json").read_text())["thresholds"]
    assert stored == json.loads(result.out)
    assert 0.0 < stored["overall"]["threshold"] <= 1.0 and stored["overall"]["f1"] > 0.5
    assert set(stored["per_class"]) == {"1", "2", "3"}
    # deploy run on generated PNGs: drawn image + JSON per image, the stored thresholds applied
    from PIL import Image

    rng = np.random.default_rng(5)
    paths = []
    for k in range(2):
        pixels, _ = shapes.make_image(rng, 192, 192)
        paths.append(tmp_path / f"img{k}.png")
        Image.fromarray(pixels).save(paths[-1])
    out = tmp_path / "pred"
    run = cli("run", demo, *paths, "--out", out, "--json")
    assert run.code == 0, run.err
    for p in paths:
        drawn = Image.open(out / f"{p.stem}.png")
        assert drawn.size == (192, 192)
        data = json.loads((out / f"{p.stem}.json").read_text())
        assert data["detections"] and all(d["name"] in shapes.CATEGORIES for d in data["detections"])
        per_class = {int(c): v["threshold"] for c, v in stored["per_class"].items()}
        assert all(d["score"] >= per_class[d["label"]] - 1e-4 for d in data["detections"])


def test_run_and_threshold_bad_inputs(cli, demo, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    assert_one_line_error(cli("run", demo, text, "--out", tmp_path / "o"), contains="is not an image")
    assert not (tmp_path / "o").exists()
    assert_one_line_error(cli("threshold", demo, "--dataset", tmp_path / "none.json"), contains="not found")
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"images": [{"id": 1, "file_name": "x.png", "height": 1, "width": 1}], "annotations": [], "categories": []}))
    assert_one_line_error(cli("threshold", demo, "--dataset", empty), contains="no images or no annotations")
    assert_one_line_error(cli("verify", demo, "--eval", tmp_path / "none.json"), contains="not found")
