"""Every hook has a docs page and a test (datasette's rule)."""
from pathlib import Path

import pytest

from deploybridge import hookspecs

ROOT = Path(__file__).resolve().parents[1]
HOOKS = sorted(n for n in dir(hookspecs) if n.startswith("deploy_"))


def test_hooks_are_found():
    assert len(HOOKS) >= 7


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_docs_page(hook):
    page = ROOT / "docs" / "hooks" / f"{hook}.md"
    assert page.is_file(), f"docs/hooks/{hook}.md missing"
    assert f"`{hook}(" in page.read_text(), f"docs/hooks/{hook}.md does not document the signature"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_test(hook):
    this = Path(__file__).resolve()
    test_files = [p for p in list((ROOT / "tests").rglob("test_*.py")) + list((ROOT / "plugins").rglob("tests/test_*.py")) if p != this]
    assert any(hook in p.read_text() for p in test_files), f"no test mentions {hook}"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_docstring_saying_when(hook):
    doc = getattr(hookspecs, hook).__doc__ or ""
    assert "Called" in doc or "called" in doc, f"{hook} docstring must say when it is called"
