"""The artifact's manifest: everything needed to re-load, re-verify and call the artifact, and the checksum of
every file it came with."""
from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from deploybridge.convert import artifact
from deploybridge.convert import onnx_io
from deploybridge.errors import DeployError
from deploybridge.records import LoadedModel, ModelSpec


def build_manifest(*, spec: ModelSpec, loaded: LoadedModel, model: Any, onnx_path: Path, owner: str, backend: Any,
                   opts: Any, export_info: Any, reason: str, rewrites: Any, passes: Sequence[str],
                   engine_files: Sequence[str], seeds: Sequence[int], verification: Any, evaluation: Any,
                   versions: dict, host_ops: Any = None) -> dict:
    from deploybridge.runtime import segments

    sig = onnx_io.signature(model)
    per_detection = {o.name for o in loaded.outputs if o.per_detection}
    return {
        "format": artifact.FORMAT,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "spec": spec.to_json(),
        "plugin": {"name": owner, "version": versions.get(f"plugin:{owner}")},
        "inputs": sig["inputs"],
        "outputs": [{**o, "per_detection": o["name"] in per_detection} for o in sig["outputs"]],
        "preprocessing": dict(loaded.preprocessing),
        # the dynamo exporter may write another opset than asked for: record what the file has
        "export": {"exporter": export_info.exporter, "reason": reason, "opset": onnx_io.opsets(model).get("ai.onnx"),
                   "requested_opset": opts.opset, "seconds": round(export_info.seconds, 2),
                   "dynamic_axes": {k: dict(v) for k, v in (loaded.dynamic_axes or {}).items()}},
        "rewrites": rewrites.to_json(),
        "export_warnings": export_info.triage,
        "passes": list(passes),
        "segments": segments.describe(model, host_ops),  # None: one engine; else engine segments and host steps in order
        "backend": {"name": backend.name, "files": list(engine_files), "options": dict(opts.backend_options)},
        "task": loaded.task,
        "categories": list(loaded.categories) if loaded.categories else None,
        "tolerances": verification.tolerances,
        "task_tolerances": verification.task_tolerances,
        "verification": {"seeds": list(seeds), "passed": verification.passed, "inconclusive": verification.inconclusive,
                         "summary": verification.summary(),
                         "details": verification.to_json()},
        "evaluation": evaluation.to_json() if evaluation else None,
        "files": None,  # every file with its sha256: set by artifact.finish once all of them are written
        "versions": versions,
    }


def _present(folder: Path) -> list[str]:
    """Every file under ``folder`` but the manifest's own, as sorted POSIX paths relative to it."""
    found = [(Path(root) / f).relative_to(folder).as_posix() for root, _, files in os.walk(folder) for f in files]
    return sorted(p for p in found if p not in (artifact.MANIFEST, artifact.MANIFEST_TMP))


def list_files(folder: Path) -> dict[str, dict]:
    folder = Path(folder)
    return {rel: {"sha256": artifact.sha256(folder / rel), "bytes": (folder / rel).stat().st_size} for rel in _present(folder)}


def check_files(folder: Path, manifest: dict) -> None:
    """Raise DeployError naming the first file that is missing, modified, or present but not listed (format /1
    manifests list model.onnx only, so for them unlisted files are not an error)."""
    folder = Path(folder)
    listed = manifest.get("files") or {}
    for rel, entry in listed.items():
        path = folder / rel
        if not path.is_file():
            raise DeployError(f"{path} is missing (listed in {artifact.MANIFEST}); the artifact is incomplete: re-run `deploy convert`")
        if artifact.sha256(path) != (entry or {}).get("sha256"):
            raise DeployError(f"{path} does not match the checksum in its manifest (modified after conversion?); re-run `deploy convert`")
    if manifest.get("format") in artifact.OLD_FORMATS:
        return
    for rel in _present(folder):
        if rel not in listed:
            raise DeployError(f"{folder / rel} is not listed in {artifact.MANIFEST} (added after conversion?); delete it or re-run `deploy convert`")
