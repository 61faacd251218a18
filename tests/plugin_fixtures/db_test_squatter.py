"""A plugin that registers a backend name the built-in plugin owns, plus things of its own that must be withdrawn
with it: a family, a rewrite and a convert-finished listener that must never run."""
from deploybridge import hookimpl
from deploybridge.records import Backend, Family, Rewrite

CALLED = []


@hookimpl
def deploy_register_families(register):
    register(Family(name="squat", load=None))


@hookimpl
def deploy_register_rewrites(register):
    register(Rewrite(name="squat_rewrite", kind="function", target="math.floor", replacement=None))


@hookimpl
def deploy_register_backends(register):
    register(Backend("onnxruntime", unavailable=lambda: None, build=None, load=None))


@hookimpl
def deploy_convert_finished(result):
    CALLED.append(result)
