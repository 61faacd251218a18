"""The artifact's manifest: everything needed to re-load, re-verify and call the artifact (the checksum of every
file is added by ``artifact.finish`` once all of them are written), and whether the artifact is verified."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Sequence

from deploybridge.convert import onnx_io
from deploybridge.errors import DeployError
from deploybridge.records import LoadedModel, ModelSpec

FORMAT = "deploybridge-artifact/2"  # manifest "files" lists every file of the folder but manifest.json
OLD_FORMATS = ("deploybridge-artifact/1",)  # "files" lists model.onnx only; still read, only model.onnx checked


def build_manifest(*, spec: ModelSpec, loaded: LoadedModel, model: Any, owner: str, backend: Any,
                   opts: Any, export_info: Any, reason: str, rewrites: Any, passes: Sequence[str],
                   engine_files: Sequence[str], seeds: Sequence[int], verification: Any, evaluation: Any,
                   versions: dict, host_ops: Any = None) -> dict:
    from deploybridge.runtime import segments

    sig = onnx_io.signature(model)
    per_detection = {o.name for o in loaded.outputs if o.per_detection}
    return {
        "format": FORMAT,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        # every check of the conversion passed (verification, and --eval if given); false: kept for debugging only, and
        # `deploy run` / `threshold` / `bench` refuse it without --allow-unverified (see require_verified)
        "verified": bool(verification.passed and (evaluation is None or evaluation.passed)),
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
        "framework_parity": verification.framework,
        "evaluation": evaluation.to_json() if evaluation else None,
        "files": None,  # every file with its sha256: set by artifact.finish once all of them are written
        "versions": versions,
    }


def is_verified(manifest: Mapping[str, Any]) -> bool:
    """Whether the conversion that wrote this manifest passed every check. Manifests written before the "verified"
    marker: their verification passed (inconclusive-not-accepted is recorded as not passed) and so did --eval."""
    if "verified" in manifest:
        return manifest["verified"] is True
    evaluation = manifest.get("evaluation")
    return (manifest.get("verification") or {}).get("passed") is True and (not evaluation or evaluation.get("passed", True))


def require_verified(manifest: Mapping[str, Any], folder: Path, allow_unverified: bool) -> str | None:
    """Every consumer of an artifact's engine (`deploy run`, `deploy threshold`, `deploy bench`) calls this: an
    unverified artifact is refused (exit 2) unless ``allow_unverified``; then the returned line is printed as a
    warning, so it is never used silently. None for a verified artifact."""
    if is_verified(manifest):
        return None
    why = (manifest.get("verification") or {}).get("summary") or "its conversion did not pass verification"
    line = f"{folder} is unverified (its conversion failed: {why.splitlines()[0]})"
    if not allow_unverified:
        raise DeployError(f"{line}; fix it and re-run `deploy convert`, see `deploy verify {folder}`,"
                          " or pass --allow-unverified to use it anyway")
    return f"{line}; used anyway because of --allow-unverified"
