"""The hooks a deploybridge plugin can implement.

Registration hooks receive a ``register`` callback: call it once per record (``register(Family(...))``). The host
records which plugin registered what. Every hook call is isolated: an implementation that raises, passes
``register`` something that is not the hook's record type, or registers a name another plugin already owns marks its
plugin failed and unregisters it entirely (none of its other hooks run and its records are withdrawn); the host and
the other plugins carry on, and the failure is reported on stderr and by ``deploy plugins``. Each hook has its own
page in ``docs/hooks/`` and a test named ``test_hook_<name>``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import pluggy

if TYPE_CHECKING:
    import typer

    from deploybridge.convert.pipeline import ConvertResult
    from deploybridge.records import Backend, Family, GraphPass, HostOp, Installer, KnownWarning, ModelSpec, Rewrite

hookspec = pluggy.HookspecMarker("deploybridge")


@hookspec
def deploy_register_families(register: Callable[[Family], None]) -> None:
    """Register model families.

    Called once per command, when it first needs any registry (registration hooks are collected together). A family
    turns a
    :class:`~deploybridge.records.ModelSpec` into a :class:`~deploybridge.records.LoadedModel`: a tensor-in/tensor-out
    module, its declared outputs in a fixed order and a deterministic input maker.

    :param register: call once per :class:`~deploybridge.records.Family`.
    :returns: nothing; what counts is what was registered.

    Exceptions are isolated: the plugin is marked failed and its families are withdrawn.
    """


@hookspec
def deploy_register_rewrites(register: Callable[[Rewrite], None]) -> None:
    """Register op rewrites.

    Called once per command, when it first needs any registry (convert, verify, ``deploy rewrites``, ...). Rewrites
    whose exporter, opset range and families
    match the conversion are applied, scoped to the export; their names are written into the ONNX metadata and the
    manifest.

    :param register: call once per :class:`~deploybridge.records.Rewrite`.
    :returns: nothing.

    Exceptions are isolated: the plugin is marked failed and its rewrites are withdrawn.
    """


@hookspec
def deploy_register_graph_passes(register: Callable[[GraphPass], None]) -> None:
    """Register graph-surgery passes.

    Called once per command, when it first needs any registry; the passes run after export, in ascending ``order``;
    the model is re-checked after each one and a pass that
    breaks it fails the conversion by name.

    :param register: call once per :class:`~deploybridge.records.GraphPass`.
    :returns: nothing.

    Exceptions are isolated: the plugin is marked failed and its passes are withdrawn. (An exception raised by a
    registered pass while it runs fails that conversion, by the pass's name.)
    """


@hookspec
def deploy_register_backends(register: Callable[[Backend], None]) -> None:
    """Register backends.

    Called once per command, when it first needs any registry (convert, verify, run, ``deploy plugins``). A backend
    whose runtime is missing still registers; its
    ``unavailable()`` says how to install it.

    :param register: call once per :class:`~deploybridge.records.Backend`.
    :returns: nothing.

    Exceptions are isolated: the plugin is marked failed and its backends are withdrawn.
    """


@hookspec
def deploy_register_host_ops(register: Callable[[HostOp], None]) -> None:
    """Register host steps.

    Called once per command, when it first needs any registry (every ``deploy convert`` and ``deploy verify``; ``deploy
    run`` when the artifact has a host step
    a plugin owns. A graph with ``deploybridge::<name>`` nodes is cut at them into engine segments and the host op
    registered under that name runs in between, in the calling process (e.g. NMS after ``--truncate-nms``, a
    family's post-processing kept out of the engine).

    :param register: call once per :class:`~deploybridge.records.HostOp`.
    :returns: nothing.

    Exceptions are isolated: the plugin is marked failed and its host ops are withdrawn.
    """


@hookspec
def deploy_register_known_warnings(register: Callable[[KnownWarning], None]) -> None:
    """Register export warnings that are harmless.

    Called once per command, when it first needs any registry; a conversion triages the warnings its export printed
    against them. A warning that matches a
    :class:`~deploybridge.records.KnownWarning` (message pattern and warning module) gets the verdict ``harmless``
    with its ``why``; plugins list the warnings their own models' code prints.

    :param register: call once per :class:`~deploybridge.records.KnownWarning`.
    :returns: nothing.

    Exceptions are isolated: the plugin is marked failed and its known warnings are withdrawn.
    """


@hookspec
def deploy_register_installers(register: Callable[[Installer], None]) -> None:
    """Register frameworks that ``deploy install NAME`` installs.

    Called once per command, when it first needs any registry (``deploy install``, ``deploy plugins``, ...). ``deploy
    install NAME`` runs the :class:`~deploybridge.records.Installer` registered under ``NAME`` (``deploy install
    --help`` lists them): it installs what is missing without compiling anything, keeps the installed torch, and
    running it again installs nothing.

    :param register: call once per :class:`~deploybridge.records.Installer`.
    :returns: nothing.

    Exceptions are isolated: the plugin is marked failed and its installers are withdrawn. (An exception raised by a
    registered installer while it runs fails that ``deploy install``, naming the installer and its plugin.)
    """


@hookspec
def deploy_register_commands(app: typer.Typer) -> None:
    """Add commands to the ``deploy`` command line.

    Called only when the command line names a command that is not built in (or asks for ``--help``), so plugins are
    never imported just to run a built-in command.

    :param app: the ``deploy`` Typer app; add commands with ``@app.command("name")``.
    :returns: nothing.

    Exceptions are isolated: the plugin is marked failed, the commands it added are taken out again, and ``deploy
    --help`` and every built-in command still work.
    """


@hookspec(firstresult=True)
def deploy_detect_family(spec: ModelSpec) -> str | None:
    """Say which family handles a model spec whose ``family`` is empty.

    Called by ``deploy convert`` when neither ``--family`` nor a single-family ``--plugin`` decides. The first
    answer that is not None wins.

    :param spec: what the user asked for (model name, config path, options).
    :returns: a registered family's name, or None to let another plugin answer.

    Exceptions are isolated: the plugin is marked failed and the next plugin is asked.
    """


@hookspec
def deploy_convert_finished(result: ConvertResult) -> None:
    """Be told that a conversion finished.

    Called after ``deploy convert`` wrote an artifact (passed or not), with the artifact path, the manifest, the
    report and the verification. Use it to upload, log or index artifacts. Every implementation is called.

    :param result: :class:`deploybridge.convert.pipeline.ConvertResult`.
    :returns: nothing; a return value is ignored.

    Exceptions are isolated: the plugin is marked failed and reported; the other listeners are still called and the
    conversion's exit code is unchanged.
    """
