"""deploy install NAME: run the installer a plugin registered under NAME (hook deploy_register_installers)."""
from __future__ import annotations

import typer
from typer.core import TyperCommand

from deploybridge.errors import DeployError, first_line

HELP = ("Install a framework a plugin needs, with nothing to compile.\n\nThe torch already installed stays; running it"
        " again installs nothing (prints `already installed: ...`).")


def _installers() -> dict:
    from deploybridge.plugins import Host

    return Host().installers()


def targets_line(installers: dict) -> str:
    """``detectron2, mmdeploy, mmdet``: the registered names, for the unknown-name error."""
    return ", ".join(sorted(installers)) or "none (no loaded plugin registers one; see `deploy plugins`)"


class InstallCommand(TyperCommand):
    """``deploy install --help`` lists the registered installers: collected when help is asked for, never when the
    command line is built (a built-in command loads no plugin until it runs)."""

    def format_help(self, ctx, formatter) -> None:
        if self.help == HELP:
            rows = [f"{name}: {i.description or i.version} (plugin {i.owner})" for name, i in _installers().items()]
            self.help = HELP + "\n\nNAME is one of:\n\n" + ("\n\n".join(rows) or targets_line({}))
        return super().format_help(ctx, formatter)


def install(
    name: str = typer.Argument(..., metavar="NAME", help="What to install: a registered installer (listed above)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Pass -q to pip."),
) -> int:
    installers = _installers()
    installer = installers.get(name)
    if installer is None:
        raise DeployError(f"unknown install target '{name}'; choose: {targets_line(installers)}")
    try:
        done = installer.install(quiet)
    except DeployError:
        raise
    except Exception as exc:  # a bug in the plugin's installer: one line naming it, not a traceback
        raise DeployError(f"installer '{name}' of plugin '{installer.owner}' failed: {first_line(exc)}") from exc
    print(f"installed {', '.join(done)}" if done else f"already installed: {installer.version or name}")
    return 0


def add_to(app: typer.Typer) -> None:
    app.command("install", cls=InstallCommand, help=HELP)(install)
