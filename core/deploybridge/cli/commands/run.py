"""deploy run."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer


def run(
    folder: Path = typer.Argument(..., help="Artifact folder written by `deploy convert`."),
    images: List[Path] = typer.Argument(..., help="Image files (PNG, JPEG, ...)."),
    out: Path = typer.Option(Path("predictions"), "--out", "-o", help="Folder for the drawn images and JSON files."),
    threshold: Optional[float] = typer.Option(None, "--threshold", help="Score threshold (default: the ones `deploy threshold` stored, else 0.5)."),
    backend: Optional[str] = typer.Option(None, "--backend", "-b", help="Backend (default: the artifact's)."),
    allow_unverified: bool = typer.Option(False, "--allow-unverified", help="Use an artifact whose conversion failed"
                                          " verification (refused otherwise, exit 2); a warning says so."),
    json_out: bool = typer.Option(False, "--json", help="Print all detections as JSON."),
) -> int:
    """Run an artifact on image files with its pre/post-processing; write drawn images and detections JSON.

    Needs only the artifact and its backend: neither the original framework nor the family plugin.
    """
    import json

    from deploybridge.cli import console
    from deploybridge.runtime.draw import draw_detections, filter_detections, label_name
    from deploybridge.runtime.image_io import load_rgb
    from deploybridge.runtime.predict import artifact_predictor, class_thresholds

    pixels = {path: load_rgb(path) for path in images}  # every input is checked before anything is written
    manifest, predict = artifact_predictor(folder, backend, allow_unverified=allow_unverified)
    thresholds = class_thresholds(manifest, threshold)
    categories = manifest.get("categories")
    out.mkdir(parents=True, exist_ok=True)
    everything = {}
    for path, image in pixels.items():
        det = filter_detections(predict(image), thresholds)
        draw_detections(image, det, categories).save(out / f"{path.stem}.png")
        records = [{"box_xyxy": [round(float(v), 2) for v in det["boxes"][k]], "score": round(float(det["scores"][k]), 4),
                    "label": int(det["labels"][k]), "name": label_name(int(det["labels"][k]), categories)}
                   for k in range(len(det["scores"]))]
        (out / f"{path.stem}.json").write_text(json.dumps({"image": str(path), "detections": records}, indent=2) + "\n")
        everything[str(path)] = records
    if json_out:
        console.print_json(everything)
    else:
        for path, records in everything.items():
            console.out().print(f"{path}: {len(records)} detections -> {out / (Path(path).stem + '.png')}")
    return 0


def add_to(app: typer.Typer) -> None:
    app.command("run")(run)
