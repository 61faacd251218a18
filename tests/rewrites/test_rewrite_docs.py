"""Every built-in rewrite has a docs entry and its own test module."""
from pathlib import Path

from deploybridge_rewrites import BUILTIN_REWRITES

ROOT = Path(__file__).resolve().parents[2]


def test_each_builtin_rewrite_has_docs_and_a_test():
    docs = (ROOT / "docs" / "rewrites.md").read_text()
    for rewrite in BUILTIN_REWRITES:
        assert f"## `{rewrite.name}`" in docs, f"docs/rewrites.md has no entry for {rewrite.name}"
        assert (ROOT / "tests" / "rewrites" / f"test_{rewrite.name}.py").exists(), f"no tests/rewrites/test_{rewrite.name}.py"
        assert rewrite.why, rewrite.name


def test_the_worked_example_is_the_tested_plugin():
    page = (ROOT / "docs" / "writing-a-rewrite.md").read_text()
    source = (ROOT / "plugins" / "solo" / "deploybridge_solo" / "rewrites.py").read_text()
    body = source.split('"""', 2)[2].strip()  # without the module docstring
    assert body in page, "docs/writing-a-rewrite.md quotes an outdated deploybridge_solo/rewrites.py"
