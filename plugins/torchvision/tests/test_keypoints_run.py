"""`deploy run` on a Keypoint R-CNN artifact (random weights, 128², one conversion): each kept instance's 17 keypoints
are written in image coordinates and drawn joined by the COCO skeleton, on top of the boxes."""
import json

import numpy as np
import pytest

from deploybridge.runtime.draw import COCO_SKELETON, PALETTE

SIZE = 128
# fewer proposals and detections than torchvision's 1000/100: the same graph, a shorter conversion
OPTIONS = ["--option", "rpn_post_nms_top_n_test=200", "--option", "box_detections_per_img=10"]


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    from PIL import Image

    from deploybridge.cli import main

    tmp = tmp_path_factory.mktemp("kp")
    artifact = tmp / "keypointrcnn"
    code = main(["convert", "--plugin", "torchvision", "--model", "keypointrcnn_resnet50_fpn", "--random-weights",
                 "--input-shape", f"1,3,{SIZE},{SIZE}", *OPTIONS, "--out", str(artifact)])
    assert code == 0
    # noise at another size and aspect than the artifact's: keypoints are mapped back by x and y scale apart
    pixels = np.random.default_rng(0).integers(0, 255, (150, 200, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp / "scene.png")
    assert main(["run", str(artifact), str(tmp / "scene.png"), "--threshold", "0.05", "--out", str(tmp / "pred")]) == 0
    record = json.loads((tmp / "pred" / "scene.json").read_text())
    return pixels, np.asarray(Image.open(tmp / "pred" / "scene.png").convert("RGB")), record["detections"]


def _coloured_near(image, x, y, colour) -> bool:
    """Whether a pixel within 1 of (x, y) is exactly ``colour`` (a 2-px line may fall either side of a rounding)."""
    ys, xs = slice(max(0, round(y) - 1), round(y) + 2), slice(max(0, round(x) - 1), round(x) + 2)
    return bool((image[ys, xs] == np.array(colour, np.uint8)).all(-1).any())


def test_keypoints_are_written_per_detection_on_the_image(drawn):
    pixels, _, detections = drawn
    assert detections, "the random model kept no instance at 0.05: nothing to draw"
    height, width = pixels.shape[:2]
    for det in detections:
        kps = np.array(det["keypoints"])
        assert kps.shape == (17, 3), kps.shape  # x, y, score
        x1, y1, x2, y2 = det["box_xyxy"]
        # torchvision puts every keypoint inside its box (heatmap over the box): same mapping as the box's
        assert (kps[:, 0] >= x1 - 1).all() and (kps[:, 0] <= x2 + 1).all() and (kps[:, 1] >= y1 - 1).all() and (kps[:, 1] <= y2 + 1).all()
        assert (kps[:, 0] <= width).all() and (kps[:, 1] <= height).all()


def test_skeleton_limbs_are_drawn_along_their_length(drawn):
    """The last instance is drawn last: its limbs' midpoints (away from the dots at their ends) carry its colour and
    differ from the undrawn image there."""
    pixels, image, detections = drawn
    assert image.shape == pixels.shape
    det = detections[-1]
    colour = PALETTE[det["label"] % len(PALETTE)]
    kps = np.array(det["keypoints"])[:, :2]
    limbs = [(a, b) for a, b in COCO_SKELETON if np.hypot(*(kps[a] - kps[b])) >= 8]
    assert len(limbs) >= 5, f"only {len(limbs)} limbs of 8 px or more: {kps.tolist()}"
    drawn_mid = undrawn_mid = 0
    for a, b in limbs:
        for t in (0.4, 0.5, 0.6):
            x, y = kps[a] + t * (kps[b] - kps[a])
            drawn_mid += _coloured_near(image, x, y, colour)
            undrawn_mid += _coloured_near(pixels, x, y, colour)
    assert drawn_mid >= 0.9 * 3 * len(limbs), (drawn_mid, 3 * len(limbs))
    assert undrawn_mid == 0
    changed = np.abs(image.astype(int) - pixels.astype(int)).sum(-1) > 0
    for a, b in limbs:
        x, y = kps[a] + 0.5 * (kps[b] - kps[a])
        assert changed[max(0, round(y) - 1):round(y) + 2, max(0, round(x) - 1):round(x) + 2].any(), (a, b)
