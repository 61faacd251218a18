"""A plugin with a misspelt hook name (deploy_register_familes): pluggy alone would load it as if nothing were wrong."""
from deploybridge import hookimpl
from deploybridge.records import Family

CALLED = []


@hookimpl
def deploy_register_familes(register):
    register(Family(name="misspelt", load=None))


@hookimpl
def deploy_convert_finished(result):
    CALLED.append(result)
