"""A plugin whose deploy_register_commands adds a command and then raises."""
from deploybridge import hookimpl


@hookimpl
def deploy_register_commands(app):
    @app.command("half-added")
    def half_added():
        """Added before the plugin raised; the host takes it out again."""

    raise RuntimeError("commands plugin exploded")
