"""`deploy install NAME`: a built-in command fed by deploy_register_installers. Fake installers (tests/plugin_fixtures)
record their calls: a real install takes minutes."""
import pytest
from conftest import assert_one_line_error

from deploybridge.plugins import Host
from deploybridge.plugins.contract import ContractError, check_record
from deploybridge.records import Installer


def test_hook_deploy_register_installers(cli, fake_plugin):
    """Registered with its owner; `deploy install NAME` calls that installer (quiet passed on), prints what it
    installed, then `already installed: <version>` on a second run; --help lists every registered name."""
    fake_plugin("installs", "db_test_installs")
    import db_test_installs

    db_test_installs.CALLS.clear()
    installers = Host().installers()
    assert (installers["fake-tool"].owner, installers["fake-tool"].version) == ("installs", "fake-tool==1.0")
    first = cli("install", "fake-tool")
    assert (first.code, first.out) == (0, "installed fake-tool==1.0\n"), first.err
    again = cli("install", "fake-tool", "--quiet")
    assert (again.code, again.out) == (0, "already installed: fake-tool==1.0\n"), again.err
    assert db_test_installs.CALLS == [False, True]  # one call per command, the quiet flag as given

    help_text = cli("install", "--help").out
    assert "fake-tool: a fake tool (plugin installs)" in help_text and "broken-tool: raises" in help_text
    assert db_test_installs.CALLS == [False, True]  # --help lists, never installs


def test_unknown_name_lists_the_registered_ones(cli, fake_plugin):
    fake_plugin("installs", "db_test_installs")
    names = sorted(Host().installers())
    assert {"fake-tool", "broken-tool"} <= set(names)
    assert_one_line_error(cli("install", "fake-tol"),
                          contains=f"unknown install target 'fake-tol'; choose: {', '.join(names)}")


def test_a_raising_installer_is_one_line_naming_its_plugin(cli, fake_plugin):
    fake_plugin("installs", "db_test_installs")
    assert_one_line_error(cli("install", "broken-tool"), contains="installer 'broken-tool' of plugin 'installs' failed:"
                                                                  " RuntimeError: the fake index is down")


def test_duplicate_name_fails_the_later_plugin_and_withdraws_its_installers(fake_plugin):
    fake_plugin("installs", "db_test_installs")
    fake_plugin("dupe", "db_test_installs_dupe")
    reports = []
    host = Host(report=reports.append)
    installers = host.installers()
    failed = [n for n in ("installs", "dupe") if not host.statuses[n].loaded]
    assert len(failed) == 1, {n: host.statuses[n].status for n in ("installs", "dupe")}
    (loser,), winner = failed, ({"installs", "dupe"} - set(failed)).pop()
    assert host.statuses[loser].status == (f"failed: deploy_register_installers: installer 'fake-tool' is already"
                                           f" registered by plugin '{winner}'; plugin '{loser}' cannot register it too")
    assert installers["fake-tool"].owner == winner and len(reports) == 1
    mine = {"installs": {"fake-tool", "broken-tool"}, "dupe": {"other-tool", "fake-tool"}}
    assert not (mine[loser] - mine[winner]) & set(installers)  # the loser's other installers are withdrawn too
    assert mine[winner] <= set(installers)


def test_register_refuses_what_is_not_an_installer():
    with pytest.raises(ContractError, match="expected a deploybridge.records.Installer"):
        check_record("deploy_register_installers", {"name": "fake-tool"})
    with pytest.raises(ContractError, match="non-empty string name"):
        check_record("deploy_register_installers", Installer(name="", install=lambda quiet: []))


def test_bundled_plugins_register_their_installers():
    """mmdet's two and detectron2's, owned by their plugins (no plugin adds a typer `install` command any more)."""
    installers = Host().installers()
    owners = {n: installers[n].owner for n in ("mmdet", "mmdeploy", "detectron2")}
    assert owners == {"mmdet": "mmdet", "mmdeploy": "mmdet", "detectron2": "detectron2"}
    assert installers["mmdet"].version == "mmengine==0.10.7, mmcv-lite==2.1.0, mmdet==3.3.0"
