"""The shapes semantic segmenter (torchvision LRASPP, project-trained): a small committed checkpoint that converts,
verifies, and whose `--eval shapes` mIoU is the figure recorded at training time, PyTorch and artifact within 0.001;
an error planted into one class's pixels moves the artifact's mIoU past that gate."""
import json

import pytest

from deploybridge.evaluation.datasets import shapes
from deploybridge_torchvision.load import CHECKPOINTS

MODEL = "shapes_segmenter"
CLASSES = ["background", *shapes.CATEGORIES]


def committed():
    meta = CHECKPOINTS / f"{MODEL}.json"
    if not meta.is_file():
        pytest.fail(f"{MODEL}: no committed checkpoint metadata {meta}")
    return json.loads(meta.read_text())


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    from deploybridge.cli import main

    out = tmp_path_factory.mktemp("seg") / "art"
    code = main(["convert", "--plugin", "torchvision", "--model", MODEL, "--out", str(out), "--eval", "shapes"])
    assert code == 0
    return out


def test_committed_checkpoint_is_small_and_says_how_it_was_made():
    meta = committed()
    assert (CHECKPOINTS / f"{MODEL}.pth").stat().st_size == meta["bytes"] <= 5 * 2**20
    assert meta["train_seconds"] <= 12 * 60 and meta["threads"] == 2 and meta["iterations"] > 0
    assert meta["command"].startswith("python scripts/train_shapes_segmenter.py") and meta["machine"]
    assert set(f"iou_{c}" for c in CLASSES) <= set(meta) and 0.5 <= meta["miou"] <= 1.0
    assert meta["miou"] == pytest.approx(sum(meta[f"iou_{c}"] for c in CLASSES) / 4, abs=2e-4)


def test_converts_verifies_and_eval_gives_the_recorded_miou(converted):
    meta = committed()
    m = json.loads((converted / "manifest.json").read_text())
    assert m["task"] == "semantic_segmentation" and m["spec"]["weights"] is None and not m["spec"]["random_weights"]
    assert m["verification"]["passed"] and m["outputs"][0]["name"] == "out"
    assert m["categories"] == ["__background__", *shapes.CATEGORIES]
    for check in m["verification"]["details"]["inputs"]:  # task parity ran on shapes images with every class present
        assert check["task"]["passed"] and check["task"]["metrics"]["pixel_agreement"] >= 0.999
    ev = m["evaluation"]
    assert ev["metric"] == "mIoU" and ev["passed"] and ev["images"] == shapes.VALIDATION_IMAGES
    assert ev["dataset"] == "the shapes validation split" and ev["max_delta"] == 0.001
    torch_figures, artifact = ev["miou"]["pytorch"], ev["miou"]["onnxruntime"]
    for key in ["miou", *(f"iou_{c}" for c in CLASSES)]:
        assert torch_figures[key] == pytest.approx(meta[key], abs=1e-4), key  # the json keeps 4 digits
        assert abs(artifact[key] - torch_figures[key]) <= 0.001
    assert set(ev["delta"]) == {f"onnxruntime:{k}" for k in torch_figures} and all(abs(d) <= 0.001 for d in ev["delta"].values())


def test_verify_eval_prints_miou_and_a_planted_class_error_fails_it(cli, converted):
    shown = cli("verify", converted, "--eval", "shapes")
    assert shown.code == 0, shown.err
    assert "mIoU on the shapes validation split (50 images)" in shown.out and "ΔmIoU within" in shown.out
    assert "IoU triangle" in shown.out
    # 2 % of the least frequent class's pixels in each image given their second-best class
    planted = cli("verify", converted, "--eval", "shapes", "--plant", "class_region", "--json")
    assert planted.code == 1
    ev = json.loads(planted.out)["evaluation"]
    assert not ev["passed"] and ev["delta"]["onnxruntime:miou"] < -0.001
    assert ev["miou"]["pytorch"]["miou"] == pytest.approx(committed()["miou"], abs=1e-4)  # the reference is untouched
    worst = min(ev["delta"], key=ev["delta"].get)
    assert worst != "onnxruntime:iou_background" and ev["delta"][worst] < -0.005, ev["delta"]
