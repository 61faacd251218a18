"""TorchScript backend: the PyTorch module itself, traced (``torch.jit.trace``) and saved as ``model.pt``.

Built from the module, not from ``model.onnx`` (which is still exported and kept as the inspectable reference).
``--fp16`` casts the module to float16 before tracing, so constants the trace records are float16 too, and the
runner casts float inputs to float16 itself: callers keep passing float32 (seed 000's half-precision TorchScript
failed because the input was not cast). ``torchscript.json`` beside the module records how it was made and the
input / output names in the module's order, which the runner feeds and returns by name.
"""
from __future__ import annotations

import json
import re
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from deploybridge.errors import DeployError, first_line
from deploybridge.records import Backend
from deploybridge.runtime.threads import thread_count

MODULE_FILE = "model.pt"
INFO_FILE = "torchscript.json"

# CPU kernels without a float16 instantiation fail with e.g. `"avg_pool3d_out_frame" not implemented for 'Half'`
_NO_HALF_KERNEL = re.compile(r"\"([\w:.]+)\" not implemented for 'Half'")


def _unavailable() -> str | None:
    return None  # torch is a dependency of deploybridge itself


def _version() -> str | None:
    import torch

    return torch.__version__


def _build(onnx_path: Path, out_dir: Path, options: Mapping[str, Any]) -> list[str]:
    raise DeployError("a TorchScript module is traced from the PyTorch model, not made from an ONNX file;"
                      " convert with `deploy convert --backend torchscript`")


def _cast_floats(tensors: Sequence[Any], dtype) -> tuple:
    """Float tensors to ``dtype``; integer and bool tensors (sizes, indices) as they are."""
    return tuple(t.to(dtype) if t.is_floating_point() else t for t in tensors)


def half_kernel_error(exc: BaseException) -> DeployError | None:
    """The one-line error for an op that has no float16 CPU kernel, naming it; None for other failures."""
    text = str(exc)
    found = _NO_HALF_KERNEL.search(text)
    if found:
        return DeployError(f"torchscript --fp16: '{found.group(1)}' has no float16 kernel on CPU; convert without"
                           " --fp16 (float32), or replace that op in the model")
    if "Half" in text or "float16" in text:  # e.g. "linalg.inv: Low precision dtypes not supported. Got Half"
        said = interpreter_cause(exc)[:160] if "TorchScript interpreter" in text else first_line(exc, 160)
        return DeployError(f"torchscript --fp16: an op does not run in float16 on CPU ({said});"
                           " convert without --fp16")
    return None


def interpreter_cause(exc: BaseException) -> str:
    """The error behind a TorchScript interpreter failure, whose message starts "The following operation failed in the
    TorchScript interpreter." and ends with the original error (e.g. a split size the trace kept as a constant)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__


@contextmanager
def _quiet(tracing: bool = False):
    """torch 2.14 deprecates torch.jit (a FutureWarning on every trace, save and load): said once in
    docs/backends.md, not on every call. While tracing, every warning: the ONNX export traced the same module just
    before and reported the same warnings with their triage (report.json); verification decides if the trace is right."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", r"`torch\.jit\.\w+` is deprecated", FutureWarning)
        if tracing:
            warnings.simplefilter("ignore")
        yield


def _trace(module, example: tuple, fp16: bool):
    import torch

    with _quiet(tracing=True):
        try:
            traced = torch.jit.trace(module, example, check_trace=False)
            if fp16:  # run it once: a missing float16 kernel is found here, not by the first caller
                with torch.inference_mode():
                    traced(*example)
        except RuntimeError as exc:
            named = half_kernel_error(exc) if fp16 else None
            if named is not None:
                raise named from exc
            cause = interpreter_cause(exc) if "TorchScript interpreter" in str(exc) else first_line(exc, 200)
            raise DeployError(f"torch.jit.trace cannot trace this model: {cause[:200]};"
                              " use another backend (e.g. --backend onnxruntime)") from exc
    return traced


