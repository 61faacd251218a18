"""Export-warning triage: every warning the exporter printed gets a verdict.

* ``fixed``: a rewrite that answers it (its ``fixes`` patterns match) was in force.
* ``fixable``: such a rewrite exists but was not in force; the verdict says how to enable it.
* ``harmless``: listed in ``deploybridge_rewrites.known_warnings`` with the reason it does not matter.
* ``unknown``: nobody has looked at it. Listed, never hidden: verification decides.
"""
from __future__ import annotations

import re
from typing import Mapping, Sequence

from deploybridge.records import Rewrite


def _fix_for(message: str, rewrites: Mapping[str, Rewrite]) -> Rewrite | None:
    return next((r for r in rewrites.values() if any(re.search(p, message) for p in r.fixes)), None)


def verdict(warning: Mapping, rewrites: Mapping[str, Rewrite], applied: Sequence[str]) -> dict:
    """The verdict fields for one captured warning (``category``, ``message``, ``source``)."""
    from deploybridge_rewrites.known_warnings import HARMLESS

    message = warning["message"]
    fix = _fix_for(message, rewrites)
    if fix is not None and fix.name in applied:
        return {"verdict": "fixed", "rewrite": fix.name, "why": fix.why}
    if fix is not None:
        lo, hi = fix.opsets
        how = (f"rewrite '{fix.name}' (plugin '{fix.owner}') fixes it but was not in force: it applies to"
               f" {'/'.join(fix.exporters)} exporter, opsets {lo}-{hi}; check --opset, --exporter and --no-rewrite")
        return {"verdict": "fixable", "rewrite": fix.name, "why": how}
    for known in HARMLESS:
        if re.search(known.pattern, message) and re.search(known.source, warning.get("source", "")):
            return {"verdict": "harmless", "rewrite": None, "why": known.why}
    return {"verdict": "unknown", "rewrite": None, "why": "not in the triage table; verification decides whether it matters"}


def triage(warnings: Sequence[Mapping], rewrites: Mapping[str, Rewrite], applied: Sequence[str]) -> list[dict]:
    """Each captured warning with its verdict added."""
    return [{**w, **verdict(w, rewrites, applied)} for w in warnings]
