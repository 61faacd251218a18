"""A plugin can never break the host (issue 16, 3-5): each throwaway plugin is installed through real entry-point
metadata in a temporary folder (the ``fake_plugin`` fixture), and the host is the real one."""
import json

from conftest import assert_one_line_error
from deploybridge.plugins import Host


def statuses(cli):
    result = cli("plugins", "--json")
    assert result.code == 0, result.err
    return {p["name"]: p for p in json.loads(result.out)["plugins"]}, result


def convert_tiny(cli, out, *extra):
    return cli("convert", "--model", "tiny-net", "--random-weights", "--out", out, *extra)


def test_register_given_something_that_is_not_a_record(cli, fake_plugin, tiny):
    fake_plugin("notrecord", "db_test_notrecord")
    plugins, result = statuses(cli)
    status = plugins["notrecord"]["status"]
    assert status.startswith("failed: deploy_register_backends called register() with dict"), status
    assert "expected a deploybridge.records.Backend" in status
    assert "plugin 'notrecord'" in result.err and "deploy_register_backends" in result.err
    assert plugins["tiny"]["status"] == "loaded" and "perturbed" in plugins["tiny"]["provides"]["backend"]


def test_misspelt_hook_fails_the_plugin_naming_the_closest_hook(cli, fake_plugin, tiny, tmp_path):
    fake_plugin("misspelt", "db_test_misspelt")
    import db_test_misspelt

    plugins, _ = statuses(cli)
    assert plugins["misspelt"]["status"] == (
        "failed: implements unknown hook 'deploy_register_familes' (did you mean deploy_register_families?)")
    assert convert_tiny(cli, tmp_path / "a").code == 0
    assert db_test_misspelt.CALLED == []  # its correctly spelt hook never runs either


def test_a_raising_register_commands_leaves_help_and_builtins_working(cli, fake_plugin, tiny, tmp_path):
    fake_plugin("badcommands", "db_test_badcommands")
    result = cli("--help")
    assert result.code == 0, result.err
    assert "convert" in result.out and "tiny-hello" in result.out  # tiny's command is still added
    assert "half-added" not in result.out  # what the failing plugin added before raising is taken back out
    assert "plugin 'badcommands' failed" in result.err and "commands plugin exploded" in result.err
    assert cli("tiny-hello", "--name", "x").code == 0
    for args in (["plugins"], ["rewrites"], ["convert", "--help"], ["verify", "--help"], ["inspect", "--help"],
                 ["run", "--help"], ["threshold", "--help"]):
        assert cli(*args).code == 0, args
    assert convert_tiny(cli, tmp_path / "a").code == 0
    assert cli("half-added").code == 2  # unknown command: usage error, not an internal error


def test_a_name_another_plugin_owns_fails_that_plugin_and_withdraws_all_it_registered(cli, fake_plugin, tiny, tmp_path):
    fake_plugin("squatter", "db_test_squatter")
    import db_test_squatter

    plugins, result = statuses(cli)
    status = plugins["squatter"]["status"]
    assert "backend 'onnxruntime' is already registered by plugin 'builtin'" in status, status
    assert "plugin 'squatter' cannot register it too" in status
    assert "onnxruntime" in plugins["builtin"]["provides"]["backend"] and plugins["squatter"]["provides"] == {}
    rewrites = json.loads(cli("rewrites", "--json").out)["rewrites"]
    assert "squat_rewrite" not in {r["name"] for r in rewrites}  # registered before the clash, withdrawn with it
    # conversions use the built-in backend; none of the squatter's other hooks run
    assert convert_tiny(cli, tmp_path / "a").code == 0
    assert db_test_squatter.CALLED == []
    host = Host()
    assert "squat" not in host.families() and host.backends()["onnxruntime"].owner == "builtin"


