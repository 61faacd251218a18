"""The plugin API is explicit: bundled plugins (and the built-in rewrite library) import from deploybridge only the
modules listed in ``deploybridge.PLUGIN_API``, and the plugin author guide lists exactly those."""
import ast
import importlib.util
import re
from pathlib import Path

import pytest

import deploybridge

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_SOURCES = sorted(ROOT.glob("plugins/*/deploybridge_*/**/*.py")) + sorted(ROOT.glob("rewrites/deploybridge_rewrites/**/*.py"))


def _module_of(module: str, name: str) -> str:
    """``from module import name``: the submodule when ``name`` is one, else ``module``."""
    try:
        return f"{module}.{name}" if importlib.util.find_spec(f"{module}.{name}") else module
    except ImportError:
        return module


def deploybridge_imports(source: str) -> list[str]:
    """Every ``deploybridge...`` module an import statement names (``from deploybridge.a import b`` counts as
    ``deploybridge.a.b`` when b is a submodule)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] == "deploybridge"]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and node.module.split(".")[0] == "deploybridge":
            found += [_module_of(node.module, a.name) for a in node.names]
    return found


def test_the_checker_sees_a_forbidden_import():
    """The check can fail: an import of the host's internals, in each of the three spellings, is found."""
    src = "import deploybridge.convert.pipeline\nfrom deploybridge.plugins import Host\nfrom deploybridge import cli\n"
    assert [m for m in deploybridge_imports(src) if m not in deploybridge.PLUGIN_API] == [
        "deploybridge.convert.pipeline", "deploybridge.plugins", "deploybridge.cli"]


@pytest.mark.parametrize("path", PLUGIN_SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_bundled_plugin_imports_only_the_plugin_api(path):
    outside = [m for m in deploybridge_imports(path.read_text()) if m not in deploybridge.PLUGIN_API]
    assert not outside, f"{path.relative_to(ROOT)} imports {outside}, which are not in deploybridge.PLUGIN_API"


def test_author_guide_lists_exactly_the_plugin_api():
    guide = (ROOT / "docs" / "plugin-author-guide.md").read_text()
    section = guide.split("## The plugin API", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `(deploybridge[\w.]*)` \|", section, flags=re.M))
    assert listed == set(deploybridge.PLUGIN_API)