def _build_from_module(loaded, example: Sequence[Any], out_dir: Path, options: Mapping[str, Any]) -> list[str]:
    import copy

    import torch

    fp16 = bool(options.get("fp16"))
    module, inputs = loaded.module, tuple(example)
    if fp16:  # a copy: the reference keeps running the float32 module
        module = copy.deepcopy(module).half()
        inputs = _cast_floats(inputs, torch.float16)
    traced = _trace(module, inputs, fp16)
    with _quiet():
        torch.jit.save(traced, str(Path(out_dir) / MODULE_FILE))
    info = {"method": "trace", "fp16": fp16, "inputs": list(loaded.input_names), "outputs": list(loaded.output_names),
            "input_dtypes": [str(t.dtype).replace("torch.", "") for t in inputs], "torch": torch.__version__}
    (Path(out_dir) / INFO_FILE).write_text(json.dumps(info, indent=2) + "\n")
    return [MODULE_FILE, INFO_FILE]


def _read_info(folder: Path, manifest: Mapping[str, Any]) -> dict:
    """How the module was made; written before torchscript.json existed or lost: the manifest's names, float32."""
    path = folder / INFO_FILE
    if path.is_file():
        return json.loads(path.read_text())
    return {"fp16": False, "inputs": [i["name"] for i in manifest.get("inputs", [])],
            "outputs": [o["name"] for o in manifest.get("outputs", [])]}


def _register_custom_ops() -> None:
    """A traced detector calls torchvision::nms / roi_align; torch.jit.load fails with 'Unknown builtin op' in a process
    that has not imported torchvision (deploy run, bench's separate RSS process), so import it when it is there."""
    try:
        import torchvision  # noqa: F401
    except ImportError:
        pass


def _load(artifact_dir: Path, manifest: Mapping[str, Any], options: Mapping[str, Any]) -> Callable[[dict], dict]:
    import numpy as np
    import torch

    folder = Path(artifact_dir)
    if not (folder / MODULE_FILE).is_file():
        built = (manifest.get("backend") or {}).get("name") or "another backend"
        raise DeployError(f"{folder} has no {MODULE_FILE} (it was built for {built}); verify it with --backend {built},"
                          " or convert the model with --backend torchscript")
    info = _read_info(folder, manifest)
    _register_custom_ops()
    if thread_count(options):
        torch.set_num_threads(thread_count(options))  # process-wide in torch: there is no per-module setting
    try:
        with _quiet():
            module = torch.jit.load(str(folder / MODULE_FILE), map_location="cpu").eval()
    except Exception as exc:
        raise DeployError(f"torch.jit.load cannot load {folder / MODULE_FILE}: {first_line(exc)}; re-run `deploy convert`") from exc
    in_names, out_names = list(info["inputs"]), list(info["outputs"])
    half = torch.float16 if info.get("fp16") else None

    def run(inputs: dict) -> dict:
        missing = [n for n in in_names if n not in inputs]
        if missing:
            raise DeployError(f"the TorchScript module takes inputs {in_names}; missing {missing}")
        tensors = tuple(torch.from_numpy(np.ascontiguousarray(inputs[n])) for n in in_names)
        if half is not None:  # cast here, so callers keep passing float32 (seed 000)
            tensors = _cast_floats(tensors, half)
        with torch.inference_mode():
            try:
                out = module(*tensors)
            except RuntimeError as exc:  # the interpreter's first line says only where; the cause is its last line
                raise RuntimeError(f"the TorchScript module failed: {interpreter_cause(exc)}") from exc
        out = (out,) if isinstance(out, torch.Tensor) else tuple(out)
        if len(out) != len(out_names):
            raise DeployError(f"the TorchScript module returned {len(out)} outputs, the artifact declares {out_names};"
                              " re-run `deploy convert`")
        # float16 outputs back to float32: the artifact's declared output types are model.onnx's
        return {n: (t.float() if t.dtype == torch.float16 else t).numpy() for n, t in zip(out_names, out)}

    return run


BACKEND = Backend(
    name="torchscript",
    unavailable=_unavailable,
    build=_build,
    load=_load,
    version=_version,
    description="TorchScript (torch.jit.trace of the PyTorch module, CPU; --fp16 casts module and inputs)",
    order=30,
    build_from_module=_build_from_module,
    precisions=("fp32", "fp16"),
)
