"""`deploy install detectron2`: idempotent, and a Detectron2 the user built from source is used as it is (pip is
never called for it)."""
from __future__ import annotations

from importlib import metadata

import pytest

pytest.importorskip("detectron2", reason="Detectron2 not installed: run `deploy install detectron2`")

from deploybridge_detectron2 import install  # noqa: E402


def _no_pip(args, quiet):
    raise AssertionError(f"pip called: {args}")


def test_installed_wheel_is_not_installed_again(monkeypatch):
    monkeypatch.setattr(install, "_pip", _no_pip)
    assert install.installed() == install.WHEEL[1]
    assert install.install_detectron2(quiet=True) == []


def test_a_source_build_is_used_as_it_is(monkeypatch):
    """No sal-detectron2 metadata but `import detectron2` works (pip install -e of a clone): nothing installed."""
    real = metadata.version

    def version(name):
        if name == install.WHEEL[0]:
            raise metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(install.metadata, "version", version)
    monkeypatch.setattr(install, "_pip", _no_pip)
    assert install.installed() == "source build"
    assert install.install_detectron2(quiet=True) == []


def test_missing_detectron2_is_installed_from_the_wheel_without_C(monkeypatch, tmp_path):
    """With no Detectron2 importable, the wheel is fetched with pip --target into a scratch folder (cp310, no deps)
    and only detectron2/ and its dist-info move into site-packages, the compiled _C removed."""
    calls = []

    def fake_pip(args, quiet):
        calls.append(args)
        target = args[args.index("--target") + 1]
        from pathlib import Path

        package = Path(target, "detectron2")
        package.mkdir()
        (package / "__init__.py").write_text("")
        (package / "_C.cpython-310-x86_64-linux-gnu.so").write_text("")
        Path(target, "tools").mkdir()
        Path(target, "sal_detectron2-0.7.2.dist-info").mkdir()

    monkeypatch.setattr(install.util, "find_spec", lambda name: None)
    monkeypatch.setattr(install, "_pip", fake_pip)
    monkeypatch.setattr(install.sysconfig, "get_paths", lambda: {"purelib": str(tmp_path)})
    done = install.install_detectron2(quiet=True)
    assert done == ["sal-detectron2==0.7.2 (pure Python, without _C)"]
    assert {"--no-deps", "--only-binary=:all:", "3.10"} <= set(calls[0])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["detectron2", "sal_detectron2-0.7.2.dist-info"]
    assert [p.name for p in (tmp_path / "detectron2").iterdir()] == ["__init__.py"]
