"""The shapes dataset generator: deterministic, valid COCO, real masks."""
import hashlib
import json

import numpy as np

from deploybridge.evaluation.datasets import shapes


def digest(folder):
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(p.name.encode() + p.read_bytes())
    return h.hexdigest()


def test_same_seed_same_bytes_other_seed_other_data(tmp_path):
    a = shapes.generate(tmp_path / "a", 6, seed=3, size=128)
    b = shapes.generate(tmp_path / "b", 6, seed=3, size=128)
    c = shapes.generate(tmp_path / "c", 6, seed=4, size=128)
    assert digest(a.parent) == digest(b.parent)
    assert digest(a.parent) != digest(c.parent)


def test_annotations_are_valid_coco_with_visible_masks(tmp_path):
    from pycocotools import mask as mask_utils

    ann = shapes.generate(tmp_path, 10, seed=0, size=160)
    coco = json.loads(ann.read_text())
    assert [c["name"] for c in coco["categories"]] == list(shapes.CATEGORIES)
    assert len(coco["images"]) == 10 and len(coco["annotations"]) >= 20
    seen = set()
    for a in coco["annotations"]:
        m = mask_utils.decode({"size": a["segmentation"]["size"], "counts": a["segmentation"]["counts"].encode()})
        ys, xs = np.nonzero(m)
        assert m.sum() == a["area"] >= shapes.MIN_VISIBLE_PIXELS
        assert a["bbox"] == [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]
        seen.add(a["category_id"])
    assert seen == {1, 2, 3}


def test_overlapping_shapes_keep_only_visible_part():
    rng = np.random.default_rng(0)
    for _ in range(20):
        _, instances = shapes.make_image(rng, 128, 128)
        total = np.zeros((128, 128), int)
        for inst in instances:
            total += inst.mask
        assert total.max() <= 1  # visible masks never overlap


def test_verification_seeds_draw_the_validation_split_and_calibration_seeds_do_not(tmp_path):
    """The embedded models verify on validation images (the pixels the split's PNGs hold), and calibrate on scenes
    verification never sees."""
    from PIL import Image

    from deploybridge.evaluation.datasets.shapes import image_for_seed, validation_split
    from deploybridge.parity.synthetic_inputs import calibration_seeds, verification_seeds

    validation_split(tmp_path, num_images=3)
    for k, seed in enumerate(verification_seeds(0, 3)):
        png = np.asarray(Image.open(tmp_path / "images" / f"{k:06d}.png"))
        assert np.array_equal(image_for_seed(seed, 192, 192), png)
    seen = [image_for_seed(s, 192, 192) for s in verification_seeds(0, 3)]
    calibration = image_for_seed(calibration_seeds(0, 1)[0], 192, 192)
    assert not any(np.array_equal(calibration, v) for v in seen)
