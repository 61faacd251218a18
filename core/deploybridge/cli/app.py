"""The ``deploy`` command line.

Importing this module loads no plugin and no torch: plugins are loaded by
the commands that need them, and plugin commands are added only when the
command line names a command that is not built in (or asks for help).
"""
from __future__ import annotations

import os
import sys
import traceback

import typer

try:  # typer >= 0.20 vendors click as typer._click
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover - older typer
    from click import exceptions as click_exceptions

from deploybridge import __version__
from deploybridge.errors import DeployError, first_line
from deploybridge.runtime.threads import pin_torch

HELP = """Take a trained vision model to a deployable artifact and prove it computes the same thing.

Exit codes: 0 ok, 1 verification failed, 2 bad input or usage, 3 internal error. Add --debug anywhere for tracebacks.

Environment: DEPLOYBRIDGE_PLUGINS=a,b loads only these plugins; DEPLOYBRIDGE_DISABLE_PLUGINS=a,b skips them; DEPLOYBRIDGE_TRACE_PLUGINS=1 prints every hook call; DEPLOYBRIDGE_THREADS=N: threads for every backend and PyTorch (one job per core: 1).
"""


def build_app() -> typer.Typer:
    from deploybridge.cli.commands import (bench, convert, debug, inspect, install, matrix, plugins, rewrites, run,
                                           threshold, verify)

    app = typer.Typer(name="deploy", help=HELP, no_args_is_help=True, add_completion=False,
                      context_settings={"help_option_names": ["-h", "--help"]})

    def _print_version(value: bool) -> None:
        if value:
            typer.echo(f"deploybridge {__version__}")
            raise typer.Exit(0)

    @app.callback()
    def _root(
        version: bool = typer.Option(False, "--version", help="Print the version and exit.", callback=_print_version, is_eager=True),
        debug: bool = typer.Option(False, "--debug", help="Show tracebacks (may also be given after the command)."),
    ) -> None:
        pass

    for module in (convert, verify, debug, run, threshold, bench, matrix, inspect, plugins, rewrites, install):
        module.add_to(app)
    return app


def _command_name(argv: list[str]) -> str | None:
    return next((a for a in argv if not a.startswith("-")), None)


def _add_plugin_commands(app: typer.Typer, argv: list[str]) -> None:
    builtin = {c.name for c in app.registered_commands}
    name = _command_name(argv)
    if name in builtin:
        return
    if name is None and not any(a in ("-h", "--help") for a in argv) and argv:
        return
    from deploybridge.plugins import Host

    Host().register_commands(app)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("DEPLOYBRIDGE_DEBUG", "") not in ("", "0")
    argv = [a for a in argv if a != "--debug"]
    try:
        pin_torch()  # DEPLOYBRIDGE_THREADS, when set: one job per core
        app = build_app()
        _add_plugin_commands(app, argv)
        rv = app(args=argv, prog_name="deploy", standalone_mode=False)
        return rv if isinstance(rv, int) else 0
    except DeployError as exc:
        if debug:
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except click_exceptions.NoSuchOption as exc:
        print(f"error: {exc.format_message()} (see `deploy {exc.ctx.command.name if exc.ctx else ''} --help`)", file=sys.stderr)
        return 2
    except click_exceptions.UsageError as exc:
        cmd = exc.ctx.command_path if exc.ctx else "deploy"
        print(f"error: {exc.format_message()} (see `{cmd} --help`)", file=sys.stderr)
        return 2
    except typer.Exit as exc:
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if debug:
            traceback.print_exc()
        print(f"error: internal error {first_line(exc, 300)} (re-run with --debug and report it)", file=sys.stderr)
        return 3


def run() -> None:
    sys.exit(main())
