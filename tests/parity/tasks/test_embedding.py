"""Embedding parity: cosine per vector, and the batch's query/gallery ranking (parity/tasks/embedding.py)."""
import numpy as np

from deploybridge.parity.conclusive import inconclusive_reason
from deploybridge.parity.tasks.embedding import BOUNDS, check, rank_agreement
from deploybridge.records import OutputSpec


def _near_tie(gap: float):
    """A query (row 0) whose two gallery entries (rows 1, 3) it resembles to within ``gap`` in cosine."""
    rng = np.random.default_rng(0)
    q = rng.normal(size=64)
    q /= np.linalg.norm(q)
    other = rng.normal(size=64)
    other -= other @ q * q
    other /= np.linalg.norm(other)
    at = lambda c: c * q + np.sqrt(1 - c * c) * other  # noqa: E731  cosine c with the query
    ref = np.stack([q, at(0.80), rng.normal(size=64), at(0.80 - gap)])
    got = ref.copy()
    got[3] = at(0.80 + gap)  # the second entry now ranks first
    return ref, got


def test_a_swap_cosine_cannot_see_is_a_rank_failure():
    ref, got = _near_tie(5e-3)
    metrics, failures = check(ref, got, BOUNDS, margin=0.0)
    assert metrics["min_cosine_similarity"] > 0.999  # every vector still points the same way ...
    assert metrics["rank_agreement"] < 1.0 and failures  # ... but the first query ranks its gallery otherwise
    assert "queries rank the gallery" in failures[0]


def test_entries_tied_within_the_noise_may_swap():
    ref, got = _near_tie(1e-5)
    assert rank_agreement(ref, got, margin=0.0) < 1.0
    # noise from an element error of 1e-4 on unit vectors of 64 values: 2 * 8 * 1e-4 = 1.6e-3 per side
    assert rank_agreement(ref, got, margin=1e-4) == 1.0
    assert check(ref, got, BOUNDS, margin=1e-4)[1] == []


def test_a_batch_too_small_to_split_has_no_ranking():
    rng = np.random.default_rng(1)
    ref = rng.normal(size=(2, 16))
    metrics, failures = check(ref, ref, BOUNDS)
    assert "rank_agreement" not in metrics and not failures


def test_embeddings_that_all_point_one_way_are_inconclusive():
    rng = np.random.default_rng(2)
    base = rng.normal(size=(1, 32))
    collapsed = [{"features": base + 1e-6 * rng.normal(size=(4, 32))} for _ in range(3)]
    reason = inconclusive_reason([OutputSpec("features")], collapsed, "embedding")
    assert reason and "all point the same way" in reason
    varied = [{"features": rng.normal(size=(4, 32))} for _ in range(3)]
    assert inconclusive_reason([OutputSpec("features")], varied, "embedding") is None
