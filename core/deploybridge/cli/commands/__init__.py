"""Built-in CLI commands, one module each; each exposes ``add_to(app)``."""
