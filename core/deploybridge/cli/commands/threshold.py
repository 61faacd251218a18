"""deploy threshold."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def threshold(
    folder: Path = typer.Argument(..., help="Detector artifact folder."),
    dataset: str = typer.Option("shapes", "--dataset", "-d", help="COCO annotations json (images relative to it) or 'shapes'."),
    iou: float = typer.Option(0.5, "--iou", min=0.05, max=0.95, help="IoU for a detection to count as a true positive."),
    backend: Optional[str] = typer.Option(None, "--backend", "-b", help="Backend (default: the artifact's)."),
    write: bool = typer.Option(True, "--write/--dry-run", help="Store the chosen thresholds in the manifest for `deploy run`."),
    allow_unverified: bool = typer.Option(False, "--allow-unverified", help="Use an artifact whose conversion failed"
                                          " verification (refused otherwise, exit 2); a warning says so."),
    json_out: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> int:
    """Find the score thresholds that maximise F1 on a dataset with ground truth, overall and per class."""
    import json

    import numpy as np
    from rich.table import Table

    from deploybridge.convert import artifact
    from deploybridge.cli import console
    from deploybridge.evaluation import ap_delta
    from deploybridge.evaluation import thresholds
    from deploybridge.evaluation.coco_ap import category_ids, model_label
    from deploybridge.runtime.draw import label_name
    from deploybridge.runtime.image_io import load_rgb
    from deploybridge.runtime.predict import artifact_predictor

    manifest, predict = artifact_predictor(folder, backend, allow_unverified=allow_unverified)
    with ap_delta.resolve_dataset(dataset, int(manifest["inputs"][0]["shape"][2])) as annotations:
        coco = json.loads(annotations.read_text())
        # detections and ground truth compared in the dataset's category ids; thresholds stored by the model's labels
        to_ids = category_ids(manifest.get("preprocessing"), coco["categories"])
        to_label = model_label(manifest.get("preprocessing"), coco["categories"])
        by_image: dict[int, list] = {}
        for a in coco["annotations"]:
            by_image.setdefault(a["image_id"], []).append(a)
        images = []
        for img in coco["images"]:
            det = predict(load_rgb(annotations.parent / img["file_name"]))
            gts = by_image.get(img["id"], [])
            gt_boxes = np.array([[a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2], a["bbox"][1] + a["bbox"][3]] for a in gts],
                                np.float32).reshape(-1, 4)
            images.append({**det, "labels": to_ids(det["labels"]), "gt_boxes": gt_boxes, "gt_labels": np.array([a["category_id"] for a in gts], int)})
        result = thresholds.search(images, iou)
    stored = {"dataset": dataset, "iou": iou, "overall": result["overall"].to_json(),
              "per_class": {str(to_label(c)): p.to_json() for c, p in result["per_class"].items()}}
    if write:
        artifact.update_manifest(folder, thresholds=stored)
    if json_out:
        console.print_json(stored)
        return 0
    table = Table(title=f"F1-optimal score thresholds at IoU {iou} ({len(images)} images)", title_justify="left")
    for col in ("class", "threshold", "F1", "precision", "recall", "TP", "FP", "FN"):
        table.add_column(col)
    rows = [("overall", result["overall"])] + [(label_name(to_label(c), manifest.get("categories")), p)
                                               for c, p in result["per_class"].items()]
    for name, p in rows:
        table.add_row(name, f"{p.threshold:.3f}", f"{p.f1:.3f}", f"{p.precision:.3f}", f"{p.recall:.3f}",
                      str(p.true_positives), str(p.false_positives), str(p.false_negatives))
    console.out().print(table)
    console.out().print(f"thresholds {'stored in ' + str(Path(folder) / 'manifest.json') if write else 'not stored (--dry-run)'}")
    return 0


def add_to(app: typer.Typer) -> None:
    app.command("threshold")(threshold)
