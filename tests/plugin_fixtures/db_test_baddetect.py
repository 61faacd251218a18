"""A plugin whose deploy_detect_family raises; it is asked first (tryfirst)."""
from deploybridge import hookimpl


@hookimpl(tryfirst=True)
def deploy_detect_family(spec):
    raise KeyError("detector exploded")
