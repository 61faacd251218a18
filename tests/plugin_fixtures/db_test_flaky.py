"""A plugin backend whose unavailable() raises: the bug shows when a command asks, as that backend's answer."""
from deploybridge import hookimpl
from deploybridge.records import Backend


def _raises():
    raise OSError("libflaky.so: cannot open shared object file")


@hookimpl
def deploy_register_backends(register):
    register(Backend("flaky", unavailable=_raises, build=None, load=None))
