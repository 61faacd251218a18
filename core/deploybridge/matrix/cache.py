"""Cells cached by what they depend on: the model's arguments, backend, precision, the timing settings, every local
file the arguments name (hashed by content), the versions of deploybridge, its plugins and the runtimes, and the source
of deploybridge, its rewrites and the row's family plugin (a developer's edit keeps the version number). A re-run
recomputes only the cells whose key changed; a red cell is cached too (it is a result), a killed one is not."""
from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from deploybridge.matrix.cells import CellResult

VERSIONED = ("deploybridge", "deploybridge-rewrites", "torch", "torchvision", "onnx", "onnxruntime", "openvino",
             "mmdet", "mmcv-lite", "sal-detectron2", "fastreid")
NOT_CACHED = ("timed out", "out of memory", "killed by", "worker died")  # the machine's doing, not the cell's


def cell_key(cell: dict, settings: dict) -> str:
    what = {"args": cell["convert_args"], "family": cell["family"], "bench_runs": settings.get("bench_runs"),
            "files": {a: _file_hash(a) for a in cell["convert_args"] if Path(a).is_file()},
            "versions": versions(cell["family"]), "source": source(cell["family"])}
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:16]


@lru_cache(maxsize=None)
def versions(family: str) -> tuple:
    found = []
    for name in (*VERSIONED, f"deploybridge-{family}"):
        try:
            found.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            pass
    return tuple(found)


@lru_cache(maxsize=None)
def source(family: str) -> str:
    """The hash of the Python source the cell runs: deploybridge, its rewrites and the family's plugin package."""
    from importlib import util

    folders = []
    for package in ("deploybridge", "deploybridge_rewrites", f"deploybridge_{family}"):
        spec = util.find_spec(package)
        if spec and spec.submodule_search_locations:
            folders += list(spec.submodule_search_locations)
    return source_hash(tuple(folders))


def source_hash(folders: tuple[str, ...]) -> str:
    """sha256 over every .py file under ``folders`` (path and content, in a fixed order)."""
    digest = hashlib.sha256()
    for folder in folders:
        for path in sorted(Path(folder).rglob("*.py")):
            digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


@lru_cache(maxsize=None)
def _file_hash(path: str) -> str:
    from deploybridge.convert.checksums import sha256

    return sha256(Path(path))


def load(folder: Path, key: str) -> CellResult | None:
    path = folder / f"{key}.json"
    try:
        result = CellResult.from_json(json.loads(path.read_text()))
    except (OSError, json.JSONDecodeError, TypeError):
        return None
    result.cached = True
    return result


def store(folder: Path, result: CellResult) -> None:
    if not result.key or result.status == "skipped" or any(result.reason.startswith(p) for p in NOT_CACHED):
        return
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{result.key}.json.tmp"
    tmp.write_text(json.dumps({**result.to_json(), "cached": False}, indent=1))
    tmp.replace(folder / f"{result.key}.json")  # whole or not at all
