"""Fixtures shared by tests/ and plugins/*/tests."""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

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

    def install(ep_name: str, module: str) -> None:
        info = site / f"db_test_{ep_name}-0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: db-test-{ep_name}\nVersion: 0.1\n")
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


def assert_one_line_error(result: CliResult, code: int = 2, contains: str = "") -> None:
    assert result.code == code, (result.code, result.out, result.err)
    lines = [ln for ln in result.err.splitlines() if ln.strip() and not ln.startswith("✓")]
    assert len(lines) == 1, result.err
    assert lines[0].startswith("error: "), lines[0]
    assert "Traceback" not in result.err
    assert contains.lower() in lines[0].lower(), lines[0]
