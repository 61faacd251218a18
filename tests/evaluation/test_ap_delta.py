"""--eval's path from image file to AP: fed as the family's preprocessing says, read back onto the image, labels as the
dataset's category ids. An oracle model that answers the ground truth for exactly the input `deploy run` would feed
scores AP 1; feed it anything else, or read its labels the wrong way, and AP drops."""
import json

import numpy as np
import pytest

from deploybridge.evaluation import ap_delta, coco_ap
from deploybridge.evaluation.datasets import shapes
from deploybridge.runtime.image_io import load_rgb, to_input

SHAPE = (1, 3, 192, 256)  # wider than the 160 x 160 images: keep-ratio pads, torchvision's stretch does not
TORCHVISION = {"input": "float32 RGB in [0, 1], NCHW"}
MMDET = {"source": "mmdet config", "loaded_channel_order": "BGR", "resize": {"scale": [1333, 800], "keep_ratio": True},
         "value_range": "0-255 float", "labels": "0-based class index: label i is the dataset's i-th category"}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return shapes.generate(tmp_path_factory.mktemp("shapes"), 4, seed=5, size=160)


def oracle(annotations, pre):
    """A 'model' that knows the ground truth of each input tensor `deploy run` would feed (boxes in input
    coordinates, labels as the family numbers them); any other tensor gets no detections."""
    coco = json.loads(annotations.read_text())
    answers = {}
    for img in coco["images"]:
        x, (sy, sx) = to_input(load_rgb(annotations.parent / img["file_name"]), SHAPE, pre)
        gts = [a for a in coco["annotations"] if a["image_id"] == img["id"]]
        boxes = np.array([[a["bbox"][0] / sx, a["bbox"][1] / sy, (a["bbox"][0] + a["bbox"][2]) / sx,
                           (a["bbox"][1] + a["bbox"][3]) / sy] for a in gts], np.float32)
        labels = np.array([a["category_id"] for a in gts]) - (1 if pre.get("labels") else 0)
        answers[x.tobytes()] = {"boxes": boxes, "scores": np.ones(len(gts), np.float32), "labels": labels}
    none = {"boxes": np.zeros((0, 4), np.float32), "scores": np.zeros(0, np.float32), "labels": np.zeros(0, int)}
    return lambda x: answers.get(x.tobytes(), none)


@pytest.mark.parametrize("pre", [TORCHVISION, MMDET], ids=["torchvision", "mmdet"])
def test_the_input_deploy_run_feeds_scores_ap_1(dataset, pre):
    result = ap_delta.evaluate(dataset, {"oracle": oracle(dataset, pre)}, SHAPE, False, pre)
    assert result.ap["oracle"]["box_ap"] == pytest.approx(1.0, abs=1e-6)


def test_misfed_or_misread_scores_less(dataset):
    """The oracle fed 0-1 RGB stretched (what --eval fed every family before) finds nothing; class indices read as
    category ids (no `labels` entry in the preprocessing) put every object in the wrong class."""
    right = oracle(dataset, MMDET)
    misfed = ap_delta.evaluate(dataset, {"oracle": right}, SHAPE, False, TORCHVISION)
    misread = ap_delta.evaluate(dataset, {"oracle": right}, SHAPE, False, {k: v for k, v in MMDET.items() if k != "labels"})
    assert misfed.ap["oracle"]["box_ap"] == 0.0
    assert misread.ap["oracle"]["box_ap"] == 0.0


def test_category_ids():
    categories = [{"id": 3, "name": "c"}, {"id": 7, "name": "a"}, {"id": 9, "name": "b"}]  # listed order, not names
    assert coco_ap.category_ids(MMDET, categories)(np.array([0, 1, 2, 3])).tolist() == [3, 7, 9, -1]
    assert coco_ap.category_ids(TORCHVISION, categories)(np.array([0, 3, 9])).tolist() == [0, 3, 9]


def test_a_model_without_instances_is_refused():
    from deploybridge.errors import DeployError
    from deploybridge.records import LoadedModel, OutputSpec

    classifier = LoadedModel(module=None, input_names=["images"], outputs=[OutputSpec("logits")], make_inputs=lambda seed: ())
    with pytest.raises(DeployError, match="--eval computes detection AP"):
        ap_delta.ap_delta_on_dataset(classifier, lambda feeds: {}, "onnxruntime", "shapes", SHAPE)
