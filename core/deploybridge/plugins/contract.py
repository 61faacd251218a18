"""The contract a plugin must keep, checked by the host: hooks that exist, and records of the right type.

A plugin that breaks it is marked failed with a line naming the plugin, the hook and what is wrong; the host and
every other plugin keep working (docs/plugin-author-guide.md, "What the host guarantees").
"""
from __future__ import annotations

import re
from typing import Any

from deploybridge import hookspecs, records
from deploybridge.errors import did_you_mean

# registration hook -> (what it registers, for messages and `deploy plugins`; the record type register() takes)
REGISTRATION_HOOKS: dict[str, tuple[str, type]] = {
    "deploy_register_families": ("family", records.Family),
    "deploy_register_rewrites": ("rewrite", records.Rewrite),
    "deploy_register_graph_passes": ("graph pass", records.GraphPass),
    "deploy_register_backends": ("backend", records.Backend),
    "deploy_register_host_ops": ("host op", records.HostOp),
    "deploy_register_known_warnings": ("known warning", records.KnownWarning),
    "deploy_register_installers": ("installer", records.Installer),
}

HOOK_NAMES = frozenset(n for n in dir(hookspecs) if n.startswith("deploy_"))
_IMPL_MARK = "deploybridge_impl"  # the attribute pluggy's HookimplMarker("deploybridge") sets


class ContractError(Exception):
    """A plugin broke the contract; the message is the one line shown for it."""


def hook_problems(plugin: Any) -> list[str]:
    """What is wrong with the hooks a plugin object defines: an implementation of a hook that does not exist (a
    misspelling), or a function named like a hook but not marked with ``@hookimpl`` (pluggy would skip it silently)."""
    problems = []
    for name in sorted(dir(plugin)):
        value = getattr(plugin, name, None)
        if not callable(value):
            continue
        opts = getattr(value, _IMPL_MARK, None)
        marked = opts is not None
        if marked and name not in HOOK_NAMES:
            problems.append(f"implements unknown hook '{name}'{did_you_mean(name, HOOK_NAMES, n=1)}")
        elif marked and (opts.get("wrapper") or opts.get("hookwrapper")):
            problems.append(f"implements {name} as a wrapper; the host calls each implementation on its own, so"
                            " deploybridge hooks take plain implementations only")
        elif not marked and name in HOOK_NAMES:
            problems.append(f"defines {name} without @hookimpl, so it would never be called")
    return problems


def check_record(hook_name: str, record: Any) -> None:
    """What ``register(record)`` must be given: the hook's record type, a name, an integer order, and regexes that
    compile (they are searched later, in every conversion, where a bad one would break the host)."""
    kind, record_type = REGISTRATION_HOOKS[hook_name]
    if not isinstance(record, record_type):
        raise ContractError(f"{hook_name} called register() with {type(record).__name__}"
                            f" {str(record)[:60]!r}, expected a deploybridge.records.{record_type.__name__}")
    if not isinstance(record.name, str) or not record.name:
        raise ContractError(f"{hook_name}: a {kind} needs a non-empty string name, got {record.name!r}")
    if isinstance(record.order, bool) or not isinstance(record.order, int):
        raise ContractError(f"{hook_name}: {kind} '{record.name}' has order {record.order!r}; it must be an integer")
    for field, pattern in _regexes(record):
        try:
            re.compile(pattern)
        except (re.error, TypeError) as exc:
            raise ContractError(f"{hook_name}: {kind} '{record.name}' has an invalid regex in {field}"
                                f" ({pattern!r}: {exc})") from None


def _regexes(record: Any) -> list[tuple[str, Any]]:
    if isinstance(record, records.KnownWarning):
        return [("pattern", record.pattern), ("module", record.module)]
    if isinstance(record, records.Rewrite):
        return [("fixes", p) for p in record.fixes]
    return []
