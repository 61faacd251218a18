"""Keypoint R-CNN's tie evidence: a heatmap with two peaks within the margin, more than a pixel apart, is a tie; one
clear peak, or a second peak below the margin, is not."""
import numpy as np
import torch

from deploybridge_torchvision.keypoint_ties import runner_up_peaks


def _peak(y, x, height, size=56, sigma=1.5):
    ys, xs = torch.meshgrid(torch.arange(size, dtype=torch.float32), torch.arange(size, dtype=torch.float32), indexing="ij")
    return height * torch.exp(-((ys - y) ** 2 + (xs - x) ** 2) / (2 * sigma**2))


def test_two_peaks_within_the_margin_are_a_tie_and_a_clear_peak_is_not():
    maps = torch.stack([_peak(10, 10, 8.0) + _peak(40, 40, 8.0 - 1e-3),  # runner-up 1e-3 below
                        _peak(10, 10, 8.0) + _peak(40, 40, 7.0),  # runner-up a whole logit below
                        _peak(28, 28, 8.0)])[None]  # one peak: its neighbours are within a pixel or far below
    rois = torch.tensor([[0.0, 0.0, 56.0, 56.0]])
    assert runner_up_peaks(maps, rois, margin=0.01, px=1.0).tolist() == [[True, False, False]]
    # planted: a margin of 0 -> nothing is a tie; a margin above the gap -> the second map ties too
    assert not runner_up_peaks(maps, rois, margin=0.0, px=1.0).any()
    assert runner_up_peaks(maps, rois, margin=1.5, px=1.0).tolist() == [[True, True, False]]


def test_distance_is_measured_on_the_box_sized_map():
    """torchvision upsamples each 56x56 map to its box before the argmax: two peaks 20 map cells apart in a 14-pixel
    box are 5 px apart, so a 6 px bound leaves them alone and a 4 px bound calls them a tie."""
    maps = (_peak(10, 10, 8.0) + _peak(10, 30, 8.0 - 1e-3))[None, None]
    rois = torch.tensor([[100.0, 100.0, 114.0, 114.0]])
    assert runner_up_peaks(maps, rois, 0.01, px=6.0).tolist() == [[False]]
    assert runner_up_peaks(maps, rois, 0.01, px=4.0).tolist() == [[True]]
    assert isinstance(runner_up_peaks(maps, rois, 0.01, 4.0), np.ndarray)
