"""deploy rewrites."""
from __future__ import annotations

import typer


def rewrites(json_out: bool = typer.Option(False, "--json", help="Print as JSON.")) -> int:
    """List every op rewrite and graph pass with its owner plugin, kind, target and opsets."""
    from rich.markup import escape
    from rich.table import Table

    from deploybridge.cli import console
    from deploybridge.plugins import Host

    host = Host()
    rws = [{"name": r.name, "owner": r.owner, "kind": r.kind, "target": r.target, "exporters": list(r.exporters),
            "opsets": list(r.opsets), "backends": list(r.backends), "why": r.why, "fixes_warnings": list(r.fixes),
            "families": list(r.families)} for r in host.rewrites().values()]
    passes = [{"name": p.name, "owner": p.owner, "order": p.order, "families": list(p.families), "backends": list(p.backends),
               "description": p.description} for p in host.graph_passes().values()]
    if json_out:
        console.print_json({"rewrites": rws, "graph_passes": passes})
        return 0
    out = console.out()
    table = Table(title="op rewrites", title_justify="left")
    for col in ("name", "owner", "kind", "target", "exporters", "opsets", "families", "why"):
        table.add_column(col, no_wrap=col == "name")  # names are what users copy into --no-rewrite
    for r in rws:
        table.add_row(r["name"], r["owner"], r["kind"], r["target"], ",".join(r["exporters"]), f"{r['opsets'][0]}–{r['opsets'][1]}",
                      ",".join(r["families"]) or "all", escape(r["why"]))
    out.print(table if rws else "no op rewrites registered")
    table = Table(title="graph passes", title_justify="left")
    for col in ("name", "owner", "order", "applies to", "description"):
        table.add_column(col)
    for p in passes:
        table.add_row(p["name"], p["owner"], str(p["order"]), ("every family" if "*" in p["families"] else ",".join(p["families"])) or "on request (--pass)", escape(p["description"]))
    out.print(table if passes else "no graph passes registered")
    return 0


def add_to(app: typer.Typer) -> None:
    app.command("rewrites")(rewrites)
