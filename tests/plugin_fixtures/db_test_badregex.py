"""A plugin whose known warning has a regex that does not compile: triage would raise in every conversion."""
from deploybridge import hookimpl
from deploybridge.records import KnownWarning


@hookimpl
def deploy_register_known_warnings(register):
    register(KnownWarning("broken_regex", pattern="Converting a tensor to (", why="test"))
