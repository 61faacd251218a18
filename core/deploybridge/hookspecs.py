"""The hooks a deploybridge plugin can implement.

Registration hooks receive a ``register`` callback: call it once per record
(``register(Family(...))``). The host records which plugin registered what and
rejects a second record with the same name, naming both plugins. Each hook has
its own page in ``docs/hooks/``.
"""
from __future__ import annotations

from typing import Any, Callable

import pluggy

hookspec = pluggy.HookspecMarker("deploybridge")


@hookspec
def deploy_register_families(register: Callable[[Any], None]) -> None:
    """Register model families (:class:`deploybridge.records.Family`).

    Called once per command that needs families (convert, verify, plugins).
    A family turns a :class:`~deploybridge.records.ModelSpec` into a
    :class:`~deploybridge.records.LoadedModel`: a tensor-in/tensor-out module,
    its declared outputs in a fixed order and a deterministic input maker.
    """


@hookspec
def deploy_register_rewrites(register: Callable[[Any], None]) -> None:
    """Register op rewrites (:class:`deploybridge.records.Rewrite`).

    Called when a conversion starts and by ``deploy rewrites``. Rewrites whose
    exporter and opset range match the conversion are applied, scoped to the
    export; their names are written into the ONNX metadata and the manifest.
    """


@hookspec
def deploy_register_graph_passes(register: Callable[[Any], None]) -> None:
    """Register graph-surgery passes (:class:`deploybridge.records.GraphPass`).

    Called after export. Passes run in ascending ``order``; the model is
    re-checked after each one and a pass that breaks it fails by name.
    """


@hookspec
def deploy_register_backends(register: Callable[[Any], None]) -> None:
    """Register backends (:class:`deploybridge.records.Backend`).

    Called by convert, verify and ``deploy plugins``. A backend whose runtime
    is missing still registers; its ``unavailable()`` says how to install it.
    """


@hookspec
def deploy_register_host_ops(register: Callable[[Any], None]) -> None:
    """Register host steps (:class:`deploybridge.records.HostOp`).

    Called by every ``deploy convert`` and ``deploy verify``, and by ``deploy
    run`` when the artifact has a host step a plugin owns. A graph with
    ``deploybridge::<name>`` nodes is cut at them into engine segments and the
    host op registered under that name runs in between, in the calling process
    (e.g. NMS after ``--truncate-nms``, a family's post-processing kept out of
    the engine).
    """


@hookspec
def deploy_register_known_warnings(register: Callable[[Any], None]) -> None:
    """Register export warnings that are harmless (:class:`deploybridge.records.KnownWarning`).

    Called when a conversion triages the warnings its export printed. A warning that matches one gets the verdict
    ``harmless`` with its ``why``; plugins list the warnings their own models' code prints.
    """


@hookspec
def deploy_register_commands(app: Any) -> None:
    """Add commands to the ``deploy`` Typer ``app``.

    Called only when the command line names a command that is not built in
    (or asks for ``--help``), so plugins are never imported just to run a
    built-in command.
    """


@hookspec(firstresult=True)
def deploy_detect_family(spec: Any) -> str | None:
    """Return the name of the family that handles ``spec`` (a ModelSpec whose
    ``family`` is empty), or None to let another plugin answer.

    Called by ``deploy convert`` when neither ``--family`` nor a single-family
    ``--plugin`` decides. The first non-None answer wins.
    """


@hookspec
def deploy_convert_finished(result: Any) -> None:
    """Notification, called after ``deploy convert`` wrote an artifact.

    ``result`` is a :class:`deploybridge.convert.pipeline.ConvertResult` (artifact path,
    manifest dict, verification). Use it to upload, log or index artifacts;
    the return value is ignored and exceptions are reported as warnings.
    """
