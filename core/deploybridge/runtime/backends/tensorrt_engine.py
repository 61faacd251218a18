"""The TensorRT API calls of the TensorRT backend: building a serialized engine, and running one by tensor name.

Written against the TensorRT 10 and 11 Python APIs as NVIDIA's API reference and 10.x -> 11.x migration guide
describe them (this project's CI has no GPU: tests/runtime/backends/test_tensorrt.py runs it where TensorRT is):
``create_network`` with the STRONGLY_TYPED flag (required in 10 for ONNX-given precision, default and ignored in
11; EXPLICIT_BATCH is gone), ``OnnxParser.parse_from_file``, a WORKSPACE memory-pool limit, one optimisation
profile for free input dimensions, a timing cache serialized beside the engine, ``build_serialized_network``;
at run time ``deserialize_cuda_engine``, ``num_io_tensors`` / ``get_tensor_name`` / ``get_tensor_mode`` /
``get_tensor_dtype``, ``set_input_shape``, ``set_tensor_address`` + ``execute_async_v3``, and an
``IOutputAllocator`` for every output, so data-dependent output sizes (NonZero, NonMaxSuppression) need no
worst-case buffer. Device memory is torch.cuda's (no pycuda / cuda-python dependency); TensorRT and torch are
imported only when a build or a run happens.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from deploybridge.errors import DeployError, first_line

DEFAULT_WORKSPACE_MB = 2048


def network_flags(trt: Any) -> int:
    """Strongly typed: the ONNX's types are the engine's (TensorRT 11 has no other mode and ignores the flag)."""
    flag = getattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED", None)
    return 1 << int(flag) if flag is not None else 0


def _parser_refusal(parser: Any, path: Path) -> str:
    errors = [first_line(str(parser.get_error(i))) for i in range(parser.num_errors)]
    shown = errors[0] if errors else "no error recorded"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return (f"TensorRT's ONNX parser refused {path.name}: {shown}{more}; run `deploy inspect ARTIFACT --trt-lint`"
            " and fix the node it names, or choose another --backend")


def build_engine(onnx_path: Path, shapes: Mapping[str, tuple], options: Mapping[str, Any],
                 previous_cache: bytes = b"") -> tuple[bytes, bytes]:
    """(serialized engine, serialized timing cache) for ``onnx_path``; ``shapes``: input -> (min, opt, max)."""
    import tensorrt as trt

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(network_flags(trt))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):  # from the file: external weights are found beside it
        raise DeployError(_parser_refusal(parser, onnx_path))
    config = builder.create_builder_config()
    workspace = int(options.get("workspace_mb") or DEFAULT_WORKSPACE_MB) << 20
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace)
    cache = config.create_timing_cache(previous_cache)
    config.set_timing_cache(cache, ignore_mismatch=False)
    if shapes:
        profile = builder.create_optimization_profile()
        for name, (low, opt, high) in shapes.items():
            profile.set_shape(name, low, opt, high)
        config.add_optimization_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise DeployError(f"TensorRT could not build an engine from {onnx_path.name} (its log above says why); try a"
                          f" larger workspace (backend option workspace_mb, now {workspace >> 20}) or another --backend")
    return bytes(serialized), bytes(config.get_timing_cache().serialize())


def _allocator(trt: Any, torch: Any):
    """An IOutputAllocator keeping one growable torch.cuda byte buffer per output and the shape TensorRT reports."""

    class OutputAllocator(trt.IOutputAllocator):
        def __init__(self) -> None:
            trt.IOutputAllocator.__init__(self)
            self.buffers: dict[str, Any] = {}
            self.shapes: dict[str, tuple[int, ...]] = {}

        def reallocate_output(self, tensor_name, memory, size, alignment):
            # at least one byte: an empty output (no detection) still needs a valid, non-null address
            buffer = self.buffers.get(tensor_name)
            if buffer is None or buffer.numel() < max(int(size), 1):
                buffer = torch.empty(max(int(size), 1), dtype=torch.uint8, device="cuda")  # 256-byte aligned
                self.buffers[tensor_name] = buffer
            return buffer.data_ptr()

        def reallocate_output_async(self, tensor_name, memory, size, alignment, stream):
            return self.reallocate_output(tensor_name, memory, size, alignment)

        def notify_shape(self, tensor_name, shape):
            self.shapes[tensor_name] = tuple(int(d) for d in shape)

    return OutputAllocator()


def check_outputs(expected: Sequence[str] | None, engine_outputs: Sequence[str]) -> None:
    """Every output the ONNX declares is an engine output, found by name (the engine's order is its own)."""
    missing = [n for n in expected or () if n not in engine_outputs]
    if missing:
        raise DeployError(f"the TensorRT engine has no output {', '.join(missing)} (it has {', '.join(engine_outputs)});"
                          " rebuild it from this artifact: deploy convert --backend tensorrt --force")


class EngineRunner:
    """``runner(inputs: dict) -> dict`` for a serialized engine: tensors bound by name, outputs returned by name."""

    def __init__(self, engine_bytes: bytes, expected_outputs: Sequence[str] | None = None) -> None:
        import tensorrt as trt
        import torch

        from deploybridge.runtime.backends.tensorrt import numpy_dtype

        self._torch = torch
        self._runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        self.engine = self._runtime.deserialize_cuda_engine(engine_bytes)
        if self.engine is None:
            raise DeployError("TensorRT could not load model.engine (built by another TensorRT version or for another"
                              " GPU?); rebuild it here: deploy convert --backend tensorrt --force")
        self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        self.inputs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        self.outputs = [n for n in names if n not in self.inputs]
        check_outputs(expected_outputs, self.outputs)
        host_shapes = [n for n in self.inputs if self.engine.is_shape_inference_io(n)]
        if host_shapes:
            raise DeployError(f"input(s) {', '.join(host_shapes)} are shape tensors, which this runner does not feed;"
                              " export them as constants or choose another --backend")
        self.dtypes = {n: np.dtype(numpy_dtype(self.engine.get_tensor_dtype(n).name)) for n in names}
        self.allocator = _allocator(trt, torch)
        for name in self.outputs:
            self.context.set_output_allocator(name, self.allocator)
        self.stream = torch.cuda.Stream()  # not the legacy default stream, which synchronises with everything

    def _shape_refusal(self, name: str, shape: tuple) -> DeployError:
        fixed = tuple(self.engine.get_tensor_shape(name))
        if all(d >= 0 for d in fixed):
            return DeployError(f"input '{name}' has shape {shape}; the TensorRT engine takes {fixed}")
        low, _, high = (tuple(s) for s in self.engine.get_tensor_profile_shape(name, 0))
        return DeployError(f"input '{name}' has shape {shape}; the TensorRT engine takes {low} to {high}")

    def _to_device(self, name: str, value: Any):
        array = np.ascontiguousarray(np.asarray(value).astype(self.dtypes[name], copy=False))
        if not self.context.set_input_shape(name, tuple(array.shape)):
            raise self._shape_refusal(name, tuple(array.shape))
        device = self._torch.empty(max(array.nbytes, 1), dtype=self._torch.uint8, device="cuda")
        if array.nbytes:
            device[: array.nbytes].copy_(self._torch.from_numpy(array.reshape(-1).view(np.uint8)))
        self.context.set_tensor_address(name, device.data_ptr())
        return device

    def _read(self, name: str) -> np.ndarray:
        shape, dtype = self.allocator.shapes[name], self.dtypes[name]
        nbytes = math.prod(shape) * dtype.itemsize
        if nbytes == 0:
            return np.zeros(shape, dtype)
        raw = self.allocator.buffers[name][:nbytes].cpu().numpy()
        return raw.view(dtype).reshape(shape)

    def __call__(self, inputs: dict) -> dict:
        missing = [n for n in self.inputs if n not in inputs]
        if missing:
            raise DeployError(f"the TensorRT engine needs input(s) {', '.join(missing)}; got {', '.join(inputs)}")
        with self._torch.cuda.stream(self.stream):
            kept = [self._to_device(name, inputs[name]) for name in self.inputs]  # alive until the run is done
            if not self.context.execute_async_v3(self.stream.cuda_stream):
                raise DeployError("TensorRT failed to run the engine (its log above says why)")
            self.stream.synchronize()
        del kept
        return {name: self._read(name) for name in self.outputs}
