"""--random-weights for SOLO heads: the class conv (and Decoupled SOLO's mask factors) calibrated on images
verification never uses, by deploybridge_mmdet.calibration's rules, so that every verification input has instances
(issue 17.1). The thresholds stay the config's: MMDetection's predict runs on the same calibrated weights."""
from __future__ import annotations

import math

# (point, class) scores over score_thr on the least-scoring calibration image (nms_pre is 500, max_per_img 100)
CANDIDATES = 50


def calibrate_random_head(model, images, pre: dict, candidates: int = CANDIDATES) -> None:
    """MMDetection initialises the class conv's bias to a prior probability of 0.01, so a random SOLO head finds
    nothing (measured): the bias is shifted so that the calibration image with the fewest has about ``candidates``
    scores over score_thr. Decoupled SOLO's mask is the product of an x and a y probability, ~0.25 at random,
    under mask_thr 0.5: most masks came out empty and were dropped (measured: 0 to 5 instances per input, none on
    some). Each factor's conv is first shifted so that its median probability is sqrt(mask_thr), so a product
    passes mask_thr about as often as a SOLO mask probability does."""
    from deploybridge.parity.head_calibration import outputs_of, shift_median, shift_sigmoid
    from deploybridge_mmdet.dense import Normalise

    head = model.mask_head
    normalise = Normalise(pre)

    def run(image):
        return head(model.extract_feat(normalise(image)))

    factors = [*getattr(head, "conv_mask_list_x", []), *getattr(head, "conv_mask_list_y", [])]
    # one pass: the class and mask branches share no layer after the features
    *outputs, logits = outputs_of([*factors, head.conv_cls], run, images)
    root = math.sqrt(float(head.test_cfg.mask_thr))
    for layer, values in zip(factors, outputs):
        shift_median(layer, values, math.log(root / (1 - root)))
    shift_sigmoid(head.conv_cls, logits, float(head.test_cfg.score_thr), candidates, margin=0.0)
