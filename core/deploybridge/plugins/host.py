"""The plugin host: which plugins load, what each registered and who owns it, and every hook call isolated.

Entry points (group ``deploybridge``) are imported only when a host is made, never when the CLI module is imported.
Every hook call goes through the host one implementation at a time: a plugin that raises, registers something that
is not a record, takes a name another plugin owns or implements a hook that does not exist is marked
``failed: <reason>`` and unregistered entirely (none of its other hooks run, its records are withdrawn); the host
and every other plugin keep working. Failures during a command are reported on stderr, one line each.
"""
from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import pluggy

from deploybridge import hookspecs
from deploybridge.errors import DeployError, first_line
from deploybridge.plugins import loading
from deploybridge.plugins.contract import REGISTRATION_HOOKS, ContractError, check_record, hook_problems

BUILTIN = "builtin"
REWRITES_PLUGIN = "rewrites"  # the built-in op-rewrite library (rewrites/), always loaded
BUILTINS = (BUILTIN, REWRITES_PLUGIN)  # names no entry point may take
GROUP = loading.GROUP


@dataclass
class PluginStatus:
    name: str
    source: str
    version: str | None
    status: str  # "loaded", "failed: <reason>", "disabled", "not selected"
    hooks: list[str] = field(default_factory=list)

    @property
    def loaded(self) -> bool:
        return self.status == "loaded"


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def _dist_name(ep: Any) -> str:
    dist = getattr(ep, "dist", None)
    return dist.name if dist else ep.value


def _command_name(info: Any) -> str:
    """A Typer command's or group's name as the command line sees it."""
    callback = getattr(info, "callback", None)
    return info.name or (callback.__name__.replace("_", "-") if callback else "")


def _reason(exc: Exception, hook_name: str = "") -> str:
    """The one line a plugin is failed with: a broken contract says it all itself, anything else is quoted."""
    if isinstance(exc, ContractError):
        return str(exc)
    return f"{hook_name}: {first_line(exc)}" if hook_name else first_line(exc)


def availability(backend: Any) -> str | None:
    """``backend.unavailable()``, isolated: a plugin bug there is the backend's answer, not a crash of the command."""
    try:
        return backend.unavailable()
    except Exception as exc:
        return f"its unavailable() raised {first_line(exc)} (a bug in plugin '{backend.owner}')"


def _registry(hook_name: str, record: str) -> Callable[["Host"], dict[str, Any]]:
    def registry(self: "Host") -> dict[str, Any]:
        return self.collect(hook_name)

    registry.__doc__ = f"Every {record} registered, by name, sorted by (order, name) ({hook_name})."
    return registry


