"""Cells are cached by what they depend on; a cell the machine killed is not a result and is not cached."""
from deploybridge.matrix.cache import cell_key, load, store
from deploybridge.matrix.cells import CellResult


def _cell(*args):
    return {"convert_args": list(args), "family": "torchvision"}


def test_the_key_follows_arguments_files_and_settings(tmp_path):
    weights = tmp_path / "w.pth"
    weights.write_bytes(b"one")
    key = cell_key(_cell("--model", "m", "--weights", str(weights)), {"bench_runs": 10})
    assert key == cell_key(_cell("--model", "m", "--weights", str(weights)), {"bench_runs": 10})
    assert key != cell_key(_cell("--model", "m", "--weights", str(weights), "--int8"), {"bench_runs": 10})
    assert key != cell_key(_cell("--model", "m", "--weights", str(weights)), {"bench_runs": 5})
    from deploybridge.matrix import cache

    cache._file_hash.cache_clear()
    weights.write_bytes(b"two")  # retrained: same path, other weights
    assert key != cell_key(_cell("--model", "m", "--weights", str(weights)), {"bench_runs": 10})


def test_results_are_stored_and_read_back_but_not_killed_ones(tmp_path):
    green = CellResult("a/b/onnxruntime-fp32", "a/b", "onnxruntime", "fp32", "green", parity="PASSED", key="k1")
    store(tmp_path, green)
    again = load(tmp_path, "k1")
    assert again.cached and again.parity == "PASSED" and again.status == "green"
    for reason in ("killed by SIGKILL", "timed out after 5 s", "out of memory at 2 GiB", "worker died: x"):
        store(tmp_path, CellResult("c", "c", "onnxruntime", "fp32", "red", reason, key="k2"))
        assert load(tmp_path, "k2") is None, reason
    assert load(tmp_path, "missing") is None


def test_the_key_follows_the_source_a_developer_edits(tmp_path, monkeypatch):
    """An edit to deploybridge or a plugin keeps the version number; the source hash still changes the key."""
    from deploybridge.matrix import cache

    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "a.py").write_text("x = 1\n")
    (package / "sub" / "b.py").write_text("y = 2\n")
    before = cache.source_hash((str(package),))
    (package / "notes.txt").write_text("not source")
    assert cache.source_hash((str(package),)) == before
    (package / "sub" / "b.py").write_text("y = 3\n")
    assert cache.source_hash((str(package),)) != before
    # the cell's key takes it: the installed source, hashed once per family
    assert len(cache.source("torchvision")) == 16 and cache.source("torchvision") != cache.source("detr")
    monkeypatch.setattr(cache, "source", lambda family: "edited")
    edited = cell_key(_cell("--model", "m"), {})
    monkeypatch.undo()
    assert cell_key(_cell("--model", "m"), {}) != edited
