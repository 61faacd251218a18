"""The ``deploy`` command line: the Typer app (:mod:`.app`), console helpers and one module per command
(:mod:`.commands`). Importing it loads no plugin and no torch."""
from deploybridge.cli.app import main, run

__all__ = ["main", "run"]
