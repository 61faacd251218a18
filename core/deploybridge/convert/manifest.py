"""The artifact's manifest: everything needed to re-load, re-verify and call the artifact (the checksum of every
file is added by ``artifact.finish`` once all of them are written)."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Sequence

from deploybridge.convert import artifact, onnx_io
from deploybridge.records import LoadedModel, ModelSpec


def build_manifest(*, spec: ModelSpec, loaded: LoadedModel, model: Any, owner: str, backend: Any,
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
