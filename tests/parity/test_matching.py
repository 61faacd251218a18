"""Interior flips: a mask pixel that changes away from the reference's edge is a computed difference, not noise."""
import numpy as np
import pytest

from deploybridge.parity.matching import edge, interior_flips


def _square(size=40, lo=10, hi=30):
    m = np.zeros((size, size), bool)
    m[lo:hi, lo:hi] = True
    return m


def test_the_edge_is_the_one_pixel_band_on_both_sides_of_the_boundary():
    e = edge(_square())
    assert e[10, 15] and e[9, 15] and not e[11, 15] and not e[8, 15] and not e[20, 20]
    assert int(e.sum()) == 76 + 80  # the ring just inside the square (76 pixels) and the one just outside (corners excluded)


def test_edge_noise_is_excused_and_a_one_percent_region_is_not():
    ref = _square()  # 400 pixels
    grown = ref.copy()
    grown[9, 10:30] = True  # the boundary moved by one row: what rounding near the 0.5 threshold does
    assert interior_flips(ref, grown) == 0
    holed = ref.copy()
    holed[19:21, 19:21] = False  # 4 pixels = 1 % of the object, in its middle
    assert interior_flips(ref, holed) == 4
    assert interior_flips(ref.astype(np.float32) * 0.9, holed.astype(np.float32)) == 4  # probabilities at 0.5


def test_boxes_clipped_to_a_line_pair_with_themselves_and_not_with_others():
    """A detection clipped to the image border has no area: IoU 0 with itself left 26 of 300 RetinaNet v2 detections
    unpaired although the artifact computed them exactly; such boxes pair when every corner is within 1 px."""
    from deploybridge.parity.matching import box_iou, greedy_match

    flat = np.array([[0.0, 10.0, 0.0, 40.0], [191.0, 5.0, 191.0, 20.0]], np.float32)  # zero width at both borders
    got = flat + np.array([[0.0, 0.003, 0.0, -0.002], [0.0, 0.0, 0.0, 0.0]], np.float32)
    iou = box_iou(flat, got)
    assert iou[0, 0] == 1.0 and iou[1, 1] == 1.0 and iou[0, 1] == 0.0
    assert greedy_match(iou, np.ones_like(iou, bool), 0.5) == [(0, 0), (1, 1)]
    moved = flat + np.array([[0.0, 5.0, 0.0, 5.0], [0.0, 0.0, 0.0, 0.0]], np.float32)  # 5 px along the border
    assert box_iou(flat, moved)[0, 0] == 0.0
    real = np.array([[0.0, 0.0, 10.0, 10.0]], np.float32)
    assert box_iou(real, real + 0.5)[0, 0] == pytest.approx(90.25 / 109.75)  # areas: the usual IoU, unchanged


def test_a_probability_at_the_threshold_may_flip_anywhere():
    """A random-weight mask head puts probabilities at 0.5 inside the object: a pixel at 0.5 ± 1e-6 that crosses is
    float noise (Cascade Mask R-CNN on 1 thread), one at 0.9 that drops to 0.1 is not."""
    ref = np.full((1, 12, 12), 0.9, np.float32)
    got = ref.copy()
    ref[0, 5, 5], got[0, 5, 5] = 0.5 + 1e-6, 0.5 - 1e-6  # interior pixel at the threshold
    assert interior_flips(ref, got) == 0
    got[0, 7, 7] = 0.1  # interior pixel well inside
    assert interior_flips(ref, got) == 1
    assert interior_flips(ref, got, band=0.0) == 2  # without the band: counted as before
