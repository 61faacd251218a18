"""Plugin host: which plugins load, what each registered, and who owns it.

Entry points (group ``deploybridge``) are imported only when a host is made,
never when the CLI module is imported, and each in its own try/except: a
broken plugin is reported as ``failed: <reason>`` and everything else works.

Environment switches:
  DEPLOYBRIDGE_PLUGINS=a,b          load only these entry points
  DEPLOYBRIDGE_DISABLE_PLUGINS=a,b  never load these
  DEPLOYBRIDGE_TRACE_PLUGINS=1      print every hook call and its result to stderr
"""
from __future__ import annotations

import dataclasses
import os
import re
import sys
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Iterable

import pluggy

from deploybridge import hookspecs
from deploybridge.errors import DeployError

BUILTIN = "builtin"
REWRITES = "rewrites"  # the built-in op-rewrite library (rewrites/), always loaded
GROUP = "deploybridge"

# registration hook -> what it registers (for messages and `deploy plugins`)
REGISTRATION_HOOKS = {
    "deploy_register_families": "family",
    "deploy_register_rewrites": "rewrite",
    "deploy_register_graph_passes": "graph pass",
    "deploy_register_backends": "backend",
    "deploy_register_host_ops": "host op",
    "deploy_register_known_warnings": "known warning",
}


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


def _csv_env(name: str) -> list[str] | None:
    value = os.environ.get(name, "").strip()
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def _tracing() -> bool:
    return os.environ.get("DEPLOYBRIDGE_TRACE_PLUGINS", "") not in ("", "0", "false")


def _trace(message: str) -> None:
    print(f"[deploybridge trace] {message}", file=sys.stderr)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


