"""A plugin whose rewrite targets a function that does not exist."""
from deploybridge import hookimpl
from deploybridge.records import Rewrite


@hookimpl
def deploy_register_rewrites(register):
    register(Rewrite(name="ghost_rewrite", kind="function", target="torch.nn.functional.no_such_function",
                     replacement=lambda *a: None, why="test"))
