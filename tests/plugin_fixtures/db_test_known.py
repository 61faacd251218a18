"""A test plugin that only registers a known warning: the one ``db_test_warns._utils`` makes the tracer print."""
from deploybridge import hookimpl
from deploybridge.records import KnownWarning


@hookimpl
def deploy_register_known_warnings(register):
    register(KnownWarning("db_test_keep_if_any", r"Converting a tensor to a Python boolean",
                          "keep_if_any's test is true for every input: the traced branch is the only one taken",
                          module=r"^db_test_warns\._utils$"))
