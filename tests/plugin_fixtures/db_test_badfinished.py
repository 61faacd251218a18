"""A plugin whose deploy_convert_finished raises; it is called first (tryfirst)."""
from deploybridge import hookimpl

CALLED = []


@hookimpl(tryfirst=True)
def deploy_convert_finished(result):
    CALLED.append(result)
    raise RuntimeError("listener exploded")
