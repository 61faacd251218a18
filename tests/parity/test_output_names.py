"""A family may name its labels ``classes`` (Detectron2's name): task, framework and tensor parity, --plant, `deploy
run` and as_detections read it as the labels, and what the user sees keeps ``classes``."""
import json
import sys

import numpy as np
import pytest

from deploybridge.parity.framework import instance_parity
from deploybridge.parity.output_names import canonical, canonical_names, model_name
from deploybridge.parity.planted import caught_by, check_plant, plant
from deploybridge.parity.task import missing_outputs, task_parity
from deploybridge.parity.tensor import compare_outputs
from deploybridge.records import OutputSpec, Task, Tolerance
from deploybridge.runtime.image_io import as_detections


def _detections(label_output="classes"):
    boxes = np.array([[0, 0, 10, 10], [20, 20, 40, 40], [50, 5, 60, 30]], np.float32)
    return {"boxes": boxes, "scores": np.array([0.9, 0.8, 0.7], np.float32), label_output: np.array([1, 2, 3])}


def test_classes_is_read_as_labels_in_the_models_order():
    out = {"boxes": 1, "scores": 2, "classes": 3, "masks": 4}
    assert list(canonical(out)) == ["boxes", "scores", "labels", "masks"] and canonical(out)["labels"] == 3
    assert canonical_names(["classes", "labels"]) == ["classes", "labels"]  # a real "labels" output wins
    assert model_name("labels", ["boxes", "classes"]) == "classes" and model_name("labels", ["boxes"]) is None
    assert missing_outputs(Task.INSTANCE_MASKS, ["boxes", "scores", "classes", "masks"]) == []
    assert missing_outputs(Task.DETECTION, ["boxes", "scores"]) == ["labels"]


def test_task_parity_passes_on_classes_and_catches_a_label_swap_on_them():
    ref = _detections()
    ok = task_parity(Task.DETECTION, ref, {k: v.copy() for k, v in ref.items()})
    assert ok.passed and ok.metrics["matched"] == 3 and ok.metrics["label_agreement"] == 1.0
    swapped = plant("label_swap", ref)
    assert list(swapped) == ["boxes", "scores", "classes"] and swapped["classes"].tolist() == [2, 2, 3]
    bad = task_parity(Task.DETECTION, ref, swapped)
    assert not bad.passed and bad.metrics["label_agreement"] == pytest.approx(2 / 3)
    assert any("have another label" in f for f in bad.failures), bad.failures
    check_plant("label_swap", list(ref))  # the artifact has labels, under Detectron2's name


def test_framework_parity_pairs_within_class_by_classes():
    ref = _detections()
    assert instance_parity(ref, ref)["passed"]
    other = {**ref, "classes": np.array([1, 2, 4])}  # one object of another class: not the same object
    result = instance_parity(ref, other)
    assert result["matched"] == 2 and not result["passed"]


@pytest.mark.parametrize("label_output", ["labels", "classes"])
def test_tensor_parity_pairs_rows_within_class_by_classes(label_output):
    # two near-identical boxes of two classes, in the other order: box deviation alone pairs each with the other
    # class (0.1 px each); within class the pairs are 0.3 px apart, inside the 0.5 px tolerance
    ref = {"boxes": np.array([[0, 0, 10, 10.0], [0, 0, 10, 10.4]], np.float32), label_output: np.array([1, 2])}
    got = {"boxes": np.array([[0, 0, 10, 10.1], [0, 0, 10, 10.3]], np.float32), label_output: np.array([2, 1])}
    outputs = [OutputSpec("boxes", True), OutputSpec(label_output, True)]
    tol = {"boxes": Tolerance(atol=0.5, rtol=0.0), label_output: Tolerance(atol=0.0, rtol=0.0)}
    check = compare_outputs(0, outputs, ref, got, tol)
    assert check.passed and check.reordered == 2, [(o.name, o.max_abs) for o in check.outputs]
    assert [o.name for o in check.outputs] == ["boxes", label_output]  # the report keeps the model's name


def test_as_detections_reads_classes_as_labels():
    det = as_detections(_detections())
    assert det["labels"].tolist() == [1, 2, 3] and "classes" not in det


@pytest.fixture(scope="module")
def classes_artifact(tmp_path_factory):
    """The test box detector with its labels named ``classes``, converted (framework parity against the same)."""
    from PIL import Image

    from conftest import FIXTURES
    from deploybridge.cli import main

    mp = pytest.MonkeyPatch()
    mp.syspath_prepend(str(FIXTURES))
    site = tmp_path_factory.mktemp("site")
    info = site / "db_test_baked-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: db-test-baked\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[deploybridge]\nbaked = db_test_baked\n")
    mp.syspath_prepend(str(site))
    folder = tmp_path_factory.mktemp("classes")
    image = folder / "a.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(image)
    # one object, exactly the detector's first box (label 1): AP 1.0 only if its label is read from "classes"
    coco = {"images": [{"id": 1, "file_name": "a.png", "width": 32, "height": 32}], "categories": [{"id": 1, "name": "a"}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 8, 32], "area": 256, "iscrowd": 0}]}
    (folder / "coco.json").write_text(json.dumps(coco))
    code = main(["convert", "--plugin", "baked", "--model", "boxes", "--option", "framework=same", "--option",
                 "label_output=classes", "--eval", str(folder / "coco.json"), "--out", str(folder / "artifact")])
    yield code, folder / "artifact", image
    mp.undo()
    sys.modules.pop("db_test_baked", None)


def test_an_artifact_with_classes_verifies_and_runs_with_labels(cli, classes_artifact, tmp_path):
    code, artifact, image = classes_artifact
    assert code == 0
    manifest = json.loads((artifact / "manifest.json").read_text())
    assert [o["name"] for o in manifest["outputs"]] == ["boxes", "scores", "classes"]
    # --eval read the labels from "classes": 3 detections of class 1, the matching one ranked second -> AP 0.5
    assert manifest["evaluation"]["ap"] == {"pytorch": {"box_ap": 0.5}, "onnxruntime": {"box_ap": 0.5}}
    verified = cli("verify", artifact, "--json")
    assert verified.code == 0, verified.err
    report = json.loads(verified.out)
    tasks = [i["task"] for i in report["inputs"]]
    assert tasks and all(t["passed"] and t["metrics"]["matched"] == 5 and t["metrics"]["label_agreement"] == 1.0 for t in tasks)
    assert all([o["name"] for o in i["outputs"]] == ["boxes", "scores", "classes"] for i in report["inputs"])
    assert report["framework"]["passed"]
    ran = cli("run", artifact, image, "--out", tmp_path / "pred", "--json", "--threshold", "0")
    assert ran.code == 0, ran.err
    assert [d["label"] for d in json.loads(ran.out)[str(image)]] == [1, 2, 1, 2, 1]  # the module's arange(5) % 2 + 1
    chosen = cli("threshold", artifact, "--dataset", artifact.parent / "coco.json", "--json", "--dry-run")
    assert chosen.code == 0, chosen.err
    per_class = json.loads(chosen.out)["per_class"]  # class 1's object found (recall 1.0), class 2 has none to find
    assert per_class["1"]["true_positives"] == 1 and per_class["1"]["recall"] == 1.0 and per_class["2"]["true_positives"] == 0


def test_a_label_swap_planted_on_classes_fails_verification(cli, classes_artifact):
    _, artifact, _ = classes_artifact
    result = cli("verify", artifact, "--plant", "label_swap", "--json")
    assert result.code == 1, result.err
    caught = caught_by(json.loads(result.out))
    assert any("have another label" in c for c in caught) and "tensor parity: classes" in caught, caught
