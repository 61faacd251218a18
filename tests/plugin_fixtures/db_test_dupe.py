"""A plugin that registers a family name another plugin already owns, and two ordered families."""
from deploybridge import hookimpl
from deploybridge.records import Family


@hookimpl
def deploy_register_families(register):
    register(Family(name="zzz-first", load=None, order=1))
    register(Family(name="aaa-last", load=None, order=500))
    register(Family(name="tiny", load=None))
