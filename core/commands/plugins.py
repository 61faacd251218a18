"""deploy plugins."""
from __future__ import annotations

import typer


def plugins(json_out: bool = typer.Option(False, "--json", help="Print as JSON.")) -> int:
    """List plugins: version, status (loaded / failed: reason / disabled), hooks and what each provides."""
    from rich.table import Table

    from deploybridge import console
    from deploybridge.plugins import Host

    host = Host()
    rows = []
    for status in host.statuses.values():
        provides = host.provided_by(status.name) if status.loaded else {}
        rows.append({"name": status.name, "version": status.version, "status": status.status, "source": status.source,
                     "hooks": status.hooks, "provides": provides})
    # provided_by may have marked a plugin failed while collecting; refresh statuses
    for row in rows:
        row["status"] = host.statuses[row["name"]].status
    backends = {n: (b.unavailable() or "available") for n, b in host.backends().items()}
    if json_out:
        console.print_json({"plugins": rows, "backends": backends})
        return 0
    table = Table(title="deploybridge plugins", title_justify="left")
    for col in ("plugin", "version", "status", "hooks", "provides"):
        table.add_column(col)
    for row in rows:
        status = row["status"]
        style = "green" if status == "loaded" else ("red" if status.startswith("failed") else "dim")
        provides = "; ".join(f"{k}: {', '.join(v)}" for k, v in row["provides"].items())
        table.add_row(row["name"], row["version"] or "", f"[{style}]{status}[/]", "\n".join(row["hooks"]), provides)
    out = console.out()
    out.print(table)
    for name, state in backends.items():
        out.print(f"backend {name}: {state}")
    return 0


def add_to(app: typer.Typer) -> None:
    app.command("plugins")(plugins)
