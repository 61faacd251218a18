"""Re-id retrieval metrics: rank-1 and mAP of query embeddings against a gallery, by cosine similarity (fastreid's
evaluator without its compiled parts: no camera filtering, since the synthetic set's query and gallery views are
different draws by construction)."""
from __future__ import annotations

import numpy as np


def rank1_and_map(query: np.ndarray, query_ids: np.ndarray, gallery: np.ndarray, gallery_ids: np.ndarray) -> dict:
    """{"rank1": fraction of queries whose nearest gallery entry is the same identity, "mAP": mean average
    precision over queries}; both on [0, 1]."""
    q = query / np.maximum(np.linalg.norm(query, axis=1, keepdims=True), 1e-12)
    g = gallery / np.maximum(np.linalg.norm(gallery, axis=1, keepdims=True), 1e-12)
    order = np.argsort(-(q @ g.T), axis=1, kind="stable")
    hits = gallery_ids[order] == query_ids[:, None]
    rank1 = float(hits[:, 0].mean())
    precisions = []
    for row in hits:
        found = np.flatnonzero(row)
        if len(found):
            precisions.append(float(np.mean((np.arange(len(found)) + 1) / (found + 1))))
    return {"rank1": rank1, "mAP": float(np.mean(precisions)) if precisions else 0.0}


def embed(run, images: np.ndarray, batch: int = 32) -> np.ndarray:
    """``run(N x 3 x H x W float32 0-255) -> N x D`` over uint8 N x H x W x 3 images, in batches."""
    out = []
    for start in range(0, len(images), batch):
        x = images[start:start + batch].transpose(0, 3, 1, 2).astype(np.float32)
        out.append(np.asarray(run(x), np.float32))
    return np.concatenate(out)
