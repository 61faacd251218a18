"""Embeddings (N x D, re-id): each input's vector must point the same way; retrieval ranks by cosine similarity, so
a scale change that cosine ignores is not an error, a rotation is."""
from __future__ import annotations

from typing import Mapping

import numpy as np

BOUNDS = {"min_cosine_similarity": 0.999}


def check(ref: np.ndarray, got: np.ndarray, bounds: Mapping[str, float]) -> tuple[dict, list[str]]:
    if ref.shape != got.shape:
        return {"min_cosine_similarity": 0.0}, [f"embedding shape {list(got.shape)}, reference {list(ref.shape)}"]
    r = ref.reshape(len(ref), -1).astype(np.float64)
    g = got.reshape(len(got), -1).astype(np.float64)
    nr, ng = np.linalg.norm(r, axis=1), np.linalg.norm(g, axis=1)
    both_zero, one_zero = (nr == 0) & (ng == 0), (nr == 0) ^ (ng == 0)  # a vector lost to zeros is an error
    cosine = np.where(both_zero, 1.0, np.where(one_zero, 0.0, (r * g).sum(1) / np.maximum(nr * ng, 1e-300)))
    worst = float(cosine.min()) if len(cosine) else 1.0
    failures = [] if worst >= bounds["min_cosine_similarity"] else [f"cosine similarity as low as {worst:.5f}"]
    return {"min_cosine_similarity": worst}, failures
