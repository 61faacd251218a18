"""The built-in plugin (owner name ``builtin``): the ONNX Runtime backend, the graph passes in
``deploybridge.convert.passes`` and the host NMS step (``deploybridge.runtime.host_nms``). The op-rewrite library is
its own built-in plugin, ``deploybridge_rewrites`` (owner name ``rewrites``)."""
from deploybridge import hookimpl


@hookimpl
def deploy_register_backends(register):
    from deploybridge.runtime.backends import onnxruntime

    register(onnxruntime.BACKEND)


@hookimpl
def deploy_register_graph_passes(register):
    from deploybridge.convert.passes import BUILTIN_PASSES

    for graph_pass in BUILTIN_PASSES:
        register(graph_pass)


@hookimpl
def deploy_register_host_ops(register):
    from deploybridge.runtime.host_nms import HOST_OP

    register(HOST_OP)
