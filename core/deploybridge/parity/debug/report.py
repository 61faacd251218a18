"""What `deploy debug` writes: debug.json (stable, docs/debugging.md), errors.png (error against depth) and
model-explorer.json (Model Explorer's node data: per-node error to overlay on the graph)."""
from __future__ import annotations

import json
import math
from pathlib import Path

from deploybridge.parity.debug.search import DebugResult

FORMAT = "deploybridge-debug/1"
REPORT, PICTURE, NODE_DATA = "debug.json", "errors.png", "model-explorer.json"


def to_json(result: DebugResult) -> dict:
    first = result.first
    return {
        "format": FORMAT,
        "artifact": result.folder,
        "backend": result.backend,
        "reference": result.reference,
        "precision": result.precision,
        "input": result.input,
        "diverged": result.diverged,
        "first_divergence": first.to_json() if first else None,
        "compared": len(result.errors),
        "nodes": result.nodes,
        "unmapped_nodes": result.unmapped_nodes,
        "worst_layers": result.worst_own,
        "seconds": result.seconds,
        "tensors": [e.to_json() for e in result.errors],
    }


def _finite(x: float) -> float:
    return x if math.isfinite(x) else 1e30


def node_data(result: DebugResult, graph: str) -> dict:
    """Model Explorer node data: each compared node's max relative error, coloured green (none) to red (beyond
    tolerance); keyed by node name (Model Explorer also accepts output tensor names)."""
    results = {}
    for e in result.errors:
        value = _finite(e.max_rel)
        if e.node not in results or value > results[e.node]["value"]:
            results[e.node] = {"value": value}
    return {graph: {"results": results, "gradient": [{"stop": 0, "bgColor": "#22c55e"}, {"stop": 0.5, "bgColor": "#eab308"},
                                                     {"stop": 1, "bgColor": "#ef4444"}]}}


def picture(result: DebugResult, path: Path, rtol: float) -> None:
    """Max relative error (log scale) against the producing node's depth, the tolerance as a line, the first
    divergence circled: Pillow only, no plotting library."""
    from PIL import Image, ImageDraw

    width, height, left, bottom, top, right = 900, 420, 70, 50, 30, 20
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    points = [(e.depth, max(_finite(e.max_rel), 1e-12), e.diverged) for e in result.errors]
    depth = max([p[0] for p in points] + [1])
    lo, hi = -9, 1  # log10 range shown: 1e-9 .. 10

    def xy(d: float, err: float) -> tuple[float, float]:
        y = (min(max(math.log10(err), lo), hi) - lo) / (hi - lo)
        return left + d / depth * (width - left - right), height - bottom - y * (height - top - bottom)

    draw.rectangle([left, top, width - right, height - bottom], outline="black")
    for p in range(lo, hi + 1, 2):
        _, y = xy(0, 10.0 ** p)
        draw.line([left - 4, y, left, y], fill="black")
        draw.text((8, y - 6), f"1e{p}", fill="black")
    _, y = xy(0, rtol)
    draw.line([left, y, width - right, y], fill="#ef4444", width=1)
    draw.text((width - right - 150, y - 14), f"tolerance {rtol:g} x scale", fill="#ef4444")
    for d, err, bad in points:
        x, y = xy(d, err)
        draw.ellipse([x - 2, y - 2, x + 2, y + 2], fill="#ef4444" if bad else "#2563eb")
    if result.first is not None:
        x, y = xy(result.first.error.depth, max(_finite(result.first.error.max_rel), 1e-12))
        draw.ellipse([x - 8, y - 8, x + 8, y + 8], outline="black", width=2)
        draw.text((min(x + 10, width - 260), max(y - 20, top)), f"first: {result.first.error.op} {result.first.error.module}"[:60], fill="black")
    draw.text((left, height - bottom + 10), f"node depth in the graph (0 .. {depth}); {len(points)} tensors against {result.reference}", fill="black")
    draw.text((left, 8), "max abs error / tensor scale", fill="black")
    image.save(path)


def write(result: DebugResult, out: Path, graph_name: str, rtol: float) -> list[str]:
    """The three report files into ``out`` (created); their names."""
    out.mkdir(parents=True, exist_ok=True)
    (out / REPORT).write_text(json.dumps(to_json(result), indent=1))
    (out / NODE_DATA).write_text(json.dumps(node_data(result, graph_name), indent=1))
    picture(result, out / PICTURE, rtol)
    return [REPORT, PICTURE, NODE_DATA]
