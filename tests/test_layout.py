"""The layout docs/architecture.md describes is the tree on disk, and stays small enough to read."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "core" / "deploybridge"


def documented_tree() -> set[str]:
    """Paths under deploybridge/ named in the layout block of docs/architecture.md, from its indentation."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    block = text.split("<!-- layout:", 1)[1].split("```", 2)[1]
    paths, stack = set(), []
    for line in block.splitlines():
        if not line.strip():
            continue
        depth = (len(line) - len(line.lstrip())) // 2
        name = line.split()[0]
        stack[depth:] = [name.rstrip("/")]
        paths.add("/".join(stack[1:]))
    return paths - {""}


def actual_tree() -> set[str]:
    found = set()
    for path in PACKAGE.rglob("*"):
        rel = path.relative_to(PACKAGE)
        if "__pycache__" in rel.parts or path.name == "__init__.py" and rel.parent != Path("."):
            continue
        if path.is_dir() or path.suffix == ".py":
            found.add(str(rel))
    return found


def test_architecture_page_lists_every_module_and_folder():
    documented, actual = documented_tree(), actual_tree()
    assert actual - documented == set(), f"on disk but not in docs/architecture.md: {sorted(actual - documented)}"
    assert documented - actual == set(), f"in docs/architecture.md but not on disk: {sorted(documented - actual)}"


def test_top_level_has_at_most_eleven_entries():
    """The plugin contract (records, errors, hookspecs), the host, and one folder per stage of the work: cli,
    convert, parity, runtime, evaluation, lint, and matrix (many conversions at once, issue 23)."""
    entries = [p.name for p in PACKAGE.iterdir() if p.name not in ("__pycache__", "__init__.py", "__main__.py")]
    assert len(entries) <= 11, sorted(entries)


def test_no_module_over_300_lines():
    roots = [ROOT / "core", ROOT / "rewrites", ROOT / "plugins", ROOT / "tests", ROOT / "scripts"]
    long = {str(p.relative_to(ROOT)): n for r in roots for p in r.rglob("*.py") if "__pycache__" not in p.parts
            and (n := len(p.read_text().splitlines())) > 300}
    assert long == {}, long


def test_readme_layout_names_the_top_level_folders():
    readme = (ROOT / "README.md").read_text()
    for folder in ("core/", "rewrites/", "plugins/<family>/", "tests/", "docs/"):
        assert re.search(rf"^{re.escape(folder)}\s", readme, flags=re.M), folder
