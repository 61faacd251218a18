"""`deploy debug` results: the first divergence in words, then the compared tensors around it."""
from __future__ import annotations

from pathlib import Path

from deploybridge.cli import console


def _num(x) -> str:
    return "-" if x is None else f"{x:.3g}"


def print_debug(result, report_dir: Path, shown: int) -> None:
    from rich.table import Table

    out = console.out()
    errors = result.errors
    first = result.first
    centre = errors.index(first.error) if first else len(errors)
    rows = errors[max(0, centre - shown // 2): centre + shown // 2 + 1] if first else errors[-shown:]
    table = Table(title=f"{len(errors)} tensors compared with {result.reference} ({result.input});"
                        f" {len(rows)} shown, all in {report_dir / 'debug.json'}")
    for column in ("depth", "op", "module", "max abs", "max rel", "cosine", ""):
        table.add_column(column, overflow="fold")
    for e in rows:
        status = "[bold red]FIRST[/]" if first and e is first.error else "[red]diverges[/]" if e.diverged else "ok"
        table.add_row(str(e.depth), e.op, e.module if e.module is not None else "(no module)", _num(e.max_abs),
                      _num(e.max_rel), _num(e.cosine), status + (f" {e.note}" if e.note else ""))
    out.print(table)
    if result.worst_own:
        out.print(f"layers adding the most error at {result.precision} (own error = its error minus its inputs'):")
        for row in result.worst_own[:10]:
            extra = f", {row['overflow']} value(s) overflow" if row["overflow"] else ""
            out.print(f"  {row['op']} {row['node']} ({row['module'] or 'no module'}): own {row['own_error']:.3g}{extra}",
                      markup=False, highlight=False)
    if first is None:
        out.print(f"nothing diverges: every one of {len(errors)} compared tensors is within {result.reference}'s"
                  f" tolerance ({result.unmapped_nodes} of {result.nodes} nodes name no PyTorch module)")
        return
    e = first.error
    where = (f"module {e.module} ({e.module_type})" if e.module is not None else
             "a node that names no PyTorch module (made by a graph pass or constant folding): its scope is unknown")
    lines = [f"first divergence: {e.op} node {e.node}", f"  from {where}",
             f"  source: {e.source or 'unknown'}",
             f"  error: max abs {_num(e.max_abs)}, {_num(e.max_rel)} of its scale (tolerance {_num(e.tolerance)}){'; ' + e.note if e.note else ''}",
             f"  its inputs' error: {_num(first.input_error)} ({', '.join(first.inputs[:3]) or 'none compared'})"
             f" -> {'it creates the error' if first.created else 'it inherits the error and grows it'}"]
    if len(first.between) > 1:
        ops = ", ".join(dict.fromkeys(r["op"] for r in first.between))
        lines.append(f"  computed by {len(first.between)} nodes not compared on their own ({ops}): the error starts in one of them")
    if first.body_modules:
        lines.append(f"  inside its If/Loop bodies (not readable on their own): {', '.join(first.body_modules[:6])}")
    for fix in first.fixes:
        lines.append(f"  {fix['kind']} {fix['name']} ({fix['owner']}) matches {fix['matches']}: {fix['status']}")
    if not first.fixes:
        lines.append("  no registered rewrite or pass targets this op or module (`deploy rewrites` lists them)")
    for line in lines:
        out.print(line, markup=False, highlight=False)
