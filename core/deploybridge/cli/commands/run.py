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

    A keypoint artifact (Keypoint R-CNN) also draws each instance's keypoints joined by the COCO skeleton and
    writes them (x, y, score) per detection. A semantic segmentation artifact draws its class map instead (a translucent colour per class and a legend) and
    writes each class's share of the pixels; an embedder (re-id) writes each image's feature vector, and the cosine
    similarity of every pair of images. Needs only the artifact and its backend: neither the original framework nor
    the family plugin.
    """
    import json

    import numpy as np

    from deploybridge.runtime.draw import draw_detections, filter_detections, label_name
    from deploybridge.runtime.image_io import load_rgb
    from deploybridge.runtime.predict import any_predictor, class_thresholds

    pixels = {path: load_rgb(path) for path in images}  # every input is checked before anything is written
    manifest, predict, kind = any_predictor(folder, backend, allow_unverified=allow_unverified)
    categories = manifest.get("categories")
    out.mkdir(parents=True, exist_ok=True)
    if kind == "segmentation":
        return _segment(pixels, predict, categories, out, json_out)
    if kind == "embedding":
        return _embed(pixels, predict, out, json_out)
    thresholds = class_thresholds(manifest, threshold)
    everything = {}
    for path, image in pixels.items():
        det = filter_detections(predict(image), thresholds)
        draw_detections(image, det, categories).save(out / f"{path.stem}.png")
        records = [{"box_xyxy": [round(float(v), 2) for v in det["boxes"][k]], "score": round(float(det["scores"][k]), 4),
                    "label": int(det["labels"][k]), "name": label_name(int(det["labels"][k]), categories)}
                   for k in range(len(det["scores"]))]
        if det.get("keypoints") is not None:  # Keypoint R-CNN: x, y on the image and the heatmap score of each
            scores = det.get("keypoints_scores")
            for k, record in enumerate(records):
                record["keypoints"] = [[round(float(x), 2), round(float(y), 2)] + ([round(float(scores[k][j]), 3)] if scores is not None else [])
                                       for j, (x, y) in enumerate(np.asarray(det["keypoints"][k])[:, :2])]
        (out / f"{path.stem}.json").write_text(json.dumps({"image": str(path), "detections": records}, indent=2) + "\n")
        everything[str(path)] = records
    return _summarise(everything, out, json_out, "detections")


def _segment(pixels: dict, predict, categories, out: Path, json_out: bool) -> int:
    """Each image's class map drawn to OUT/<stem>.png; OUT/<stem>.json lists each class and its share of the pixels."""
    import json

    import numpy as np

    from deploybridge.runtime.draw import draw_class_map, label_name

    everything = {}
    for path, image in pixels.items():
        classes = predict(image)
        draw_class_map(image, classes, categories).save(out / f"{path.stem}.png")
        found, counts = np.unique(classes, return_counts=True)
        records = [{"label": int(k), "name": label_name(int(k), categories), "pixels": int(n),
                    "fraction": round(float(n) / classes.size, 6)} for k, n in sorted(zip(found, counts), key=lambda kn: -kn[1])]
        (out / f"{path.stem}.json").write_text(json.dumps({"image": str(path), "classes": records}, indent=2) + "\n")
        everything[str(path)] = records
    return _summarise(everything, out, json_out, "classes")


def _embed(pixels: dict, predict, out: Path, json_out: bool) -> int:
    """OUT/<stem>.json holds each image's vector; OUT/similarity.json the cosine similarity of every pair (re-id:
    the same identity scores highest)."""
    import json

    import numpy as np

    from deploybridge.cli import console
    from deploybridge.parity.tasks.embedding import similarity_matrix

    vectors = {str(path): np.asarray(predict(image), np.float64) for path, image in pixels.items()}
    for path, v in vectors.items():
        (out / f"{Path(path).stem}.json").write_text(json.dumps({"image": path, "features": [round(float(x), 6) for x in v],
                                                                  "norm": round(float(np.linalg.norm(v)), 6)}) + "\n")
    names, stacked = list(vectors), np.stack(list(vectors.values()))
    cos = similarity_matrix(stacked, stacked)  # the cosine embedding parity ranks by
    pairs = {a: {b: round(float(cos[i, j]), 6) for j, b in enumerate(names) if j != i} for i, a in enumerate(names)}
    (out / "similarity.json").write_text(json.dumps(pairs, indent=2) + "\n")
    if json_out:
        console.print_json(pairs)
        return 0
    for path, others in pairs.items():
        best = max(others.items(), key=lambda kv: kv[1]) if others else None
        nearest = f"; most similar: {Path(best[0]).name} (cosine {best[1]:.4f})" if best else ""
        console.out().print(f"{path}: {len(vectors[path])}-d features -> {out / (Path(path).stem + '.json')}{nearest}")
    return 0


def _summarise(everything: dict, out: Path, json_out: bool, what: str) -> int:
    """All images' records as JSON, or one line per image naming its picture."""
    from deploybridge.cli import console

    if json_out:
        console.print_json(everything)
    else:
        for path, records in everything.items():
            console.out().print(f"{path}: {len(records)} {what} -> {out / (Path(path).stem + '.png')}")
    return 0


def add_to(app: typer.Typer) -> None:
    app.command("run")(run)
