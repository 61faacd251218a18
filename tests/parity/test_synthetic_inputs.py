"""Calibration inputs never equal verification inputs (a model tuned on the image that then checks it proves less)."""
from deploybridge.parity.synthetic_inputs import calibration_seeds, verification_seeds


def test_calibration_and_verification_seeds_never_meet():
    calibration = {s for seed in range(0, 5000, 7) for s in calibration_seeds(seed, 16)}
    verification = {s for seed in range(0, 5000) for s in verification_seeds(seed, 64)}
    assert not calibration & verification
    assert calibration_seeds(3, 2) == calibration_seeds(3, 2) and calibration_seeds(3, 1) != calibration_seeds(4, 1)
