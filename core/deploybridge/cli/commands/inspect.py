"""deploy inspect."""
from __future__ import annotations

from pathlib import Path

import typer


def inspect(
    path: Path = typer.Argument(..., help="An .onnx file or an artifact folder."),
    json_out: bool = typer.Option(False, "--json", help="Print as JSON."),
    trt_lint: bool = typer.Option(False, "--trt-lint", help="Also lint for the TensorRT 10 ONNX parser (no TensorRT needed):"
                                  " unsupported ops, data-dependent shapes, dynamic inputs, INT64 narrowing, If/Loop."),
) -> int:
    """Show an ONNX model's inputs/outputs, opset, op histogram (subgraphs included) and metadata.

    With --trt-lint, list what TensorRT's ONNX parser would refuse or struggle with, node by node, and the
    deploybridge pass or rewrite that fixes each finding. The exit code stays 0; --json has the counts.
    """
    from rich.table import Table

    from deploybridge.cli import console
    from deploybridge.convert import onnx_io

    if path.is_dir():
        path = path / "model.onnx"
    info = onnx_io.describe(path)
    if trt_lint:
        from deploybridge.lint import tensorrt as lint_mod

        info["trt_lint"] = lint_mod.to_json(lint_mod.lint(onnx_io.load_model(path, load_external=False)))
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
    if trt_lint:
        out.print(_lint_table(info["trt_lint"]))
    return 0


def _lint_table(report: dict):
    from rich.markup import escape
    from rich.table import Table

    counts = report["counts"]
    title = (f"TensorRT {report['tensorrt']} lint: {counts['error']} error(s), {counts['warning']} warning(s),"
             f" {counts['info']} note(s)")
    table = Table(title=title, title_justify="left", caption=f"operator table: {report['table']}", caption_justify="left")
    for col in ("severity", "rule", "node", "op", "detail", "fix"):
        table.add_column(col)
    style = {"error": "bold red", "warning": "yellow", "info": "dim"}
    for f in report["findings"]:
        table.add_row(f"[{style[f['severity']]}]{f['severity']}[/]", f["rule"], escape(f["node"]), escape(f["op"]),
                      escape(f["detail"]), escape(f["fix"]))
    return table


def add_to(app: typer.Typer) -> None:
    app.command("inspect")(inspect)
