"""The measuring parts of `deploy bench`: interleaved timing, the statistics and ratios, which files a backend loads,
and peak RSS that belongs to the child process alone."""
import json
import subprocess
import sys

import pytest

from deploybridge.runtime.bench import EAGER, BenchRow, Candidate, interleave, loaded_files, summarise


def _candidate(name, times=(), log=None):
    c = Candidate(BenchRow(name, "ok"), run=(lambda: log.append(name)) if log is not None else None)
    c.times_ms = list(times)
    return c


def test_interleaved_run_by_run():
    import time

    log = []
    a, b = _candidate("a", log=log), _candidate("b", log=log)
    start = time.perf_counter()
    interleave([a, b], warmup=2, runs=3, pause_s=0.01)
    assert log == ["a", "b"] * 5  # warm-up rounds, then each run: every runtime once, in turn
    assert len(a.times_ms) == len(b.times_ms) == 3  # warm-up not timed
    assert time.perf_counter() - start >= 10 * 0.01  # a pause after every run, warm-up included
    assert max(a.times_ms + b.times_ms) < 5  # and outside the timed span


def test_statistics_and_speedup():
    eager = _candidate(EAGER, [30.0, 10.0, 20.0, 40.0, 50.0])
    fast = _candidate("fast", [5.0, 4.0, 6.0, 100.0, 5.0])  # one outlier moves p90, not the median
    untimed = _candidate("missing")
    summarise([fast, eager, untimed], batch=2)  # the eager row need not come first
    assert (eager.row.median_ms, eager.row.p10_ms, eager.row.p90_ms) == (30.0, 14.0, 46.0)
    assert (fast.row.median_ms, fast.row.p10_ms) == (5.0, 4.4)
    assert fast.row.p90_ms == pytest.approx(62.4)
    assert fast.row.fps == 400.0  # 2 images per 5 ms
    assert fast.row.speedup == 6.0 and eager.row.speedup == 1.0
    assert untimed.row.median_ms is None and untimed.row.speedup is None


def test_loaded_files(tmp_path):
    for name in ("model.onnx", "openvino.xml", "openvino.bin", "openvino.json"):
        (tmp_path / name).write_bytes(b"x")
    manifest = {"backend": {"name": "openvino", "files": ["openvino.xml", "openvino.bin", "openvino.json"]}}
    assert loaded_files(tmp_path, manifest, "openvino") == [tmp_path / "openvino.xml", tmp_path / "openvino.bin"]
    assert loaded_files(tmp_path, manifest, "onnxruntime") == [tmp_path / "model.onnx"]  # another backend reads the ONNX
    (tmp_path / "segments" / "0").mkdir(parents=True)
    (tmp_path / "segments" / "0" / "model.onnx").write_bytes(b"x")
    ort = {"backend": {"name": "onnxruntime", "files": ["segments/0/model.onnx"]}}
    assert loaded_files(tmp_path, ort, "onnxruntime") == [tmp_path / "segments" / "0" / "model.onnx"]


def test_peak_rss_is_the_childs_own():
    """A child of a process that once held 400 MB reports its own peak; ru_maxrss would report the parent's."""
    code = ("import json, resource, subprocess, sys\n"
            "block = bytearray(400 * 2**20)\n"
            "del block\n"
            "child = 'import json, resource; from deploybridge.runtime.bench_worker import peak_kib;"
            " print(json.dumps([peak_kib(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss]))'\n"
            "print(subprocess.run([sys.executable, '-c', child], capture_output=True, text=True).stdout)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    own_kib, inherited_kib = json.loads(done.stdout)
    assert inherited_kib > 400 * 1024  # what ru_maxrss says: the parent's peak
    assert own_kib < 150 * 1024, own_kib  # the child's own: an interpreter, numpy
