"""Ray and Dask: a local cluster of 2 workers, started by the command, gives the same table as the local pool on a
small matrix; a worker killed while it runs a cell marks that cell red with the reason and the rest finish."""
import json

import pytest

pytest.importorskip("openvino", reason="OpenVINO is installed by make install")

ARGS = ("--models", "torchvision:mobilenet_v3_small", "--backends", "onnxruntime,openvino", "--precisions", "fp32",
        "--bench-runs", "0", "--jobs", "2", "--json")
KILLED = "torchvision/mobilenet_v3_small/openvino-fp32"


def _table(cli, tmp_path, executor):
    result = cli("matrix", *ARGS, "--executor", executor, "--out", tmp_path / executor)
    assert result.code == 0 and result.out.lstrip().startswith("["), result.err[-3000:]
    return {c["id"]: (c["status"], c["reason"], c["parity"]) for c in json.loads(result.out)}


@pytest.fixture(scope="module")
def local_table(tmp_path_factory):
    """The local pool's table, once for both executors (the cli fixture is per test)."""
    import io
    from contextlib import redirect_stderr, redirect_stdout

    from deploybridge.cli import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["matrix", *ARGS, "--out", str(tmp_path_factory.mktemp("local"))])
    assert code == 0, err.getvalue()[-3000:]
    table = {c["id"]: (c["status"], c["reason"], c["parity"]) for c in json.loads(out.getvalue())}
    assert [s for s, _, _ in table.values()] == ["green", "green"], table
    return table


@pytest.mark.parametrize("executor", ["ray", "dask"])
def test_the_same_table_as_the_local_pool(cli, tmp_path, local_table, executor):
    pytest.importorskip(executor if executor == "ray" else "distributed", reason=f"{executor} is installed by make install")
    assert _table(cli, tmp_path, executor) == local_table


@pytest.mark.parametrize("executor", ["ray", "dask"])
def test_a_killed_worker_marks_its_cell_red_and_the_rest_finish(cli, tmp_path, monkeypatch, executor):
    pytest.importorskip(executor if executor == "ray" else "distributed", reason=f"{executor} is installed by make install")
    monkeypatch.setenv("DEPLOYBRIDGE_MATRIX_KILL", KILLED)
    table = _table(cli, tmp_path, executor)
    status, reason, _ = table[KILLED]
    assert status == "red" and reason.startswith("worker died: "), reason
    assert table["torchvision/mobilenet_v3_small/onnxruntime-fp32"][0] == "green"


def test_eval_in_shards_across_dask_workers_is_the_single_process_ap(cli, tmp_path):
    """shapes_retinanet converted with --eval shapes (its row's dataset: AP in one process, in the manifest), then
    `--eval shapes --eval-shards 3` on a 2-worker Dask cluster: the merged AP is the same to the last digit."""
    pytest.importorskip("distributed", reason="dask is installed by make install")
    result = cli("matrix", "--models", "shapes_retinanet", "--backends", "onnxruntime", "--precisions", "fp32",
                 "--bench-runs", "0", "--jobs", "2", "--executor", "dask", "--eval", "shapes", "--eval-shards", "3",
                 "--out", tmp_path, "--json")
    assert result.code == 0 and "3 shards on dask" in result.err, result.err[-3000:]
    (cell,) = json.loads(result.out)
    assert cell["status"] == "green", cell
    single = json.loads((tmp_path / cell["id"].replace("/", "__") / "manifest.json").read_text())["evaluation"]["ap"]
    assert cell["ap"] == {f"{runner}:{metric}": v for runner, aps in single.items() for metric, v in aps.items()}
    assert cell["ap"]["pytorch:box_ap"] > 0.3, cell["ap"]
