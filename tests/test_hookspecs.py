"""The hook contract, enforced (datasette's rule): every hook has a docs page showing exactly its signature, a test
named ``test_hook_<name>``, a typed docstring that says when it is called, what it returns and whether its
exceptions are isolated."""
import ast
import inspect
import re
from pathlib import Path

import pytest

from deploybridge import hookspecs

ROOT = Path(__file__).resolve().parents[1]
HOOKS = sorted(n for n in dir(hookspecs) if n.startswith("deploy_"))


def signature(hook: str) -> str:
    """``deploy_x(a, b)`` from the hookspec's argument names."""
    return f"{hook}({', '.join(inspect.signature(getattr(hookspecs, hook)).parameters)})"


def test_hooks_are_found():
    assert len(HOOKS) >= 9


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_docs_page_shows_exactly_its_signature(hook):
    page = ROOT / "docs" / "hooks" / f"{hook}.md"
    assert page.is_file(), f"docs/hooks/{hook}.md missing"
    text = page.read_text()
    assert text.splitlines()[0] == f"# `{signature(hook)}`", f"docs/hooks/{hook}.md must start with # `{signature(hook)}`"
    shown = set(re.findall(rf"\b{hook}\(([^)]*)\)", text))
    assert shown == {signature(hook)[len(hook) + 1:-1]}, f"docs/hooks/{hook}.md shows {hook} with arguments {shown}"


def _test_function_names() -> set[str]:
    files = list((ROOT / "tests").rglob("test_*.py")) + list((ROOT / "plugins").glob("*/tests/test_*.py"))
    return {node.name for f in files for node in ast.walk(ast.parse(f.read_text()))
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_test_named_for_it(hook):
    assert f"test_hook_{hook}" in _test_function_names(), f"no test named test_hook_{hook}"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_docstring_says_when_what_and_isolation(hook):
    doc = getattr(hookspecs, hook).__doc__ or ""
    assert "Called" in doc, f"{hook} docstring must say when it is called"
    assert ":returns:" in doc and all(f":param {a}:" in doc for a in inspect.signature(getattr(hookspecs, hook)).parameters)
    assert "Exceptions are isolated" in doc, f"{hook} docstring must say what happens when it raises"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_typed(hook):
    """Real types (under TYPE_CHECKING), not Any."""
    annotations = getattr(hookspecs, hook).__annotations__
    assert annotations and all("Any" not in str(a) for a in annotations.values()), annotations
