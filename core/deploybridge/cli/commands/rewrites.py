"""deploy rewrites [NAME]: the registered op rewrites and graph passes, one line each; NAME shows one in full."""
from __future__ import annotations

import re
import textwrap
from typing import Optional

import typer


def _rewrite_record(r) -> dict:
    return {"name": r.name, "owner": r.owner, "kind": r.kind, "target": r.target, "exporters": list(r.exporters),
            "opsets": list(r.opsets), "backends": list(r.backends), "why": r.why, "fixes_warnings": list(r.fixes),
            "families": list(r.families)}


def _pass_record(p) -> dict:
    return {"name": p.name, "owner": p.owner, "order": p.order, "families": list(p.families), "backends": list(p.backends),
            "description": p.description}


def _applies_to(families: list[str]) -> str:
    return ("every family" if "*" in families else ",".join(families)) or "on request (--pass)"


def shorten_target(target: str, width: int) -> str:
    """``target`` in at most ``width`` characters: "…" and the whole trailing names that fit (the class or function a
    reader looks for is at the end), or the last characters when even the last name is longer."""
    if len(target) <= width:
        return target
    tail = ""
    for part in reversed(re.split(r"(?<=\.)|(?<=::)", target)):  # after "." and "::", kept
        if len(part) + len(tail) + 1 > width:
            break
        tail = part + tail
    return "…" + (tail or target[-(width - 1):])


ROW = ("name", "owner", "kind", "target", "exporters", "opsets")


def _rewrite_rows(rws: list[dict], width: int) -> list[tuple[str, ...]]:
    """The op rewrites table's rows; the target column gets what the others leave of ``width`` (3 characters per
    column go to borders and padding)."""
    rows = [(r["name"], r["owner"], r["kind"], r["target"], ",".join(r["exporters"]), f"{r['opsets'][0]}–{r['opsets'][1]}")
            for r in rws]
    others = sum(max(len(row[k]) for row in [ROW, *rows]) for k in range(len(ROW)) if ROW[k] != "target")
    room = max(12, width - others - 3 * len(ROW) - 1)
    return [(*row[:3], shorten_target(row[3], room), *row[4:]) for row in rows]


def _lists(rws: list[dict], passes: list[dict], width: int):
    """One line per record: the long texts (why, description, a long target) are in full in `deploy rewrites NAME`,
    so that the names, which users copy into --no-rewrite and --pass, never wrap."""
    from rich.markup import escape
    from rich.table import Table

    rewrites = Table(title="op rewrites", title_justify="left", caption="deploy rewrites NAME: why, whole target, fixed warnings, families",
                     caption_justify="left")
    names = max((len(r["name"]) for r in rws), default=4)
    for col in ROW:  # a narrow window shortens any column but the names; exporters past "legacy,dynamo" end in …
        rewrites.add_column(col, no_wrap=True, min_width=names if col == "name" else None,
                            max_width=13 if col == "exporters" else None)
    for row in _rewrite_rows(rws, width):
        rewrites.add_row(*map(escape, row))
    graph_passes = Table(title="graph passes", title_justify="left", caption="deploy rewrites NAME: what it does",
                         caption_justify="left")
    names = max((len(p["name"]) for p in passes), default=4)
    for col in ("name", "owner", "order", "applies to"):
        graph_passes.add_column(col, no_wrap=True, min_width=names if col == "name" else None)
    for p in passes:
        graph_passes.add_row(*map(escape, (p["name"], p["owner"], str(p["order"]), _applies_to(p["families"]))))
    return (rewrites if rws else "no op rewrites registered"), (graph_passes if passes else "no graph passes registered")


def _fields(record: dict, is_rewrite: bool) -> list[tuple[str, str]]:
    if is_rewrite:
        return [("op rewrite", f"{record['name']} (plugin '{record['owner']}')"), ("kind", record["kind"]),
                ("target", record["target"]), ("exporters", ", ".join(record["exporters"])),
                ("opsets", f"{record['opsets'][0]}–{record['opsets'][1]}"), ("backends", ", ".join(record["backends"]) or "all"),
                ("families", ", ".join(record["families"]) or "all"),
                ("fixes warnings", "; ".join(record["fixes_warnings"]) or "none"), ("why", record["why"])]
    return [("graph pass", f"{record['name']} (plugin '{record['owner']}')"), ("order", str(record["order"])),
            ("applies to", _applies_to(record["families"])), ("backends", ", ".join(record["backends"]) or "all"),
            ("description", record["description"])]


def detail_lines(fields: list[tuple[str, str]], width: int) -> list[str]:
    """``key  value`` lines, values wrapped at ``width`` under themselves (plain text: nothing padded to the width)."""
    indent = max(len(key) for key, _ in fields) + 2
    lines = []
    for key, value in fields:
        lines += textwrap.wrap(value, width=max(20, width), initial_indent=key.ljust(indent), subsequent_indent=" " * indent,
                               break_long_words=False, break_on_hyphens=False) or [key]
    return lines


def _unknown(name: str, names: list[str]):
    from deploybridge.errors import DeployError, did_you_mean

    return DeployError(f"no rewrite or graph pass named '{name}'{did_you_mean(name, names, cutoff=0.5)};"
                       " `deploy rewrites` lists them")


def rewrites(name: Optional[str] = typer.Argument(None, help="A rewrite or graph pass to show in full (why, fixed warnings, families)."),
             json_out: bool = typer.Option(False, "--json", help="Print as JSON, every field.")) -> int:
    """List every op rewrite and graph pass with its owner plugin, kind, target and opsets; NAME shows one in full."""
    from deploybridge.cli import console
    from deploybridge.plugins import Host

    host = Host()
    rws = [_rewrite_record(r) for r in host.rewrites().values()]
    passes = [_pass_record(p) for p in host.graph_passes().values()]
    if name is not None:
        found = [(r, True) for r in rws if r["name"] == name] + [(p, False) for p in passes if p["name"] == name]
        if not found:
            raise _unknown(name, [r["name"] for r in rws + passes])
        record, is_rewrite = found[0]
        if json_out:
            console.print_json({"rewrite" if is_rewrite else "graph_pass": record})
        else:
            out = console.out()
            for line in detail_lines(_fields(record, is_rewrite), out.width):
                out.print(line, markup=False, emoji=False)
        return 0
    if json_out:
        console.print_json({"rewrites": rws, "graph_passes": passes})
        return 0
    out = console.out()
    for table in _lists(rws, passes, out.width):
        out.print(table)
    return 0


def add_to(app: typer.Typer) -> None:
    app.command("rewrites")(rewrites)