class Host:
    """A pluggy manager plus what it loaded; registries are collected on first use."""

    def __init__(self, only: Iterable[str] | None = None) -> None:
        self.pm = pluggy.PluginManager(GROUP)
        self.pm.add_hookspecs(hookspecs)
        self.statuses: dict[str, PluginStatus] = {}
        self._registries: dict[str, dict[str, Any]] = {}
        if _tracing():
            self.pm.add_hookcall_monitoring(
                lambda name, impls, kw: _trace(f"call {name}({', '.join(kw)}) -> {[i.plugin_name for i in impls]}"),
                lambda outcome, name, impls, kw: _trace(f"result {name}: {outcome.get_result()!r}"),
            )
        import deploybridge_rewrites
        from deploybridge.plugins import builtin

        self._register(builtin, BUILTIN, "builtin", _dist_version("deploybridge"))
        self._register(deploybridge_rewrites, REWRITES, "builtin", _dist_version("deploybridge-rewrites"))
        self._load_entry_points(list(only) if only else None)

    # -- loading --------------------------------------------------------
    def _register(self, module: Any, name: str, source: str, version: str | None) -> None:
        self.pm.register(module, name=name)
        hooks = sorted(h.name for h in self.pm.get_hookcallers(module) or [])
        self.statuses[name] = PluginStatus(name, source, version, "loaded", hooks)

    def _load_entry_points(self, only: list[str] | None) -> None:
        selected = only if only is not None else _csv_env("DEPLOYBRIDGE_PLUGINS")
        disabled = set(_csv_env("DEPLOYBRIDGE_DISABLE_PLUGINS") or [])
        entry_points = list(metadata.entry_points(group=GROUP))
        if selected is not None:
            selected = with_required_plugins(selected, entry_points)
        found = {}
        for ep in entry_points:
            dist = getattr(ep, "dist", None)
            version = dist.version if dist else None
            source = f"entry point {ep.value} ({dist.name if dist else '?'})"
            if ep.name in self.statuses or ep.name in found:
                self.statuses.setdefault(ep.name, PluginStatus(ep.name, source, version, ""))
                self.statuses[ep.name].status = f"failed: two plugins are named '{ep.name}'"
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
                    self.statuses[ep.name] = PluginStatus(ep.name, source, version, f"failed: {_one_line(exc)}")
                    if _tracing():
                        _trace(f"plugin {ep.name} failed to load: {_one_line(exc)}")
        if only:
            for name in only:
                if name in (BUILTIN, REWRITES):
                    continue
                if name not in found:
                    known = ", ".join(sorted(found)) or "none"
                    raise DeployError(
                        f"unknown plugin '{name}' (installed: {known}); install deploybridge-{name} or see `deploy plugins`"
                    )
                status = self.statuses[name].status
                if status.startswith("failed"):
                    raise DeployError(f"plugin '{name}' could not be loaded ({status[8:]}); run `deploy plugins` for details")
                if status == "disabled":
                    raise DeployError(f"plugin '{name}' is disabled by DEPLOYBRIDGE_DISABLE_PLUGINS; remove it from that list")

    # -- registries -----------------------------------------------------
    def collect(self, hook_name: str) -> dict[str, Any]:
        """Call one registration hook plugin by plugin; return records sorted by (order, name)."""
        if hook_name in self._registries:
            return self._registries[hook_name]
        kind = REGISTRATION_HOOKS[hook_name]
        records: dict[str, Any] = {}
        caller = getattr(self.pm.hook, hook_name)
        for impl in reversed(caller.get_hookimpls()):  # registration order
            owner = impl.plugin_name

            def register(record: Any, _owner: str = owner) -> None:
                record = dataclasses.replace(record, owner=_owner)
                if record.name in records:
                    first = records[record.name].owner
                    raise DeployError(
                        f"{kind} '{record.name}' is registered twice: by plugin '{first}' and by plugin '{_owner}';"
                        f" disable one with DEPLOYBRIDGE_DISABLE_PLUGINS"
                    )
                records[record.name] = record

            before = set(records)
            try:
                impl.function(register)
            except DeployError:
                raise
            except Exception as exc:  # the plugin is broken, not the host
                self.statuses[owner].status = f"failed: {hook_name}: {_one_line(exc)}"
                for name in set(records) - before:
                    del records[name]
            if _tracing():
                _trace(f"{hook_name} [{owner}] registered {sorted(set(records) - before)}")
        result = dict(sorted(records.items(), key=lambda kv: (kv[1].order, kv[0])))
        self._registries[hook_name] = result
        return result

    def families(self) -> dict[str, Any]:
        return self.collect("deploy_register_families")

    def rewrites(self) -> dict[str, Any]:
        return self.collect("deploy_register_rewrites")

    def graph_passes(self) -> dict[str, Any]:
        return self.collect("deploy_register_graph_passes")

    def backends(self) -> dict[str, Any]:
        return self.collect("deploy_register_backends")

    def host_ops(self) -> dict[str, Any]:
        return self.collect("deploy_register_host_ops")

    def known_warnings(self) -> dict[str, Any]:
        return self.collect("deploy_register_known_warnings")

    def provided_by(self, plugin: str) -> dict[str, list[str]]:
        """What ``plugin`` registered, by kind."""
        out: dict[str, list[str]] = {}
        for hook_name, kind in REGISTRATION_HOOKS.items():
            names = [n for n, r in self.collect(hook_name).items() if r.owner == plugin]
            if names:
                out[kind] = names
        return out


def _normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def with_required_plugins(names: Iterable[str], entry_points: list) -> list[str]:
    """``names`` plus the plugins their distributions require, transitively: selecting ``solo`` (deploybridge-solo
    requires deploybridge-mmdet) loads ``mmdet`` too, so the rewrites and host steps solo's models rely on are there."""
    by_dist = {}
    for ep in entry_points:
        if getattr(ep, "dist", None):
            by_dist.setdefault(_normalised(ep.dist.name), []).append(ep)
    by_name = {ep.name: ep for ep in entry_points}
    chosen, todo = list(names), list(names)
    while todo:
        ep = by_name.get(todo.pop())
        for requirement in (ep.dist.requires or []) if ep is not None and getattr(ep, "dist", None) else []:
            if ";" in requirement and "extra" in requirement.split(";", 1)[1]:
                continue  # an optional extra is not a dependency
            dist = _normalised(re.split(r"[\s<>=!~;\[(]", requirement.strip(), maxsplit=1)[0])
            for dep in by_dist.get(dist, []):
                if dep.name not in chosen:
                    chosen.append(dep.name)
                    todo.append(dep.name)
    return chosen


def _dist_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None
