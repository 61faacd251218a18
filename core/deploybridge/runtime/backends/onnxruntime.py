"""ONNX Runtime backend: the default, CPU unless providers say otherwise."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping

from deploybridge.errors import DeployError, first_line
from deploybridge.records import Backend
from deploybridge.runtime.backends import cast_inputs
from deploybridge.runtime.threads import thread_count

ERROR_ONLY = 3  # ORT's log severity: 0 verbose .. 4 fatal; warnings drown users


def _unavailable() -> str | None:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return "onnxruntime is not installed; run `pip install onnxruntime` in this environment"
    return None


def _version() -> str | None:
    try:
        import onnxruntime

        return onnxruntime.__version__
    except ImportError:
        return None


ONNX_TO_NUMPY = {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(double)": "float64",
                 "tensor(int64)": "int64", "tensor(int32)": "int32", "tensor(uint8)": "uint8", "tensor(bool)": "bool"}


def make_session(path: Path, options: Mapping[str, Any]):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = ERROR_ONLY
    threads = thread_count(options)
    if threads:
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
    providers = list(options.get("providers") or ["CPUExecutionProvider"])
    missing = [p for p in providers if p not in ort.get_available_providers()]
    if missing:
        raise DeployError(
            f"onnxruntime provider(s) {', '.join(missing)} not available here"
            f" (available: {', '.join(ort.get_available_providers())}); pick one of those with --provider"
        )
    try:
        return ort.InferenceSession(str(path), so, providers=providers)
    except Exception as exc:
        raise DeployError(f"onnxruntime cannot load {path}: {first_line(exc)}") from exc


def _build(onnx_path: Path, out_dir: Path, options: Mapping[str, Any]) -> list[str]:
    # ORT runs model.onnx as is; building means proving it loads with these providers.
    make_session(onnx_path, options)
    return []


def _load(artifact_dir: Path, manifest: Mapping[str, Any], options: Mapping[str, Any]) -> Callable[[dict], dict]:
    session = make_session(Path(artifact_dir) / "model.onnx", options)
    names = [o.name for o in session.get_outputs()]
    # cast to what the engine takes: a float16 engine fed float32 must not fail (seed 000)
    dtypes = {i.name: ONNX_TO_NUMPY.get(i.type) for i in session.get_inputs()}

    def run(inputs: dict) -> dict:
        return dict(zip(names, session.run(None, cast_inputs(inputs, dtypes))))

    return run


BACKEND = Backend(
    name="onnxruntime",
    unavailable=_unavailable,
    build=_build,
    load=_load,
    version=_version,
    description="ONNX Runtime (CPU by default; --provider picks execution providers)",
    order=10,
    # int8: static QDQ from deploybridge.convert.quantize; both lowered by deploybridge.convert.precision_search
    precisions=("fp32", "fp16", "int8"),
)
