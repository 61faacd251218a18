"""Retrieval accuracy and speed of re-id artifacts side by side (``deploy reid-eval DIR...``): rank-1 and mAP on the
synthetic re-id set's query/gallery split, each artifact fed exactly as its manifest says, and its time per image
measured in the same run (a float32 and an int8 artifact compared fairly on one noisy machine)."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Sequence

from deploybridge.errors import DeployError


def evaluate_artifact(folder: Path, repeats: int = 3, allow_unverified: bool = False) -> dict:
    from deploybridge.runtime.predict import artifact_runner

    from deploybridge_fastreid import reid_shapes
    from deploybridge_fastreid.retrieval import embed, rank1_and_map

    manifest, run = artifact_runner(Path(folder), allow_unverified=allow_unverified)
    if manifest.get("task") != "embedding":
        raise DeployError(f"{folder} holds a {manifest.get('task') or 'task-less'} model; reid-eval takes embedders")
    shape = manifest["inputs"][0]["shape"]
    name, out = manifest["inputs"][0]["name"], manifest["outputs"][0]["name"]
    batch = shape[0] if isinstance(shape[0], int) and shape[0] > 0 else 32  # a fixed batch is fed as exported
    q, qid, g, gid = reid_shapes.query_gallery((int(shape[2]), int(shape[3])))
    step = lambda x: run({name: x})[out]  # noqa: E731
    fixed = lambda images: embed(step, _padded(images, batch), batch)[:len(images)]  # noqa: E731
    metrics = rank1_and_map(fixed(q), qid, fixed(g), gid)
    best = float("inf")
    for _ in range(repeats):  # the fastest of a few passes over the query images: the least disturbed by the machine
        start = time.perf_counter()
        fixed(q)
        best = min(best, time.perf_counter() - start)
    precision = (manifest.get("precision") or {}).get("mode", "fp32")
    return {"artifact": str(folder), "backend": manifest["backend"]["name"], "precision": precision,
            "rank1": metrics["rank1"], "mAP": metrics["mAP"], "ms_per_image": 1000 * best / len(q),
            "queries": len(q), "gallery": len(g), "verified": bool(manifest.get("verified"))}


def _padded(images, batch: int):
    import numpy as np

    extra = (-len(images)) % batch
    return np.concatenate([images, images[:extra]]) if extra else images


def evaluate(folders: Sequence[Path], allow_unverified: bool = False) -> list[dict]:
    """Every artifact's row (an unverified one only with ``allow_unverified``, and marked so)."""
    rows = [evaluate_artifact(f, allow_unverified=allow_unverified) for f in folders]
    first = rows[0]["ms_per_image"]
    for row in rows:
        row["speed_vs_first"] = first / row["ms_per_image"]
        row["rank1_drop_points"] = 100 * (rows[0]["rank1"] - row["rank1"])
    return rows
