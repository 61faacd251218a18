"""The artifact folder: staged in a temporary sibling folder and renamed into
place at the end, so a failed run never leaves a half artifact and never
replaces an existing one without --force."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from deploybridge.errors import DeployError

MANIFEST = "manifest.json"
REPORT = "report.json"
MODEL = "model.onnx"
FORMAT = "deploybridge-artifact/1"


def check_destination(out: Path, force: bool) -> None:
    """Fail fast, before any heavy work, if ``out`` cannot receive an artifact."""
    out = Path(out)
    if out.exists() and not force:
        raise DeployError(f"{out} already exists; pass --force to replace it or choose another --out")
    if out.exists() and not out.is_dir():
        raise DeployError(f"{out} exists and is not a folder; choose another --out")
    ancestor = out.resolve().parent
    while not ancestor.exists():  # missing parents are created, like mkdir -p
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise DeployError(f"{ancestor} is not a folder, so {out} cannot be created; choose another --out")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise DeployError(f"cannot write into {ancestor}; choose a writable --out")


@contextmanager
def staged(out: Path, force: bool) -> Iterator[Path]:
    """Yield a temporary folder; on success it becomes ``out``, on any error it is removed."""
    out = Path(out)
    check_destination(out, force)
    try:
        out.resolve().parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.resolve().parent))
    except OSError as exc:
        raise DeployError(f"cannot create {out} ({exc.strerror}); choose a writable --out") from None
    try:
        yield tmp
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.resolve().parent))
            os.replace(out, old / "x")
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_json(path: Path, data: Any) -> None:
    Path(path).write_text(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_manifest(folder: Path) -> dict:
    folder = Path(folder)
    if not folder.is_dir():
        raise DeployError(f"{folder}: no such artifact folder; give the --out folder of a `deploy convert` run")
    path = folder / MANIFEST
    if not path.is_file():
        raise DeployError(f"{folder} has no {MANIFEST}; it is not a deploybridge artifact (re-run `deploy convert`)")
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DeployError(f"{path} is not valid JSON (line {exc.lineno}); re-run `deploy convert`") from None
    if manifest.get("format") != FORMAT:
        raise DeployError(f"{path} has format {manifest.get('format')!r}, expected {FORMAT!r}; re-run `deploy convert`")
    model = folder / MODEL
    if not model.is_file():
        raise DeployError(f"{folder} has no {MODEL}; re-run `deploy convert`")
    expected = manifest.get("files", {}).get(MODEL, {}).get("sha256")
    if expected and sha256(model) != expected:
        raise DeployError(f"{model} does not match the checksum in its manifest (modified after conversion?); re-run `deploy convert`")
    return manifest


def update_manifest(folder: Path, **entries: Any) -> dict:
    """Set top-level manifest entries, replacing the file atomically."""
    manifest = read_manifest(folder)
    manifest.update(entries)
    tmp = Path(folder) / f".{MANIFEST}.tmp"
    write_json(tmp, manifest)
    os.replace(tmp, Path(folder) / MANIFEST)
    return manifest
