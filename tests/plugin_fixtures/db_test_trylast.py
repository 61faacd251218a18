"""A plugin that asks to be called last (trylast) and registers the built-in backend's name: pluggy would call its
registration before the built-in's, so without the host's own registration order it would win the name."""
from deploybridge import hookimpl
from deploybridge.records import Backend


@hookimpl(trylast=True)
def deploy_register_backends(register):
    register(Backend("onnxruntime", unavailable=lambda: None, build=None, load=None))
