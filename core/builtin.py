"""The built-in plugin (owner name ``builtin``): the ONNX Runtime backend and
the op-rewrite library in ``deploybridge.rewrites``."""
from deploybridge import hookimpl


@hookimpl
def deploy_register_backends(register):
    from deploybridge.backends import onnxruntime

    register(onnxruntime.BACKEND)


@hookimpl
def deploy_register_rewrites(register):
    from deploybridge.rewrites import BUILTIN_REWRITES

    for rewrite in BUILTIN_REWRITES:
        register(rewrite)
