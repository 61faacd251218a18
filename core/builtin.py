"""The built-in plugin (owner name ``builtin``): the ONNX Runtime backend, the
op-rewrite library in ``deploybridge.rewrites`` and the graph passes in
``deploybridge.surgery``."""
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


@hookimpl
def deploy_register_graph_passes(register):
    from deploybridge.surgery import BUILTIN_PASSES

    for graph_pass in BUILTIN_PASSES:
        register(graph_pass)
