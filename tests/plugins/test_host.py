"""The plugin host: loading, failure isolation, selection, ownership, ordering, tracing."""
import json
import os
import subprocess
import sys

import pytest

from conftest import FIXTURES, assert_one_line_error
from deploybridge.errors import DeployError
from deploybridge.plugins import Host


def plugins_json(cli):
    result = cli("plugins", "--json")
    assert result.code == 0, result.err
    return {p["name"]: p for p in json.loads(result.out)["plugins"]}


def test_builtin_and_torchvision_listed_with_hooks(cli):
    plugins = plugins_json(cli)
    assert plugins["builtin"]["status"] == "loaded"
    assert "deploy_register_backends" in plugins["builtin"]["hooks"]
    assert {"onnxruntime", "torchscript"} <= set(plugins["builtin"]["provides"]["backend"])  # and the others built in
    tv = plugins["torchvision"]
    assert tv["status"] == "loaded" and tv["version"] == "0.1.0"
    assert set(tv["hooks"]) == {"deploy_register_families", "deploy_detect_family", "deploy_register_known_warnings"}
    assert tv["provides"]["family"] == ["torchvision"] and set(tv["provides"]) == {"family", "known warning"}


def test_broken_plugin_is_reported_and_cli_keeps_working(cli, fake_plugin, tiny, tmp_path):
    fake_plugin("broken", "db_test_broken")
    plugins = plugins_json(cli)
    assert plugins["broken"]["status"] == "failed: ImportError: this plugin needs libfoo 9.9, which is not installed"
    assert plugins["tiny"]["status"] == "loaded"
    assert cli("rewrites").code == 0
    assert cli("convert", "--model", "tiny-net", "--random-weights", "--out", tmp_path / "a").code == 0
    # asking for the broken one by name is a clear error
    assert_one_line_error(cli("convert", "--plugin", "broken", "--model", "x", "--random-weights", "--out", tmp_path / "b"),
                          contains="plugin 'broken' could not be loaded")
    assert not (tmp_path / "b").exists()


def test_broken_plugin_in_a_subprocess_cli(fake_plugin, tmp_path):
    """The installed console script, not only the in-process entry: `deploy plugins` still exits 0."""
    fake_plugin("broken", "db_test_broken")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(FIXTURES), str(tmp_path / "site-packages")])}
    proc = subprocess.run([sys.executable, "-m", "deploybridge", "plugins", "--json"], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    status = {p["name"]: p["status"] for p in json.loads(proc.stdout)["plugins"]}
    assert status["broken"].startswith("failed: ImportError")


def test_hook_deploy_register_families(cli, tiny, tmp_path):
    """A plugin's family is listed with its owner and converts; --plugin picks it."""
    host = Host()
    assert host.families()["tiny"].owner == "tiny" and host.families()["torchvision"].owner == "torchvision"
    assert plugins_json(cli)["tiny"]["provides"]["family"] == ["tiny"]
    result = cli("convert", "--plugin", "tiny", "--model", "tiny-net", "--random-weights", "--out", tmp_path / "a", "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["spec"]["family"] == "tiny"


def test_hook_deploy_convert_finished(cli, tiny, tmp_path):
    """Called once per conversion with its result, also when verification fails (exit 1)."""
    ok = cli("convert", "--plugin", "tiny", "--model", "tiny-net", "--random-weights", "--out", tmp_path / "a")
    bad = cli("convert", "--plugin", "tiny", "--model", "tiny-net", "--random-weights", "--backend", "perturbed",
              "--out", tmp_path / "b")
    assert (ok.code, bad.code) == (0, 1)
    assert [(r.artifact, r.passed) for r in tiny.FINISHED] == [(tmp_path / "a", True), (tmp_path / "b", False)]


def test_records_sorted_by_order_not_load_order(fake_plugin):
    fake_plugin("ordered", "db_test_ordered")
    fake_plugin("dupe", "db_test_dupe")
    families = list(Host(only=["dupe", "ordered"]).families())
    assert families.index("zzz-first") < families.index("bbb-early") < families.index("mmm-middle") < families.index("aaa-last")
    families_rev = list(Host(only=["ordered", "dupe"]).families())
    assert families_rev == families


def test_plugin_option_loads_only_that_entry_point(tiny):
    host = Host(only=["tiny"])
    assert host.statuses["tiny"].status == "loaded"
    assert host.statuses["torchvision"].status == "not selected"
    assert "torchvision" not in host.families()


def test_unknown_plugin_is_an_error(tiny):
    with pytest.raises(DeployError, match="unknown plugin 'nope'.*installed: .*tiny"):
        Host(only=["nope"])


def test_env_switches(tiny, fake_plugin, monkeypatch):
    fake_plugin("broken", "db_test_broken")
    monkeypatch.setenv("DEPLOYBRIDGE_PLUGINS", "tiny")
    host = Host()
    assert host.statuses["tiny"].loaded and host.statuses["broken"].status == "not selected"
    monkeypatch.delenv("DEPLOYBRIDGE_PLUGINS")
    monkeypatch.setenv("DEPLOYBRIDGE_DISABLE_PLUGINS", "tiny,broken")
    host = Host()
    assert host.statuses["tiny"].status == "disabled" and host.statuses["broken"].status == "disabled"
    assert "tiny" not in host.families()


def test_trace_prints_hook_calls(tiny, cli, monkeypatch, tmp_path):
    monkeypatch.setenv("DEPLOYBRIDGE_TRACE_PLUGINS", "1")
    result = cli("convert", "--model", "tiny-net", "--random-weights", "--out", tmp_path / "a")
    assert result.code == 0, result.err
    assert "[deploybridge trace] deploy_register_families [tiny] registered ['tiny']" in result.err
    assert "[deploybridge trace] call deploy_detect_family(spec)" in result.err
    assert "[deploybridge trace] result deploy_detect_family: 'tiny'" in result.err


def test_hook_deploy_detect_family(cli, tiny, tmp_path):
    """Picks the family when neither --family nor --plugin decides."""
    result = cli("convert", "--model", "tiny-net", "--random-weights", "--out", tmp_path / "a", "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["spec"]["family"] == "tiny"
    # and torchvision answers for its own models
    host = Host()
    from deploybridge.records import ModelSpec

    assert host.detect_family(ModelSpec("", "maskrcnn_resnet50_fpn")) == "torchvision"
    assert host.detect_family(ModelSpec("", "no-such-model")) is None


def test_hook_deploy_register_commands(cli, tiny):
    result = cli("tiny-hello", "--name", "bridge")
    assert result.code == 0, result.err
    assert "hello bridge from tiny" in result.out
    assert "tiny-hello" in cli("--help").out


def test_cli_import_loads_no_plugin_and_no_torch():
    code = "import sys, deploybridge.cli; print(sorted(m for m in ('torch', 'deploybridge_torchvision', 'onnx') if m in sys.modules))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.stdout.strip() == "[]", proc.stdout + proc.stderr


def test_python_dash_m_and_version():
    proc = subprocess.run([sys.executable, "-m", "deploybridge", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip() == "deploybridge 0.1.0"
