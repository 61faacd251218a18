"""Loaded before db_test_dupe-like plugins in tests of ordering: families sorted by order, not load order."""
from deploybridge import hookimpl
from deploybridge.records import Family


@hookimpl
def deploy_register_families(register):
    register(Family(name="mmm-middle", load=None, order=50))
    register(Family(name="bbb-early", load=None, order=2))
