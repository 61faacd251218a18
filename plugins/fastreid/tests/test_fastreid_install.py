"""`deploy install fastreid`: fastreid --no-deps (it pins torch 1.13.1) plus what it really imports."""
from deploybridge_fastreid import install


def test_an_installed_fastreid_installs_nothing(cli):
    result = cli("install", "fastreid")
    assert result.code == 0, result.err
    assert "already installed: fastreid==1.4.0 (--no-deps)" in result.out


def test_a_missing_fastreid_goes_in_without_its_dependencies(monkeypatch):
    calls = []
    monkeypatch.setattr(install, "version", lambda name: None if name in ("fastreid", "yacs") else "1.0")
    monkeypatch.setattr(install, "pip_install", lambda args, quiet: calls.append(list(args)))
    monkeypatch.setattr(install, "install_keeping_torch", lambda reqs, quiet, what: calls.append(["keeping torch", *reqs]))
    done = install.install_fastreid(quiet=True)
    assert done == ["yacs", "fastreid==1.4.0 (--no-deps)"]
    assert calls == [["keeping torch", "yacs"], ["--no-deps", "fastreid==1.4.0"]]  # never fastreid's torch==1.13.1
