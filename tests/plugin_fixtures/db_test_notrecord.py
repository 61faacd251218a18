"""A plugin that hands register() a dict instead of a Backend record."""
from deploybridge import hookimpl


@hookimpl
def deploy_register_backends(register):
    register({"name": "dictbackend", "build": None})
