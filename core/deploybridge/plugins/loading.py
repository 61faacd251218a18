"""Which entry points a host loads: the selection switches, and the plugins a selected plugin's distribution
requires.

Environment switches:
  DEPLOYBRIDGE_PLUGINS=a,b          load only these entry points
  DEPLOYBRIDGE_DISABLE_PLUGINS=a,b  never load these
  DEPLOYBRIDGE_TRACE_PLUGINS=1      print every hook call and its result to stderr
"""
from __future__ import annotations

import os
import re
import sys
from importlib import metadata
from typing import Iterable

GROUP = "deploybridge"


def csv_env(name: str) -> list[str] | None:
    value = os.environ.get(name, "").strip()
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def tracing() -> bool:
    return os.environ.get("DEPLOYBRIDGE_TRACE_PLUGINS", "") not in ("", "0", "false")


def trace(message: str) -> None:
    print(f"[deploybridge trace] {message}", file=sys.stderr)


def entry_points() -> list:
    return list(metadata.entry_points(group=GROUP))


def dist_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def with_required_plugins(names: Iterable[str], entry_points: list) -> list[str]:
    """``names`` plus the plugins their distributions require, transitively: selecting ``solo`` (deploybridge-solo
    requires deploybridge-mmdet) loads ``mmdet`` too, so the rewrites and host steps solo's models rely on are there."""
    by_dist: dict[str, list] = {}
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
