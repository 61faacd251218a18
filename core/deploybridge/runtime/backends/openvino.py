"""OpenVINO backend (CPU): the artifact's model.onnx read by OpenVINO, compiled with the thread count, saved as IR.

``build`` writes ``openvino.xml`` / ``openvino.bin`` (the IR, float16-compressed weights when ``options["fp16"]``) and
``openvino.json`` (which source it was built from: ``onnx``). ``load`` compiles the IR, or model.onnx when the folder
has none, so ``deploy verify --backend openvino`` runs on an artifact built for another backend. A graph OpenVINO
refuses is a one-line DeployError naming the node and what to do (deploybridge.runtime.backends.openvino_errors).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Mapping

from deploybridge.records import Backend
from deploybridge.runtime.backends import cast_inputs
from deploybridge.runtime.threads import thread_count
from deploybridge.runtime.backends.openvino_errors import refusal

IR_XML, IR_BIN, BUILD_INFO = "openvino.xml", "openvino.bin", "openvino.json"
ONNX = "model.onnx"


def _unavailable() -> str | None:
    try:
        import openvino  # noqa: F401
    except ImportError:
        return "openvino is not installed; run `pip install openvino` in this environment"
    return None


def _version() -> str | None:
    try:
        import openvino

        return openvino.__version__.split("-")[0]  # "2026.4.1-22982-<sha>-releases/...": the release is enough
    except ImportError:
        return None


def compile_config(options: Mapping[str, Any]) -> dict[str, Any]:
    """CPU plugin properties. Precision is pinned to f32: on CPUs with bf16 units (AMX, AVX512-BF16) OpenVINO
    otherwise computes in bfloat16 by default, ~3 significant digits, far outside float32 tolerances."""
    config: dict[str, Any] = {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY"}
    threads = thread_count(options)
    if threads:
        config["INFERENCE_NUM_THREADS"] = threads
    return config


def _fp16(options: Mapping[str, Any]) -> bool:
    return bool(options.get("fp16") or options.get("compress_to_fp16"))


def read_and_compile(path: Path, options: Mapping[str, Any]):
    """(model, compiled model) for CPU; a refusal is a one-line DeployError naming the node (openvino_errors)."""
    import openvino as ov

    core = ov.Core()
    # weights read into memory, not mmapped: a compiled model reads its constants from the mapped openvino.bin, and
    # a rebuild into the same folder (convert --force, the precision search's fp16 round) truncating that file while a
    # runner is alive killed the process with SIGBUS (tests/runtime/backends/test_openvino.py)
    core.set_property({"ENABLE_MMAP": False})
    try:
        model = core.read_model(str(path))
    except Exception as exc:  # the ONNX frontend: an op it has no converter for, a malformed graph
        raise refusal(exc, path, "read", _version()) from exc
    try:
        compiled = core.compile_model(model, "CPU", compile_config(options))
    except Exception as exc:  # the CPU plugin: shape inference or an op it cannot execute
        raise refusal(exc, path, "compile", _version()) from exc
    return model, compiled


def _build(onnx_path: Path, out_dir: Path, options: Mapping[str, Any]) -> list[str]:
    import openvino as ov

    model, _ = read_and_compile(Path(onnx_path), options)  # compiling proves the CPU plugin runs it
    out_dir = Path(out_dir)
    # save_model compresses weights to float16 unless told not to: float32 artifacts keep float32 weights
    ov.save_model(model, str(out_dir / IR_XML), compress_to_fp16=_fp16(options))
    info = {"source": "onnx", "openvino": _version(), "compress_to_fp16": _fp16(options),
            "why": "built from model.onnx, the verified graph every backend shares (ov.convert_model on the PyTorch"
                   " module is not used: it would bypass the rewrites and passes the ONNX carries)"}
    (out_dir / BUILD_INFO).write_text(json.dumps(info, indent=2) + "\n")
    return [IR_XML, IR_BIN, BUILD_INFO]


def _port_name(port, wanted: set[str]) -> str:
    """The ONNX name of a compiled port: OpenVINO keeps it among the tensor's names (a tensor may carry several)."""
    names = port.get_names()
    return next((n for n in sorted(names) if n in wanted), None) or port.get_any_name()


def onnx_output_names(folder: Path) -> set[str]:
    """The graph outputs of the folder's model.onnx, without loading its weights."""
    import onnx

    path = Path(folder) / ONNX
    if not path.is_file():
        return set()
    model = onnx.load(str(path), load_external_data=False)
    return {o.name for o in model.graph.output}


def _load(artifact_dir: Path, manifest: Mapping[str, Any], options: Mapping[str, Any]) -> Callable[[dict], dict]:
    folder = Path(artifact_dir)
    source = folder / IR_XML if (folder / IR_XML).is_file() else folder / ONNX  # IR, or built now (another backend's)
    _, compiled = read_and_compile(source, options)
    declared = onnx_output_names(folder)
    outputs = [(port, _port_name(port, declared)) for port in compiled.outputs]
    # cast to what the engine takes: a float16 engine fed float32 must not fail (seed 000)
    dtypes = {name: port.get_element_type().to_dtype() for port in compiled.inputs for name in port.get_names()}
    request = compiled.create_infer_request()

    def run(inputs: dict) -> dict:
        feed = cast_inputs(inputs, dtypes)
        # share_outputs=False: arrays owned by the caller, not views the next inference overwrites
        results = request.infer(feed, share_outputs=False)
        return {name: results[port] for port, name in outputs}

    return run


BACKEND = Backend(
    name="openvino",
    unavailable=_unavailable,
    build=_build,
    load=_load,
    version=_version,
    description="OpenVINO on CPU (--threads; IR saved in the artifact, float16 weight compression with fp16)",
    order=20,
    precisions=("fp32", "fp16"),
)