class Host:
    """A pluggy manager plus what it loaded; registries are collected on first use."""

    def __init__(self, only: Iterable[str] | None = None, report: Callable[[str], None] = _warn) -> None:
        self.pm = pluggy.PluginManager(GROUP)
        self.pm.add_hookspecs(hookspecs)
        self.statuses: dict[str, PluginStatus] = {}
        self._order: list[str] = []  # registration order: on a name clash the later plugin fails, never a built-in
        self._registries: dict[str, dict[str, Any]] = {}
        self._report = report
        import deploybridge_rewrites
        from deploybridge.plugins import builtin

        self._register(builtin, BUILTIN, "builtin", loading.dist_version("deploybridge"))
        self._register(deploybridge_rewrites, REWRITES_PLUGIN, "builtin", loading.dist_version("deploybridge-rewrites"))
        self._load_entry_points(list(only) if only else None)

    # -- loading --------------------------------------------------------
    def _register(self, module: Any, name: str, source: str, version: str | None) -> None:
        problems = hook_problems(module)
        if problems:
            raise ContractError("; ".join(problems))
        try:
            self.pm.register(module, name=name)  # pluggy refuses arguments a hookspec does not have
        except Exception:
            if self.pm.get_plugin(name) is not None:  # pluggy < 1.7 may have added some implementations already
                self.pm.unregister(name=name)
            raise
        self._order.append(name)
        hooks = sorted(h.name for h in self.pm.get_hookcallers(module) or [])
        self.statuses[name] = PluginStatus(name, source, version, "loaded", hooks)

    def _load_entry_points(self, only: list[str] | None) -> None:
        selected = only if only is not None else loading.csv_env("DEPLOYBRIDGE_PLUGINS")
        disabled = set(loading.csv_env("DEPLOYBRIDGE_DISABLE_PLUGINS") or [])
        entry_points = loading.entry_points()
        if selected is not None:
            selected = loading.with_required_plugins(selected, entry_points)
        found = {}
        for ep in entry_points:
            dist = getattr(ep, "dist", None)
            version = dist.version if dist else None
            source = f"entry point {ep.value} ({dist.name if dist else '?'})"
            if ep.name in BUILTINS or ep.name in found:
                self._refuse_name(ep, found, PluginStatus(f"{ep.name} ({_dist_name(ep)})", source, version, ""))
                continue
            found[ep.name] = ep
            if ep.name in disabled:
                self.statuses[ep.name] = PluginStatus(ep.name, source, version, "disabled")
            elif selected is not None and ep.name not in selected:
                self.statuses[ep.name] = PluginStatus(ep.name, source, version, "not selected")
            else:
                try:
                    self._register(ep.load(), ep.name, source, version)
                except Exception as exc:  # a broken plugin must not break the CLI
                    reason = _reason(exc)
                    self.statuses[ep.name] = PluginStatus(ep.name, source, version, f"failed: {reason}")
                    if loading.tracing():
                        loading.trace(f"plugin {ep.name} failed to load: {reason}")
        for name in only or []:
            if name not in BUILTINS:
                self._check_selected(name, found)

    def _refuse_name(self, ep: Any, found: dict, status: PluginStatus) -> None:
        """An entry point whose name a built-in or an earlier entry point has: it is listed under its own key; two
        plugins of one name both fail (which one was meant is unknowable), a built-in keeps its name."""
        if ep.name in BUILTINS:
            reason = f"the plugin name '{ep.name}' is reserved for deploybridge's own; rename the entry point"
        else:
            reason = (f"two plugins are named '{ep.name}' ({_dist_name(found[ep.name])} and {_dist_name(ep)});"
                      " uninstall one")
            if self.statuses[ep.name].loaded:
                self.fail(ep.name, reason)
            else:
                self.statuses[ep.name].status = f"failed: {reason}"
        status.status = f"failed: {reason}"
        self.statuses[status.name] = status

    def _check_selected(self, name: str, found: dict) -> None:
        if name not in found:
            known = ", ".join(sorted(found)) or "none"
            raise DeployError(f"unknown plugin '{name}' (installed: {known}); install deploybridge-{name} or see `deploy plugins`")
        status = self.statuses[name].status
        if status.startswith("failed"):
            raise DeployError(f"plugin '{name}' could not be loaded ({status[8:]}); run `deploy plugins` for details")
        if status == "disabled":
            raise DeployError(f"plugin '{name}' is disabled by DEPLOYBRIDGE_DISABLE_PLUGINS; remove it from that list")

    def fail(self, name: str, reason: str) -> None:
        """Mark plugin ``name`` failed and take it out entirely: unregistered, its records withdrawn."""
        self.statuses[name].status = f"failed: {reason}"
        if self.pm.get_plugin(name) is not None:
            self.pm.unregister(name=name)
        for registry in self._registries.values():
            for key in [k for k, record in registry.items() if record.owner == name]:
                del registry[key]
        self._report(f"plugin '{name}' failed and is disabled for this run: {reason}")

    # -- isolated hook calls ------------------------------------------------
    def _impls(self, hook_name: str, registration_order: bool = False) -> list:
        """The hook's implementations in pluggy's call order (last registered first, tryfirst/trylast honoured), or in
        registration order: built-ins first, so on a name clash the plugin that came later is the one that fails."""
        impls = getattr(self.pm.hook, hook_name).get_hookimpls()
        if registration_order:  # pluggy's own order puts trylast first: a plugin could jump ahead of the built-ins
            return sorted(impls, key=lambda impl: self._order.index(impl.plugin_name))
        return list(reversed(impls))

    def call_each(self, hook_name: str, firstresult: bool = False, **kwargs: Any) -> Any:
        """Call every implementation of ``hook_name`` on its own; one that raises fails its plugin, the rest run.
        ``firstresult``: stop at, and return, the first answer that is not None."""
        impls = self._impls(hook_name)
        if loading.tracing():
            loading.trace(f"call {hook_name}({', '.join(kwargs)}) -> {[i.plugin_name for i in impls]}")
        results = []
        for impl in impls:
            if not self.statuses[impl.plugin_name].loaded:
                continue  # failed earlier in this call
            try:
                result = impl.function(*[kwargs[a] for a in impl.argnames])
            except Exception as exc:  # the plugin is broken, not the host
                self.fail(impl.plugin_name, _reason(exc, hook_name))
                continue
            if result is not None:
                results.append(result)
                if firstresult:
                    break
        answer = (results[0] if results else None) if firstresult else results
        if loading.tracing():
            loading.trace(f"result {hook_name}: {answer!r}")
        return answer

    # -- registries -----------------------------------------------------
    def collect(self, hook_name: str) -> dict[str, Any]:
        """The records of one registration hook, sorted by (order, name).

        The first call collects every registration hook, so a plugin that fails in any of them is out of all of them,
        whichever command asks first."""
        if not self._registries:
            for name in REGISTRATION_HOOKS:
                self._registries[name] = self._collect_one(name)
        return self._registries[hook_name]

    def _collect_one(self, hook_name: str) -> dict[str, Any]:
        """Call one registration hook plugin by plugin, each in isolation."""
        kind, _ = REGISTRATION_HOOKS[hook_name]
        records: dict[str, Any] = {}
        for impl in self._impls(hook_name, registration_order=True):
            owner, added = impl.plugin_name, []
            if not self.statuses[owner].loaded:
                continue

            def register(record: Any, _owner: str = owner, _added: list = added) -> None:
                check_record(hook_name, record)
                if record.name in records:
                    raise ContractError(f"{hook_name}: {kind} '{record.name}' is already registered by plugin"
                                        f" '{records[record.name].owner}'; plugin '{_owner}' cannot register it too")
                records[record.name] = dataclasses.replace(record, owner=_owner)
                _added.append(record.name)

            try:
                impl.function(register)
            except Exception as exc:  # the plugin is broken, not the host
                for name in added:
                    del records[name]
                self.fail(owner, _reason(exc, hook_name))
            if loading.tracing():
                loading.trace(f"{hook_name} [{owner}] registered {added}")
        return dict(sorted(records.items(), key=lambda kv: (kv[1].order, kv[0])))

    # one accessor per registration hook: host.families(), host.rewrites(), ...
    families = _registry("deploy_register_families", "Family")
    rewrites = _registry("deploy_register_rewrites", "Rewrite")
    graph_passes = _registry("deploy_register_graph_passes", "GraphPass")
    backends = _registry("deploy_register_backends", "Backend")
    host_ops = _registry("deploy_register_host_ops", "HostOp")
    known_warnings = _registry("deploy_register_known_warnings", "KnownWarning")
    installers = _registry("deploy_register_installers", "Installer")

    # -- the other hooks ------------------------------------------------
    def detect_family(self, spec: Any) -> str | None:
        """deploy_detect_family: the first answer; a plugin that raises is failed and the next one asked."""
        return self.call_each("deploy_detect_family", firstresult=True, spec=spec)

    def notify_convert_finished(self, result: Any) -> None:
        """deploy_convert_finished: every listener is called, whatever the others do."""
        self.call_each("deploy_convert_finished", result=result)

    def register_commands(self, app: Any) -> None:
        """deploy_register_commands: a plugin that raises, or adds a command name already taken (by a built-in or an
        earlier plugin), has the commands it added taken back out and is failed."""
        owners = {_command_name(c): "deploybridge" for c in [*app.registered_commands, *app.registered_groups]}
        for impl in self._impls("deploy_register_commands", registration_order=True):
            plugin = impl.plugin_name
            if not self.statuses[plugin].loaded:
                continue
            before = (len(app.registered_commands), len(app.registered_groups))
            try:
                impl.function(app)
                added = [_command_name(c) for c in [*app.registered_commands[before[0]:], *app.registered_groups[before[1]:]]]
                taken = next((n for n in added if n in owners), None)
                if taken is not None:
                    raise ContractError(f"deploy_register_commands: command '{taken}' is already registered by"
                                        f" '{owners[taken]}'; plugin '{plugin}' cannot register it too")
            except Exception as exc:  # the plugin is broken, not the host
                del app.registered_commands[before[0]:]
                del app.registered_groups[before[1]:]
                self.fail(plugin, _reason(exc, "deploy_register_commands"))
                continue
            owners.update({name: plugin for name in added})

    def provided_by(self, plugin: str) -> dict[str, list[str]]:
        """What ``plugin`` registered, by kind."""
        out: dict[str, list[str]] = {}
        for hook_name, (kind, _) in REGISTRATION_HOOKS.items():
            names = [n for n, r in self.collect(hook_name).items() if r.owner == plugin]
            if names:
                out[kind] = names
        return out
