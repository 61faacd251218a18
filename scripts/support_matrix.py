"""Regenerate the torchvision support table in docs/support.md from a real run: convert and verify each model.

    flock /tmp/db-heavy.lock .venv/bin/python scripts/support_matrix.py [--opset 17] [--models a,b] [--size 192]

By default every detection, keypoint and segmentation builder of torchvision (the 18 of 0.29) at its catalogue
size (320², SSD300 300²), with seeded random weights; ``--models`` picks others (the shapes models use their committed
checkpoint and ``--eval shapes``). Each row is printed as it is measured; the table replaces the text between
``<!-- torchvision-matrix -->`` markers in docs/support.md (``--no-write``: print only). ~20 minutes on 2 CPU cores.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- torchvision-matrix -->", "<!-- /torchvision-matrix -->"
HEADER = ["| model | size | weights | opset | parity | max abs error per output | detections per input |"
          " task metric (worst input) | AP PyTorch → ONNX Runtime (shapes val) | export s | verify s |",
          "|---|---|---|---|---|---|---|---|---|---|---|"]


def zoo_models() -> list[str]:
    import torchvision.models as tvm

    return sorted(set(tvm.list_models(module=tvm.detection)) | set(tvm.list_models(module=tvm.segmentation)))


def _task_metric(details: dict) -> str:
    worst: dict[str, float] = {}
    for check in details["inputs"]:
        for key, value in (check.get("task") or {}).get("metrics", {}).items():
            if key in ("matched_fraction", "min_class_iou", "pixel_agreement"):
                worst[key] = min(worst.get(key, 1.0), value)
            elif key in ("max_keypoint_deviation_px",):
                worst[key] = max(worst.get(key, 0.0), value)
    return ", ".join(f"{k} {v:.3g}" for k, v in worst.items()) or "—"


def row(model: str, size: int | None, opset: int, checkpoint: bool, tmp: Path) -> str:
    out = tmp / model
    weights = ["--eval", "shapes"] if checkpoint else ["--random-weights"]
    shape = ["--input-shape", f"1,3,{size},{size}"] if size else []
    cmd = [sys.executable, "-m", "deploybridge", "convert", "--plugin", "torchvision", "--model", model, *weights,
           *shape, "--opset", str(opset), "--out", str(out), "--json"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1200)
    except subprocess.TimeoutExpired:
        return f"| {model} | {size or ''} | | {opset} | ✘ timed out after 1200 s | | | | | | |"
    if proc.returncode not in (0, 1):
        last = (proc.stderr.strip().splitlines() or ["no message"])[-1].replace("|", "/")
        return f"| {model} | {size or ''} | | {opset} | ✘ exit {proc.returncode}: {last} | | | | | | |"
    m = json.loads(proc.stdout)
    details = m["verification"]["details"]
    worst: dict[str, float] = {}
    for check in details["inputs"]:
        for c in check["outputs"]:
            worst[c["name"]] = max(worst.get(c["name"], 0.0), c["max_abs"] or 0.0)
    errs = ", ".join(f"{n} {v:.2g} (atol {m['tolerances'][n]['atol']:.2g})" for n, v in worst.items())
    counts = [c["detections_ref"] for c in details["inputs"] if c["detections_ref"] is not None]
    report = json.loads((out / "report.json").read_text())
    ev = m.get("evaluation")
    ap = ", ".join(f"{metric} {ev['ap']['pytorch'][metric]:.3f} → {ev['ap']['onnxruntime'][metric]:.3f}"
                   for metric in ev["ap"]["pytorch"]) if ev else ""
    passed = m["verification"]["passed"] and (not ev or ev["passed"])
    stated = m["preprocessing"]["shape"][2]
    return (f"| {model} | {stated}² | {'committed checkpoint' if ev else 'random'} | {opset} |"
            f" {'✔ passed' if passed else '✘ FAILED'} | {errs} | {'/'.join(map(str, counts)) or '—'} |"
            f" {_task_metric(details)} | {ap or '—'} | {m['export']['seconds']:.1f} | {report['stages_seconds']['verify']:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--opset", type=int, default=17)
    parser.add_argument("--models", default="", help="comma-separated; default: torchvision's 18 detection/segmentation builders")
    parser.add_argument("--size", type=int, default=None, help="square input size for every model; default: the catalogue's")
    parser.add_argument("--no-write", action="store_true", help="print the table, leave docs/support.md alone")
    args = parser.parse_args()
    import torch
    import onnxruntime
    from deploybridge_torchvision.catalogue import CATALOGUE

    models = args.models.split(",") if args.models else zoo_models()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for model in models:
            size = None if CATALOGUE[model].fixed_size else args.size  # SSD: only its own size
            rows.append(row(model, size, args.opset, bool(CATALOGUE[model].checkpoint), Path(tmp)))
            print(rows[-1], flush=True)
    cores = os.cpu_count()
    table = "\n".join([
        BEGIN,
        f"Generated by `scripts/support_matrix.py` on {date.today().isoformat()}, {platform.machine()} CPU ({cores} cores),"
        f" torch {torch.__version__}, onnxruntime {onnxruntime.__version__}, backend ONNX Runtime CPU, legacy exporter,"
        " 3 verification inputs, seeded random weights made non-degenerate (`--random-weights`; shapes models: committed"
        " checkpoint and `--eval shapes`). Max abs error: the largest |PyTorch - ONNX Runtime| per output over the 3 inputs"
        " (detections paired by matching); atol: the default 1e-4, widened to 5x the measured float32-vs-float64 noise"
        " floor where larger. Task metric: the worst input's matched fraction, keypoint deviation or class IoU.",
        "",
        *HEADER,
        *rows,
        END,
    ])
    print(table)
    if not args.no_write:
        doc = ROOT / "docs" / "support.md"
        text = doc.read_text()
        if BEGIN in text and END in text:
            text = text[:text.index(BEGIN)] + table + text[text.index(END) + len(END):]
        else:
            text = text.rstrip("\n") + "\n\n## torchvision, every builder\n\n" + table + "\n"
        doc.write_text(text)


if __name__ == "__main__":
    main()
