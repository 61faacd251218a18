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
