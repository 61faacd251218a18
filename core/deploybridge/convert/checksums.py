"""The checksum of every file of an artifact folder: listed when the artifact is written, checked by every reader."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Collection

from deploybridge.errors import DeployError


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def files_under(folder: Path, exclude: Collection[str]) -> list[str]:
    """Every file under ``folder`` but ``exclude``, as sorted POSIX paths relative to it."""
    found = [(Path(root) / f).relative_to(folder).as_posix() for root, _, files in os.walk(folder) for f in files]
    return sorted(p for p in found if p not in exclude)


def list_files(folder: Path, exclude: Collection[str]) -> dict[str, dict]:
    folder = Path(folder)
    return {rel: {"sha256": sha256(folder / rel), "bytes": (folder / rel).stat().st_size}
            for rel in files_under(folder, exclude)}


def check_files(folder: Path, listed: dict, exclude: Collection[str], manifest_name: str, unlisted_ok: bool) -> None:
    """Raise DeployError naming the first file that is missing, modified, or (unless ``unlisted_ok``: old manifests
    list model.onnx only) present but not listed."""
    folder = Path(folder)
    for rel, entry in listed.items():
        path = folder / rel
        if not path.is_file():
            raise DeployError(f"{path} is missing (listed in {manifest_name}); the artifact is incomplete: re-run `deploy convert`")
        if sha256(path) != (entry or {}).get("sha256"):
            raise DeployError(f"{path} does not match the checksum in its manifest (modified after conversion?); re-run `deploy convert`")
    if unlisted_ok:
        return
    for rel in files_under(folder, exclude):
        if rel not in listed:
            raise DeployError(f"{folder / rel} is not listed in {manifest_name} (added after conversion?); delete it or re-run `deploy convert`")
