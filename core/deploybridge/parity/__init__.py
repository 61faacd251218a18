"""Verification: tensor parity, task parity, framework parity, the reference's noise floor and the tolerances set
from it, and the synthetic verification inputs."""
