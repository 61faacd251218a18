"""Whether an artifact is verified: the manifest's marker, and for manifests written before it, their verification."""
import pytest

from deploybridge.convert.manifest import is_verified, require_verified
from deploybridge.errors import DeployError

PASSED = {"passed": True, "summary": "PASSED: 3 inputs"}
FAILED = {"passed": False, "summary": "FAILED: 3 inputs, max abs error 0.01, 3 output check(s) out of tolerance"}


@pytest.mark.parametrize("manifest, verified", [
    ({"verified": True, "verification": PASSED}, True),
    ({"verified": False, "verification": PASSED}, False),  # the marker decides: here --eval's AP delta failed
    ({"verification": PASSED, "evaluation": None}, True),  # before the marker: verification.passed ...
    ({"verification": FAILED}, False),
    ({"verification": PASSED, "evaluation": {"passed": False}}, False),  # ... and --eval's result
    ({"verification": PASSED, "evaluation": {"passed": True}}, True),
    ({}, False),
])
def test_is_verified(manifest, verified):
    assert is_verified(manifest) is verified


def test_require_verified_refuses_in_one_line_unless_allowed(tmp_path):
    assert require_verified({"verified": True}, tmp_path, allow_unverified=False) is None
    with pytest.raises(DeployError) as refused:
        require_verified({"verified": False, "verification": FAILED}, tmp_path, allow_unverified=False)
    line = str(refused.value)
    assert "\n" not in line and f"{tmp_path} is unverified" in line and FAILED["summary"] in line
    assert "--allow-unverified" in line
    warning = require_verified({"verification": FAILED}, tmp_path, allow_unverified=True)
    assert warning.startswith(f"{tmp_path} is unverified") and warning.endswith("used anyway because of --allow-unverified")
