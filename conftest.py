"""Fixtures shared by tests/ and plugins/*/tests."""
from __future__ import annotations

import io
import sys
import warnings
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

FIXTURES = Path(__file__).parent / "tests" / "plugin_fixtures"


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys):
    """Run ``deploy ARGS...`` in-process through the real entry function."""
    from deploybridge.cli import main

    def run(*args) -> CliResult:
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture
def fake_plugin(tmp_path, monkeypatch):
    """Install a test distribution: ``install("tiny", "db_test_tiny")`` writes a dist-info with an
    entry point in group ``deploybridge`` on sys.path, as pip would."""
    monkeypatch.syspath_prepend(str(FIXTURES))
    site = tmp_path / "site-packages"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))

    def install(ep_name: str, module: str, dist: str | None = None) -> None:
        dist = dist or ep_name  # another dist name: two distributions with one entry-point name
        info = site / f"db_test_{dist}-0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: db-test-{dist}\nVersion: 0.1\n")
        (info / "entry_points.txt").write_text(f"[deploybridge]\n{ep_name} = {module}\n")

    yield install
    for name in [m for m in sys.modules if m.startswith("db_test_")]:
        del sys.modules[name]


@pytest.fixture
def tiny(fake_plugin):
    fake_plugin("tiny", "db_test_tiny")
    import db_test_tiny

    db_test_tiny.FINISHED.clear()
    return db_test_tiny


def assert_same_detections(ref: dict, boxes, scores, labels, box_atol: float = 1e-4, score_atol: float = 1e-6) -> np.ndarray:
    """The same detections as ``ref`` (a framework's boxes/scores/labels), paired by box; returns the pairing
    ``perm`` (``boxes[perm][i]`` is ``ref["boxes"][i]``) for further per-detection checks."""
    from deploybridge.parity.tensor import match_rows

    assert len(boxes) == len(ref["boxes"])
    perm = match_rows(ref["boxes"], boxes, ref["labels"], labels)
    np.testing.assert_allclose(boxes[perm], ref["boxes"], atol=box_atol)
    np.testing.assert_allclose(scores[perm], ref["scores"], atol=score_atol)
    np.testing.assert_array_equal(labels[perm], ref["labels"])
    return perm


def assert_one_line_error(result: CliResult, code: int = 2, contains: str = "") -> None:
    assert result.code == code, (result.code, result.out, result.err)
    lines = [ln for ln in result.err.splitlines() if ln.strip() and not ln.startswith("✓")]
    assert len(lines) == 1, result.err
    assert lines[0].startswith("error: "), lines[0]
    assert "Traceback" not in result.err
    assert contains.lower() in lines[0].lower(), lines[0]


# -- rewrite tests: export with or without rewrites, compare ONNX Runtime with PyTorch ------------------
def export_and_run(module, inputs, feeds, opset, rewrites=(), dynamic_axes=None, dynamo=False, tmp_path=None):
    """Export ``module`` on ``inputs`` (legacy exporter unless ``dynamo``) with ``rewrites`` in force;
    return the ONNX Runtime outputs for each of ``feeds`` (tuples of tensors), or the first line of the
    error as a string when the export or the session fails."""
    import onnxruntime as ort
    import torch

    from deploybridge.convert.rewriting import applied
    from deploybridge.errors import first_line

    names = [f"in{k}" for k in range(len(inputs))]
    target = io.BytesIO() if not dynamo else str(tmp_path / "model.onnx")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with applied(list(rewrites), opset) if rewrites else nullcontext():
                if dynamo:
                    torch.onnx.export(module, inputs, target, dynamo=True, input_names=names, dynamic_shapes=dynamic_axes,
                                      external_data=False, verbose=False)
                else:
                    torch.onnx.export(module, inputs, target, dynamo=False, opset_version=opset, input_names=names,
                                      dynamic_axes=dynamic_axes or {})
        session = ort.InferenceSession(target.getvalue() if not dynamo else target, providers=["CPUExecutionProvider"])
        return [session.run(None, {n: t.numpy() for n, t in zip(names, feed)})[0] for feed in feeds]
    except Exception as exc:  # the failure is the finding
        return first_line(exc, 200)


def export_with_rewrites(module, inputs, rewrites, input_names, output_names=None, dynamic_axes=None, opset=17):
    """Legacy export of ``module`` on ``inputs`` with ``rewrites`` in force (export warnings silenced); returns the
    ONNX bytes and the applied-rewrites result (which of them fired). For tests that inspect the graph itself."""
    import torch

    from deploybridge.convert.rewriting import applied

    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with applied(list(rewrites), opset) as result:
            torch.onnx.export(module, inputs, buffer, dynamo=False, opset_version=opset, input_names=input_names,
                              output_names=output_names, dynamic_axes=dynamic_axes or {})
    return buffer.getvalue(), result


def max_error(got, module, feeds) -> float:
    """Largest |ONNX Runtime - PyTorch| over all feeds; inf where ORT failed or shapes differ, NaN counts as inf."""
    import torch

    if isinstance(got, str):
        return float("inf")
    worst = 0.0
    for out, feed in zip(got, feeds):
        with torch.no_grad():
            ref = module(*feed).numpy()
        if out.shape != ref.shape:
            return float("inf")
        diff = np.abs(out.astype(np.float64) - ref.astype(np.float64))
        worst = max(worst, float("inf") if np.isnan(diff).any() else float(diff.max(initial=0.0)))
    return worst


@pytest.fixture
def onnx_parity(tmp_path):
    """``onnx_parity(module, inputs, feeds, opset, rewrites=...) -> max abs error`` (inf: failed or wrong shape)."""

    def run(module, inputs, feeds, opset, **kw):
        return max_error(export_and_run(module, inputs, feeds, opset, tmp_path=tmp_path, **kw), module, feeds)

    return run


def pytest_configure(config):
    """Under pytest-xdist (``make test`` runs one worker per core): every worker and every process it starts computes
    on one thread. Two workers that each spin two threads on a 2-core machine slow ~10x; one thread each do not."""
    import os

    if os.environ.get("PYTEST_XDIST_WORKER"):
        for name in ("DEPLOYBRIDGE_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ[name] = "1"
        # xdist hands its workers the controller's terminal size (COLUMNS=80 where there is none); the tests read
        # the tables at the width a log gets (120, cli.console), as in a run without workers
        for name in ("COLUMNS", "LINES"):
            os.environ.pop(name, None)
        import torch

        torch.set_num_threads(1)


# The longest test files (CI, 2026-12-05, one thread per worker), started first: `make test` hands whole files to its
# pytest-xdist workers in collection order, and the bench test collected last kept one worker busy 7.6 min after
# the other had run out of files.
LONG_FIRST = ("tests/test_bench_embedded.py", "plugins/torchvision/tests/test_zoo.py",
              "plugins/mmdet/tests/test_mmdet_mmdeploy.py", "plugins/detectron2/tests/test_detectron2_torchscript.py",
              "plugins/detectron2/tests/test_detectron2_keypoints.py", "tests/test_wheels.py",
              "plugins/torchvision/tests/test_models.py", "plugins/detectron2/tests/test_detectron2_warnings.py",
              "plugins/mmdet/tests/test_mmdet_cascade.py", "tests/matrix/test_matrix_executors.py")


def pytest_collection_modifyitems(config, items):
    rank = {path: i for i, path in enumerate(LONG_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))  # stable: files stay whole
