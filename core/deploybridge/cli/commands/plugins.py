"""deploy plugins."""
from __future__ import annotations

import typer


def plugins(json_out: bool = typer.Option(False, "--json", help="Print as JSON.")) -> int:
    """List plugins: version, status (loaded / failed: reason / disabled), hooks and what each provides."""
    from rich.table import Table

    from deploybridge.cli import console
    from deploybridge.plugins import Host, availability

    host = Host()
    provides = {name: host.provided_by(name) for name, status in host.statuses.items() if status.loaded}
    rows = [{"name": s.name, "version": s.version, "status": s.status, "source": s.source, "hooks": s.hooks,
             "provides": provides.get(s.name, {}) if s.loaded else {}} for s in host.statuses.values()]
    backends = {n: (availability(b) or "available") for n, b in host.backends().items()}
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
