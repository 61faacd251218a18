"""report.png drawing: any box a model gives is drawn, none crashes the conversion."""
import numpy as np


def test_an_inverted_box_is_drawn_not_refused():
    """MMDeploy's RTMDet artifact on random weights gave boxes with x2 < x1; PIL refuses such a rectangle
    ("x1 must be greater than or equal to x0") and the conversion ended in exit 3 while writing report.png."""
    from deploybridge.runtime.draw import draw_detections

    pixels = np.zeros((40, 60, 3), np.uint8)
    det = {"boxes": np.array([[50.0, 30.0, 10.0, 5.0]]), "scores": np.array([0.9]), "labels": np.array([0])}
    image = np.asarray(draw_detections(pixels, det))
    assert image[5:31, 10].any() and image[5:31, 50].any()  # both vertical edges drawn where the corners are
    assert not image[20, 30].any()  # the inside is not filled


def test_a_class_map_is_drawn_translucent_per_class_with_a_legend_largest_first():
    from deploybridge.runtime.draw import ALPHA, LEGEND_WIDTH, class_colour, draw_class_map

    pixels = np.full((40, 60, 3), 100, np.uint8)
    classes = np.zeros((40, 60), np.int64)
    classes[:, 30:] = 12  # 1200 pixels: past the 10-colour palette
    classes[5:10, 5:10] = 3  # 25 pixels
    image = np.asarray(draw_class_map(pixels, classes, ["__background__", "a", "b", "cat"]))
    assert image.shape == (56, 60 + LEGEND_WIDTH, 3)  # three legend rows need 56 px: taller than the image
    for k, (y, x) in ((3, (7, 7)), (12, (20, 45))):
        expected = np.round((1 - ALPHA) * 100 + ALPHA * np.array(class_colour(k))).astype(int)
        assert np.abs(image[y, x].astype(int) - expected).max() <= 1, (k, image[y, x], expected)
    assert (image[20, 20] == 100).all()  # __background__ is left uncoloured
    assert len({class_colour(k) for k in range(21)}) == 21  # 21 VOC classes, 21 colours
    # legend: one swatch per class present, largest first (12: 1200, background: 1175, 3: 25), at x 60+6..60+18
    swatches = [tuple(image[4 + 16 * row + 6, 60 + 12]) for row in range(3)]
    assert swatches == [class_colour(12), (255, 255, 255), class_colour(3)]
    assert (image[4 + 16 * 3, 60 + 6:60 + 19] == 255).all()  # no fourth row


def test_keypoints_are_joined_by_the_coco_skeleton_over_the_box():
    from deploybridge.runtime.draw import COCO_SKELETON, PALETTE, draw_detections

    pixels = np.zeros((80, 80, 3), np.uint8)
    # 17 keypoints on a circle: every limb of the skeleton is a chord between two of them
    angles = np.linspace(0, 2 * np.pi, 17, endpoint=False)
    kps = np.stack([40 + 30 * np.cos(angles), 40 + 30 * np.sin(angles), np.ones(17)], -1)[None]
    det = {"boxes": np.array([[5.0, 5.0, 75.0, 75.0]]), "scores": np.array([0.9]), "labels": np.array([1]), "keypoints": kps}
    image = np.asarray(draw_detections(pixels, det))
    colour = np.array(PALETTE[1], np.uint8)
    for a, b in COCO_SKELETON:
        x, y = (kps[0, a, :2] + kps[0, b, :2]) / 2
        near = image[round(y) - 1:round(y) + 2, round(x) - 1:round(x) + 2]
        assert (near == colour).all(-1).any(), (a, b)
    without = np.asarray(draw_detections(pixels, {k: v for k, v in det.items() if k != "keypoints"}))
    assert not without[20:60, 20:60].any()  # only the box's edges: nothing inside it without keypoints
