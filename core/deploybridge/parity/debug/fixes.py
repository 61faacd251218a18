"""The registered rewrites and graph passes whose target matches the first divergence's op or module.

A rewrite matches by op when its target's function name is the op's name (``torch.ops.torchvision.roi_align`` and
``RoiAlign``; case and underscores ignored) or consecutive words of its name spell it (``roi_align_aligned``), and by
scope when its target names the class of the diverging module or of a module around it (``...roi_heads.RoIHeads``).
A graph pass matches when consecutive words of its name spell the op (``fix_if_branch_types`` and ``If``). Each suggestion says whether it was in force in this export: one that was
is a suspect, one that was not is a candidate fix.
"""
from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any, Mapping


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _names_op(name: str, op: str) -> bool:
    """Whether consecutive words of ``name`` (snake_case) spell ``op``: roi_align_aligned names RoiAlign,
    fix_if_branch_types names If, simplify does not."""
    words, key = [w for w in name.lower().split("_") if w], _norm(op)
    return any("".join(words[i:j]) == key for i in range(len(words)) for j in range(i + 1, len(words) + 1))


def _target_names(target: str) -> tuple[str, list[str]]:
    """(the function/op the target names, the class names in it)."""
    parts = re.split(r"::|\.", target)
    classes = [p for p in parts if p[:1].isupper()]
    function = next((p for p in reversed(parts) if p and p not in ("default", "forward") and not p.startswith("__")), "")
    return function, classes


def _scope_classes(module: str | None, modules: Mapping[str, object]) -> list[tuple[str, str]]:
    """(qualified name, class name) of the module and every module around it, innermost first."""
    if module is None:
        return []
    parts = module.split(".") if module else []
    names = [".".join(parts[:k]) for k in range(len(parts), -1, -1)]
    return [(n, type(modules[n]).__name__) for n in names if n in modules]


def _status(rewrite, manifest: Mapping[str, Any]) -> tuple[bool, str]:
    applied = {r["name"]: r for r in manifest.get("rewrites") or []}
    export = manifest.get("export") or {}
    exporter, opset = export.get("exporter", ""), export.get("opset", 0)
    if rewrite.name in applied:
        calls = applied[rewrite.name].get("calls")
        return True, f"in force in this export ({calls} call(s)): check it" if calls else "in force but never called"
    if not rewrite.applies(exporter, opset):
        return False, f"not applied: it does not apply to the {exporter} exporter at opset {opset}"
    return False, (f"not applied in this export (disabled with --no-rewrite, or not selected for this family or"
                   f" backend): re-convert with it")


def suggest(host, manifest: Mapping[str, Any], model, first, modules: Mapping[str, object]) -> list[dict]:
    """Suggestions for ``first`` (a FirstDivergence), op matches first."""
    ops = dict.fromkeys([first.error.op, *[row["op"] for row in first.between]])
    wanted_ops = {_norm(op): op for op in ops}
    classes = _scope_classes(first.error.module, modules)
    found: list[dict] = []
    registered = host.rewrites()
    # a rewrite that was in force when the artifact was made but is not registered now (its plugin is not loaded)
    gone = [SimpleNamespace(name=r["name"], owner=r.get("owner", "?"), target=r.get("target", ""), why="",
                            applies=lambda *_: True) for r in manifest.get("rewrites") or [] if r["name"] not in registered]
    for rewrite in [*registered.values(), *gone]:
        function, target_classes = _target_names(rewrite.target)
        why = next((f"op {op}" for key, op in wanted_ops.items() if key and (key == _norm(function) or _names_op(rewrite.name, op))), None)
        if why is None:
            why = next((f"module {name or '(the model)'} ({cls})" for name, cls in classes if cls in target_classes), None)
        if why is None:
            continue
        applied, status = _status(rewrite, manifest)
        found.append({"kind": "rewrite", "name": rewrite.name, "owner": rewrite.owner, "target": rewrite.target,
                      "matches": why, "applied": applied, "status": status, "why": rewrite.why})
    ran = set(manifest.get("passes") or [])
    for graph_pass in host.graph_passes().values():
        why = next((f"op {op}" for op in wanted_ops.values() if _names_op(graph_pass.name, op)), None)
        if why:
            found.append({"kind": "graph pass", "name": graph_pass.name, "owner": graph_pass.owner, "target": "",
                          "matches": why, "applied": graph_pass.name in ran,
                          "status": "ran in this export: check it" if graph_pass.name in ran else "not run in this export",
                          "why": graph_pass.description})
    found.sort(key=lambda f: (not f["matches"].startswith("op"), f["applied"]))
    return found
