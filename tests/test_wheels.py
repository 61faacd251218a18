"""Real packages, not only editable installs: the five wheels, installed into a fresh virtualenv, work with their
package data (checkpoints, configs, op tables), which an editable install would find in the checkout anyway.

scripts/check_wheels.py does the work (build, fresh venv with the served torch, `deploy install mmdet`, `deploy
plugins`, one conversion per plugin, `deploy inspect --trt-lint`, all from outside the checkout); this test runs it
as a user would and fails with the failing step's output.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "check_wheels.py"


@pytest.mark.slow
def test_wheels_install_and_run_from_a_fresh_venv():
    done = subprocess.run([sys.executable, str(SCRIPT)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=1800)
    assert done.returncode == 0, done.stdout
    assert "wheels ok" in done.stdout, done.stdout
