"""The two ways a command ends badly on purpose, each with its exit code.

Every message is one line that says what to do; the CLI prints it without a
traceback unless ``--debug`` is given.
"""


class DeployError(Exception):
    """Bad input or an unusable environment: exit code 2."""

    exit_code = 2


class VerificationFailed(DeployError):
    """The artifact does not compute what the original model computes: exit code 1."""

    exit_code = 1
