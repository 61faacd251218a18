"""parity/debug/bisect.py: large graphs read in passes, the first divergence still found exactly."""


def test_two_pass_finds_the_exact_first_divergence_reading_a_sample_and_what_it_depends_on():
    """A chain t0 -> t1 -> ... and a side branch s0.. feeding nothing: the error starts at t637; the sample's first
    diverging tensor depends on it, and the pass over what it is computed from finds t637 exactly."""
    from deploybridge.parity.debug.bisect import two_pass
    from deploybridge.parity.debug.divergence import TensorError

    names = [f"{p}{k}" for k in range(500) for p in ("t", "s")]  # interleaved: the side branch sits between samples
    order = {n: i for i, n in enumerate(names)}
    reads = []

    def compare(subset):
        reads.append(len(subset))
        return [TensorError(n, n, "Op", None, "", "", order[n], [1], 0.0, 0.0, 1.0, 0.0,
                            n[0] == "t" and int(n[1:]) >= 337) for n in subset]

    def upstream(tensor, stop):  # the chain before ``tensor``, back to the first agreeing tensor on it
        k, found = int(tensor[1:]), []
        while k > 0 and f"t{k - 1}" not in stop:
            k -= 1
            found.append(f"t{k}")
        return found[::-1]

    errors = two_pass(names, compare, upstream, limit=100)
    assert min((e for e in errors if e.diverged), key=lambda e: e.depth).tensor == "t337"
    assert max(reads) <= 100
    assert len(two_pass(names[:90], compare, upstream, limit=100)) == 90  # small: one pass, every tensor
