"""The built-in plugin (owner name ``builtin``): the ONNX Runtime, OpenVINO, TorchScript and TensorRT backends, the
graph passes in ``deploybridge.convert.passes``, the host NMS step (``deploybridge.runtime.host_nms``) and the known
export warnings of torch and its exporter (``deploybridge.convert.known_warnings``). The op-rewrite library is its own
built-in plugin, ``deploybridge_rewrites`` (owner name ``rewrites``)."""
from deploybridge import hookimpl


@hookimpl
def deploy_register_backends(register):
    from deploybridge.runtime.backends import onnxruntime, openvino, torchscript, tensorrt

    register(onnxruntime.BACKEND)
    register(openvino.BACKEND)
    register(torchscript.BACKEND)
    register(tensorrt.BACKEND)


@hookimpl
def deploy_register_graph_passes(register):
    from deploybridge.convert.passes import BUILTIN_PASSES

    for graph_pass in BUILTIN_PASSES:
        register(graph_pass)


@hookimpl
def deploy_register_host_ops(register):
    from deploybridge.runtime.host_nms import HOST_OP

    register(HOST_OP)


@hookimpl
def deploy_register_known_warnings(register):
    from deploybridge.convert.known_warnings import KNOWN_WARNINGS

    for known in KNOWN_WARNINGS:
        register(known)
