"""Embeddings (N x D, re-id): each input's vector must point the same way; retrieval ranks by cosine similarity, so
a scale change that cosine ignores is not an error, a rotation is.

A batch is also a small retrieval: its even rows are queries, its odd rows the gallery (the fastreid family's
batches pair each query with a second view of the same identity). Every query must rank the gallery as the
reference does, except where two gallery entries' reference similarities lie within the similarity noise: either
order is right then. The noise comes from the output's absolute tolerance (two correct runtimes each within it): a
vector moved by at most sqrt(D) x margin changes a cosine by at most that over its norm, on each side.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np

BOUNDS = {"min_cosine_similarity": 0.999, "min_rank_agreement": 1.0}
TOP_K = 5  # ranks compared per query


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity of two N x D arrays (a zero vector against a non-zero one: 0; two zeros: 1)."""
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    both_zero, one_zero = (na == 0) & (nb == 0), (na == 0) ^ (nb == 0)  # a vector lost to zeros is an error
    return np.where(both_zero, 1.0, np.where(one_zero, 0.0, (a * b).sum(1) / np.maximum(na * nb, 1e-300)))


def similarity_matrix(queries: np.ndarray, gallery: np.ndarray) -> np.ndarray:
    q = queries / np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-300)
    g = gallery / np.maximum(np.linalg.norm(gallery, axis=1, keepdims=True), 1e-300)
    return q @ g.T


def rank_agreement(ref: np.ndarray, got: np.ndarray, margin: float, top_k: int = TOP_K) -> float | None:
    """The fraction of queries (even rows) whose top-k gallery ranking (odd rows) in ``got`` is the reference's, up
    to entries tied within the similarity noise; None for a batch too small to split."""
    if len(ref) < 4:
        return None
    s_ref = similarity_matrix(ref[0::2], ref[1::2])
    s_got = similarity_matrix(got[0::2], got[1::2])
    norms = np.linalg.norm(ref, axis=1)
    noise = 2.0 * np.sqrt(ref.shape[1]) * margin / max(float(norms.min()), 1e-300) if margin else 0.0
    agree = 0
    for row_ref, row_got in zip(s_ref, s_got):
        best = np.sort(row_ref)[::-1]
        order = np.argsort(-row_got, kind="stable")[:top_k]
        # position i holds an entry whose reference similarity is the reference's i-th best, within the noise
        agree += all(abs(row_ref[j] - best[i]) <= 2.0 * noise + 1e-12 for i, j in enumerate(order))
    return agree / len(s_ref)


def check(ref: np.ndarray, got: np.ndarray, bounds: Mapping[str, float], margin: float = 0.0) -> tuple[dict, list[str]]:
    if ref.shape != got.shape:
        return {"min_cosine_similarity": 0.0}, [f"embedding shape {list(got.shape)}, reference {list(ref.shape)}"]
    r = ref.reshape(len(ref), -1).astype(np.float64)
    g = got.reshape(len(got), -1).astype(np.float64)
    cosine = cosines(r, g)
    worst = float(cosine.min()) if len(cosine) else 1.0
    failures = [] if worst >= bounds["min_cosine_similarity"] else [f"cosine similarity as low as {worst:.5f}"]
    metrics = {"min_cosine_similarity": worst}
    ranks = rank_agreement(r, g, margin)
    if ranks is not None:
        metrics["rank_agreement"] = ranks
        if ranks < bounds.get("min_rank_agreement", 1.0):
            failures.append(f"{ranks:.0%} of {len(r[0::2])} queries rank the gallery as the reference does")
    return metrics, failures
