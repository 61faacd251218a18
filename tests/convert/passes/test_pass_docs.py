"""Every built-in graph pass has a docs entry and is tested in tests/convert/passes/."""
from pathlib import Path

from deploybridge.convert.passes import BUILTIN_PASSES

ROOT = Path(__file__).resolve().parents[3]


def test_each_builtin_pass_has_docs_and_a_test():
    docs = (ROOT / "docs" / "graph-passes.md").read_text()
    tests = "".join(p.read_text() for p in (ROOT / "tests" / "convert" / "passes").glob("test_*.py") if p.name != "test_pass_docs.py")
    for graph_pass in BUILTIN_PASSES:
        assert f"## `{graph_pass.name}`" in docs, f"docs/graph-passes.md has no entry for {graph_pass.name}"
        assert graph_pass.name in tests, f"no test in tests/convert/passes mentions {graph_pass.name}"
