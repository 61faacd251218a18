"""Names the user typed, resolved against what the plugins registered: a family, a backend, a model.

Every miss is a one-line error with the closest names and where to look.
"""
from __future__ import annotations

from deploybridge.errors import DeployError, did_you_mean
from deploybridge.plugins import Host, availability
from deploybridge.records import Backend, Family, LoadedModel, ModelSpec, Task


def resolve_family(host: Host, spec: ModelSpec, plugin: str | None) -> Family:
    families = host.families()
    if plugin and plugin in host.statuses and not host.statuses[plugin].loaded:
        raise DeployError(f"plugin '{plugin}' {host.statuses[plugin].status}; run `deploy plugins` for details")
    name = spec.family
    if not name and plugin:
        owned = [f for f in families.values() if f.owner == plugin]
        if len(owned) == 1:
            name = owned[0].name
    if not name:
        name = host.detect_family(spec)
    if not name:
        hint = f" among plugin '{plugin}' families" if plugin else ""
        raise DeployError(f"no family handles model '{spec.model}'{hint}; pass --plugin NAME or --family NAME (see `deploy plugins`)")
    if name not in families:
        raise DeployError(f"unknown family '{name}'{did_you_mean(name, list(families))}; `deploy plugins` lists the families")
    return families[name]


def resolve_backend(host: Host, name: str) -> Backend:
    backends = host.backends()
    if name not in backends:
        raise DeployError(f"unknown backend '{name}'{did_you_mean(name, list(backends))}; available: {', '.join(backends)}")
    reason = availability(backends[name])
    if reason:
        raise DeployError(f"backend '{name}' is not usable here: {reason}")
    return backends[name]


def model_or_default(family: Family, model: str) -> str:
    """``model``, or the family's default model when none was given (``deploy convert --plugin NAME`` alone)."""
    if model:
        return model
    if not family.default_model:
        raise DeployError(f"family '{family.name}' has no default model; give --model NAME"
                          f"{' (one of ' + ', '.join(family.models) + ')' if family.models else ' or --config'}")
    return family.default_model


def load_model(family: Family, spec: ModelSpec) -> LoadedModel:
    if family.models and spec.model not in family.models and not spec.config:  # a config path is not a listed model
        raise DeployError(f"unknown model '{spec.model}' for family '{family.name}'{did_you_mean(spec.model, family.models)}; known: {', '.join(family.models)}")
    from deploybridge.convert.dynamic import with_dynamic

    return with_dynamic(with_task_checked(family, family.load(spec)), spec.dynamic, family.name)


def with_task_checked(family: Family, loaded: LoadedModel) -> LoadedModel:
    """The family's declared task as a :class:`Task`, checked against its outputs: a task is what decides how parity
    matches them, so a wrong one is refused here (exit 2), never skipped later. A detector declared as plain
    ``detection`` that also outputs ``masks`` is checked as instance masks: its masks are compared, not ignored."""
    from dataclasses import replace

    from deploybridge.parity.task import missing_outputs

    try:
        task = Task.parse(loaded.task)
    except ValueError as exc:
        raise DeployError(f"family '{family.name}' (plugin {family.owner}) declares {exc}") from None
    if task is Task.DETECTION and "masks" in loaded.output_names:
        task = Task.INSTANCE_MASKS
    lost = missing_outputs(task, loaded.output_names)
    if lost:
        raise DeployError(f"family '{family.name}' (plugin {family.owner}) declares task {task} but its model has no"
                          f" output {', '.join(lost)} (outputs: {', '.join(loaded.output_names)}); fix the plugin")
    return replace(loaded, task=task)
