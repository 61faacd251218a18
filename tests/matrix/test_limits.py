"""A cell's process under a time and a memory limit: stopped and named, never left running."""
import os
import sys

from deploybridge.matrix.limits import run_limited, tree_rss

PY = [sys.executable, "-c"]


def test_a_normal_exit_is_passed_through():
    done = run_limited([*PY, "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"], os.environ, 30, 4)
    assert (done.code, done.stdout, done.stderr, done.problem) == (3, "out\n", "err\n", None)


def test_past_the_time_limit_the_process_is_killed():
    done = run_limited([*PY, "import time; time.sleep(30)"], os.environ, 1, None)
    assert done.problem == "timed out after 1 s" and done.code == -9


def test_over_the_memory_cap_it_is_out_of_memory_at_the_cap():
    """Counted over the process tree: the memory is held by a child of the cell's process."""
    child = "import time; b = bytearray(400 * 1024**2); b[::4096] = b'x' * len(b[::4096]); time.sleep(30)"
    done = run_limited([*PY, f"import subprocess, sys; subprocess.run([sys.executable, '-c', {child!r}])"],
                       os.environ, 60, 0.3)
    assert done.problem.startswith("out of memory at 0.3 GiB (the cell's cap; its processes held 0.")
    assert done.peak_gib > 0.3


def test_a_killed_process_says_by_what():
    done = run_limited([*PY, "import time; time.sleep(30)"], os.environ, 30, None, kill_at_start=True)
    assert done.problem.startswith("killed by SIGKILL (the kernel's out-of-memory killer")


def test_tree_rss_counts_this_process():
    assert tree_rss(os.getpid()) > 10 * 1024**2 and tree_rss(2**22 + 12345) == 0


def test_reasons_lose_the_runs_own_paths():
    """--check compares two runs: a temporary folder's random name or the --out folder in a reason would differ."""
    import tempfile

    from deploybridge.matrix.execute import stable

    tmp = tempfile.gettempdir()
    said = f"onnxruntime cannot load {tmp}/deploybridge-debug-fm_17t0e/segment0.onnx: InvalidGraph; kept in /data/m/x"
    assert stable(said, "/data/m") == "onnxruntime cannot load <tmp>/segment0.onnx: InvalidGraph; kept in <out>/x"