def test_two_third_party_plugins_with_one_name(cli, fake_plugin, tiny, tmp_path):
    """The later plugin fails with both names; the first keeps its family and conversions work (was exit 2)."""
    fake_plugin("dupe", "db_test_dupe")
    plugins, _ = statuses(cli)
    assert plugins["dupe"]["status"] == ("failed: deploy_register_families: family 'tiny' is already registered by"
                                         " plugin 'tiny'; plugin 'dupe' cannot register it too")
    result = convert_tiny(cli, tmp_path / "a", "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["spec"]["family"] == "tiny"
    assert "zzz-first" not in Host().families()  # dupe's other families are withdrawn too


def test_a_raising_detect_family_is_skipped_and_reported(cli, fake_plugin, tiny, tmp_path):
    fake_plugin("baddetect", "db_test_baddetect")
    result = convert_tiny(cli, tmp_path / "a", "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["spec"]["family"] == "tiny"  # the next answer
    assert "plugin 'baddetect' failed and is disabled for this run: deploy_detect_family: KeyError" in result.err


def test_a_raising_convert_finished_does_not_stop_the_others(cli, fake_plugin, tiny, tmp_path):
    fake_plugin("badfinished", "db_test_badfinished")
    import db_test_badfinished

    result = convert_tiny(cli, tmp_path / "a")
    assert result.code == 0, result.err
    assert len(db_test_badfinished.CALLED) == 1  # it ran first (tryfirst) and raised ...
    assert [r.artifact for r in tiny.FINISHED] == [tmp_path / "a"]  # ... and tiny's listener was still called
    assert "plugin 'badfinished' failed" in result.err and "listener exploded" in result.err


def test_a_failed_plugin_runs_no_other_hook(fake_plugin, tiny):
    """(e) at the host level: the squatter registers a rewrite before its backend clashes; asking for rewrites alone
    already fails it (every registry is collected at first use), unregisters it from pluggy and withdraws the rewrite."""
    fake_plugin("squatter", "db_test_squatter")
    import db_test_squatter

    reported = []
    host = Host(report=reported.append)
    assert "squat_rewrite" not in host.rewrites() and "squat" not in host.families()
    assert host.pm.get_plugin("squatter") is None
    assert host.call_each("deploy_convert_finished", result=None) == [] and db_test_squatter.CALLED == []
    assert len(reported) == 1 and reported[0].startswith("plugin 'squatter' failed and is disabled for this run: ")


def test_a_trylast_plugin_cannot_take_a_builtin_name(cli, fake_plugin, tiny, tmp_path):
    """Registration order is the host's (built-ins first), not pluggy's call order, which puts trylast first."""
    fake_plugin("trylast", "db_test_trylast")
    plugins, _ = statuses(cli)
    assert plugins["builtin"]["status"] == "loaded" and "onnxruntime" in plugins["builtin"]["provides"]["backend"]
    assert "backend 'onnxruntime' is already registered by plugin 'builtin'" in plugins["trylast"]["status"]
    assert convert_tiny(cli, tmp_path / "a").code == 0


def test_entry_point_names_builtins_own_or_two_plugins_share(cli, fake_plugin, tiny, tmp_path):
    fake_plugin("builtin", "db_test_squatter", dist="impostor")
    fake_plugin("tiny", "db_test_badcommands", dist="tinytwin")
    plugins, _ = statuses(cli)
    assert plugins["builtin"]["status"] == "loaded" and "onnxruntime" in plugins["builtin"]["provides"]["backend"]
    assert plugins["builtin (db-test-impostor)"]["status"] == (
        "failed: the plugin name 'builtin' is reserved for deploybridge's own; rename the entry point")
    reason = "failed: two plugins are named 'tiny' (db-test-tiny and db-test-tinytwin); uninstall one"
    assert {plugins["tiny"]["status"], plugins["tiny (db-test-tinytwin)"]["status"]} == {reason}
    host = Host()
    assert host.pm.get_plugin("tiny") is None and "tiny" not in host.families()  # both out, neither half-registered
    result = cli("--help")
    assert result.code == 0 and "tiny-hello" not in result.out and "half-added" not in result.out


def test_a_command_named_like_a_builtin_fails_that_plugin(cli, fake_plugin, tiny):
    fake_plugin("hijack", "db_test_hijack")
    result = cli("--help")
    assert result.code == 0 and "HIJACKED" not in result.out and "tiny-hello" in result.out
    assert ("plugin 'hijack' failed and is disabled for this run: deploy_register_commands: command 'verify' is"
            " already registered by 'deploybridge'; plugin 'hijack' cannot register it too") in result.err


def test_a_raising_unavailable_is_the_backends_answer(cli, fake_plugin, tiny, tmp_path):
    fake_plugin("flaky", "db_test_flaky")
    result = cli("plugins", "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["backends"]["flaky"] == (
        "its unavailable() raised OSError: libflaky.so: cannot open shared object file (a bug in plugin 'flaky')")
    assert_one_line_error(convert_tiny(cli, tmp_path / "a", "--backend", "flaky"),
                          contains="backend 'flaky' is not usable here: its unavailable() raised OSError")
    assert not (tmp_path / "a").exists()


def test_a_regex_that_does_not_compile_is_refused_at_registration(cli, fake_plugin, tiny, tmp_path):
    fake_plugin("badregex", "db_test_badregex")
    plugins, _ = statuses(cli)
    assert plugins["badregex"]["status"].startswith(
        "failed: deploy_register_known_warnings: known warning 'broken_regex' has an invalid regex in pattern")
    assert convert_tiny(cli, tmp_path / "a").code == 0  # triage runs in every conversion: it must not meet the regex
