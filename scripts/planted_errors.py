"""The table in docs/verification.md: each planted error (deploybridge.parity.planted), in float32 and float16, on
a Mask R-CNN (probability masks) and a SOLOv2 (boolean masks, no boxes), against the checks that caught it.

    .venv/bin/python scripts/planted_errors.py > /tmp/table.md

Runs the real CLI: `deploy convert` once per model and precision, then `deploy verify --plant ERROR --json`.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from deploybridge.parity.planted import NEEDS, PLANTED, caught_by

DEPLOY = [sys.executable, "-m", "deploybridge"]
MODELS = {
    "torchvision shapes_maskrcnn": ["--plugin", "torchvision", "--model", "shapes_maskrcnn"],
    "solo solov2_shapes": ["--plugin", "solo", "--model", "solov2_shapes"],
}


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*DEPLOY, *args], capture_output=True, text=True)


def main() -> int:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for model, args in MODELS.items():
            for precision, flags in (("float32", []), ("float16", ["--fp16"])):
                out = Path(tmp) / f"{len(rows)}"
                converted = run("convert", *args, *flags, "--out", str(out), "--json")
                if converted.returncode:
                    print(f"conversion failed: {model} {precision}: {converted.stderr[-500:]}", file=sys.stderr)
                    return 1
                outputs = {o["name"] for o in json.loads(converted.stdout)["outputs"]}
                for error in PLANTED:
                    if NEEDS[error] not in outputs:
                        rows.append((error, model, precision, "n/a", f"no `{NEEDS[error]}` output"))
                        continue
                    verified = run("verify", str(out), "--plant", error, "--json")
                    verdict = {0: "PASSED (missed)", 1: "FAILED (caught)"}.get(verified.returncode, f"exit {verified.returncode}")
                    caught = caught_by(json.loads(verified.stdout)) if verified.stdout.strip() else [verified.stderr.strip()]
                    rows.append((error, model, precision, verdict, "; ".join(caught)))
    print("| planted error | model | precision | verification | caught by |")
    print("|---|---|---|---|---|")
    for error, model, precision, verdict, caught in rows:
        print(f"| {PLANTED[error]} | {model} | {precision} | {verdict} | {caught} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
