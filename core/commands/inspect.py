"""deploy inspect."""
from __future__ import annotations

from pathlib import Path

import typer


def inspect(
    path: Path = typer.Argument(..., help="An .onnx file or an artifact folder."),
    json_out: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> int:
    """Show an ONNX model's inputs/outputs, opset, op histogram (subgraphs included) and metadata."""
    from rich.table import Table

    from deploybridge import console, onnx_io

    if path.is_dir():
        path = path / "model.onnx"
    info = onnx_io.describe(path)
    if json_out:
        console.print_json(info)
        return 0
    out = console.out()
    out.print(f"[bold]{info['path']}[/]  opset {info['opset']}  ir {info['ir_version']}  {info['producer']}  {info['nodes']} nodes")
    io = Table(title="inputs / outputs (in order)", title_justify="left")
    for col in ("", "name", "dtype", "shape"):
        io.add_column(col)
    for kind in ("inputs", "outputs"):
        for v in info[kind]:
            io.add_row(kind[:-1], v["name"], v["dtype"], "x".join(map(str, v["shape"])))
    out.print(io)
    ops = Table(title="ops", title_justify="left")
    ops.add_column("op")
    ops.add_column("count", justify="right")
    for op, n in info["ops"].items():
        ops.add_row(op, str(n))
    out.print(ops)
    for key, value in info["metadata"].items():
        out.print(f"{key} = {value}")
    return 0


def add_to(app: typer.Typer) -> None:
    app.command("inspect")(inspect)
