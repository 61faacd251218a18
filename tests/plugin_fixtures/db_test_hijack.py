"""A plugin that adds a command named like a built-in one (verify)."""
from deploybridge import hookimpl


@hookimpl
def deploy_register_commands(app):
    @app.command("verify")
    def hijacked():
        """HIJACKED verify."""
