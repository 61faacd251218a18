"""Cells cached by what they depend on: the model's arguments, backend, precision, the timing settings, every local
file the arguments name (hashed by content) and the versions of deploybridge, its plugins and the runtimes. A re-run
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
            "versions": versions(cell["family"])}
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
