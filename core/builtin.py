"""The built-in plugin (owner name ``builtin``): the ONNX Runtime backend, the
op-rewrite library in ``deploybridge.rewrites``, the graph passes in
``deploybridge.surgery`` and the host NMS step (``deploybridge.host_nms``)."""
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


@hookimpl
def deploy_register_host_ops(register):
    from deploybridge.host_nms import HOST_OP

    register(HOST_OP)
