"""Export-warning triage: every warning the exporter printed gets a verdict.

* ``fixed``: a rewrite that answers it (its ``fixes`` patterns match) was in force.
* ``fixable``: such a rewrite exists but was not in force; the verdict says how to enable it.
* ``harmless``: a registered :class:`~deploybridge.records.KnownWarning` (hook ``deploy_register_known_warnings``)
  matches its message and the module that warned; the verdict names it, its owner and why it does not matter.
* ``unknown``: nobody has looked at it. Listed, never hidden: verification decides.
"""
from __future__ import annotations

import re
from typing import Mapping, Sequence

from deploybridge.records import KnownWarning, Rewrite


def _fix_for(message: str, rewrites: Mapping[str, Rewrite]) -> Rewrite | None:
    return next((r for r in rewrites.values() if any(re.search(p, message) for p in r.fixes)), None)


def _known(warning: Mapping, known: Mapping[str, KnownWarning]) -> KnownWarning | None:
    """The first known warning (by order, name) for this message from this module. An entry with a module regex
    never matches a warning whose module is unknown: a verdict about one package's code is not given to code
    nobody could place."""
    module = warning.get("module", "")
    return next((k for k in known.values()
                 if re.search(k.pattern, warning["message"]) and (not k.module or (module and re.search(k.module, module)))), None)


def verdict(warning: Mapping, rewrites: Mapping[str, Rewrite], applied: Sequence[str],
            known: Mapping[str, KnownWarning]) -> dict:
    """The verdict fields for one captured warning (``category``, ``message``, ``source``, ``module``)."""
    fix = _fix_for(warning["message"], rewrites)
    if fix is not None and fix.name in applied:
        return {"verdict": "fixed", "rewrite": fix.name, "known": None, "owner": fix.owner, "why": fix.why}
    if fix is not None:
        lo, hi = fix.opsets
        how = (f"rewrite '{fix.name}' (plugin '{fix.owner}') fixes it but was not in force: it applies to"
               f" {'/'.join(fix.exporters)} exporter, opsets {lo}-{hi}; check --opset, --exporter and --no-rewrite")
        return {"verdict": "fixable", "rewrite": fix.name, "known": None, "owner": fix.owner, "why": how}
    match = _known(warning, known)
    if match is not None:
        return {"verdict": "harmless", "rewrite": None, "known": match.name, "owner": match.owner, "why": match.why}
    return {"verdict": "unknown", "rewrite": None, "known": None, "owner": None,
            "why": "no known warning matches it; verification decides whether it matters"}


def triage(warnings: Sequence[Mapping], rewrites: Mapping[str, Rewrite], applied: Sequence[str],
           known: Mapping[str, KnownWarning]) -> list[dict]:
    """Each captured warning with its verdict added; ``known`` is ``Host.known_warnings()``."""
    return [{**w, **verdict(w, rewrites, applied, known)} for w in warnings]
