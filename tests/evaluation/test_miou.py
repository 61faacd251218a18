"""--eval on a semantic segmenter: per-class IoU and mIoU from a dataset-wide confusion matrix, the ground truth painted
from COCO annotations (later instances over earlier ones), and a delta that a one-class error moves past its gate."""
import json

import numpy as np
import pytest

from deploybridge.errors import DeployError
from deploybridge.evaluation import miou
from deploybridge.evaluation.datasets import shapes
from deploybridge.runtime.image_io import load_rgb, to_input

NAMES = ["__background__", *shapes.CATEGORIES]
SHAPE = (1, 3, 96, 96)


def test_iou_of_hand_made_maps():
    truth = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 2, 2], [0, 0, 0, 0]])
    pred = np.array([[0, 1, 1, 1], [0, 0, 1, 1], [2, 2, 0, 0], [0, 0, 0, 0]])
    # background: 7 shared of 8 true + 9 predicted -> 7/10; circle 4/5; square 2/4; triangle in neither: not counted
    got = miou.ious(miou.confusion(truth, pred, 4), ["background", *shapes.CATEGORIES])
    assert got == pytest.approx({"miou": (0.7 + 0.8 + 0.5) / 3, "iou_background": 0.7, "iou_circle": 0.8, "iou_square": 0.5})
    perfect = miou.ious(miou.confusion(truth, truth, 4), ["background", *shapes.CATEGORIES])
    assert perfect["miou"] == 1.0
    # a class predicted where the truth has none counts, at IoU 0
    wrong = miou.ious(miou.confusion(truth, np.full_like(truth, 3), 4), ["background", *shapes.CATEGORIES])
    assert wrong == {"miou": 0.0, "iou_background": 0.0, "iou_circle": 0.0, "iou_square": 0.0, "iou_triangle": 0.0}
    # ignored pixels (crowd) count for no class
    ignored = np.where(pred == 1, miou.IGNORE, truth)
    assert miou.ious(miou.confusion(ignored, pred, 4), ["b", "c", "s", "t"])["iou_b"] == pytest.approx(7 / 9)


def test_ground_truth_later_instance_wins_and_crowds_are_left_out():
    square = [[1, 1, 5, 1, 5, 5, 1, 5]]  # polygon over x, y in [1, 5]
    anns = [{"id": 1, "category_id": 1, "segmentation": square},
            {"id": 2, "category_id": 3, "segmentation": [[3, 3, 7, 3, 7, 7, 3, 7]]}]  # drawn later, overlaps
    truth = miou.ground_truth(anns, {1: 1, 2: 2, 3: 3}, 8, 8)
    assert truth[2, 2] == 1 and truth[4, 4] == 3 and truth[6, 6] == 3 and truth[0, 0] == 0
    truth = miou.ground_truth(anns[::-1], {1: 1, 2: 2, 3: 3}, 8, 8)  # the other order: the first shape on top
    assert truth[4, 4] == 1
    crowd = miou.ground_truth([{**anns[0], "iscrowd": 1}], {1: 1}, 8, 8)
    assert crowd[2, 2] == miou.IGNORE and crowd[0, 0] == 0
    with pytest.raises(DeployError, match="mIoU needs mask annotations"):
        miou.ground_truth([{"id": 9, "category_id": 1, "bbox": [0, 0, 2, 2]}], {1: 1}, 8, 8)


def test_class_index_by_name_then_by_id():
    cats = [{"id": 7, "name": "square"}, {"id": 9, "name": "circle"}]
    assert miou.class_index(NAMES, cats, 4) == {7: 2, 9: 1}
    assert miou.class_index(None, [{"id": 2, "name": "x"}], 4) == {2: 2}  # torchvision's convention: id = class
    with pytest.raises(DeployError, match="has no class among this model's 4 outputs"):
        miou.class_index(None, [{"id": 4, "name": "x"}], 4)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return shapes.generate(tmp_path_factory.mktemp("shapes"), 6, seed=11, size=SHAPE[2])


def oracle(annotations):
    """One-hot scores of each image's ground truth class map, for exactly the input `deploy run` would feed."""
    coco = json.loads(annotations.read_text())
    answers = {}
    for img in coco["images"]:
        x, _ = to_input(load_rgb(annotations.parent / img["file_name"]), SHAPE, {})
        truth = miou.ground_truth([a for a in coco["annotations"] if a["image_id"] == img["id"]], {1: 1, 2: 2, 3: 3},
                                  img["height"], img["width"])
        answers[x.tobytes()] = np.eye(4, dtype=np.float32)[truth].transpose(2, 0, 1)[None]
    return lambda x: answers.get(x.tobytes(), np.zeros((1, 4, *SHAPE[2:]), np.float32))


def shifting(run, cls: int, to: int, fraction: float):
    """The planted error: ``fraction`` of class ``cls``'s pixels (the first rows of each image's region) answered ``to``."""
    def planted(x):
        scores = np.array(run(x), copy=True)
        ys, xs = np.nonzero(scores[0].argmax(0) == cls)
        take = slice(0, int(np.ceil(fraction * len(ys))))
        scores[0, to, ys[take], xs[take]] = scores[0].max(0)[ys[take], xs[take]] + 1
        return scores
    return planted


def test_oracle_scores_one_and_a_shifted_class_fails_the_gate(dataset):
    truth = oracle(dataset)
    res = miou.evaluate(dataset, {"pytorch": truth, "artifact": truth}, SHAPE, 4, NAMES)
    assert res.miou["pytorch"]["miou"] == 1.0 and set(res.miou["pytorch"]) == {"miou", *(f"iou_{n.strip('_')}" for n in NAMES)}
    assert res.passed and all(d == 0 for d in res.delta.values())
    assert res.to_json()["metric"] == "mIoU" and res.scores is res.miou
    # 5 % of the squares read as circles: both classes lose IoU, the mIoU drops past 0.001
    res = miou.evaluate(dataset, {"pytorch": truth, "artifact": shifting(truth, 2, 1, 0.05)}, SHAPE, 4, NAMES)
    art = res.miou["artifact"]
    assert art["iou_square"] == pytest.approx(0.95, abs=0.005) and art["iou_circle"] < 1.0 and art["iou_background"] == 1.0
    assert res.delta["artifact:miou"] < -0.01 and not res.passed
    # a class's own loss fails the gate even where the mean hides it: one triangle pixel in 500 read as background
    res = miou.evaluate(dataset, {"pytorch": truth, "artifact": shifting(truth, 3, 0, 0.002)}, SHAPE, 4, NAMES)
    assert res.delta["artifact:iou_triangle"] < -0.001 and abs(res.delta["artifact:miou"]) < 0.001 and not res.passed


def test_the_eval_branch_sends_segmenters_to_miou(dataset, monkeypatch):
    """ap_delta_on_dataset (what convert, verify and precision search call) answers a segmenter with mIoU."""
    import torch

    from deploybridge.evaluation import ap_delta
    from deploybridge.records import LoadedModel, OutputSpec

    truth = oracle(dataset)
    module = lambda x: torch.from_numpy(truth(x.numpy()))  # noqa: E731
    loaded = LoadedModel(module=module, input_names=["images"], outputs=[OutputSpec("out")], make_inputs=lambda s: (),
                         task="semantic_segmentation", categories=NAMES)
    res = ap_delta.ap_delta_on_dataset(loaded, lambda feeds: {"out": truth(feeds["images"])}, "onnxruntime", str(dataset), SHAPE)
    assert isinstance(res, miou.MiouResult) and res.passed and res.miou["onnxruntime"]["miou"] == 1.0
    planted = shifting(truth, 3, 0, 0.05)
    res = ap_delta.ap_delta_on_dataset(loaded, lambda feeds: {"out": planted(feeds["images"])}, "onnxruntime", str(dataset), SHAPE)
    assert not res.passed and res.delta["onnxruntime:iou_triangle"] < -0.04
