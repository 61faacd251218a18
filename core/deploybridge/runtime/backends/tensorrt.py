"""TensorRT backend (TensorRT 10 and 11, NVIDIA GPUs): model.onnx parsed by TensorRT's ONNX parser into a strongly
typed network, built into ``model.engine`` with its timing cache ``model.timing_cache`` beside it.

* The static lint (``deploybridge.lint.tensorrt``, what ``deploy inspect --trt-lint`` shows) runs before anything
  is built: a graph with an op the parser does not import is refused with the lint's findings, in one line, before
  TensorRT is even imported.
* Precision comes from the ONNX, never from builder flags: TensorRT 11 removed the fp16/int8 flags and weak typing,
  so the network is always strongly typed (``--fp16`` is the ``to_fp16`` pass; int8 is a QDQ graph).
* Dynamic input dimensions get one optimisation profile (min / opt / max per input): ``options["profiles"]``
  ``{input: {"min": [...], "opt": [...], "max": [...]}}`` or ``options["dynamic"]`` (the ``--dynamic`` record a
  manifest keeps under ``preprocessing.dynamic``, for the first input); a free dimension nobody gave a range for is
  refused naming it.
* The runner (``tensorrt_engine.EngineRunner``) binds tensors by name (``set_tensor_address`` +
  ``execute_async_v3``), gives every output to an output allocator (data-dependent sizes: NonZero, NMS) and returns
  outputs keyed by name, never by engine position (seed 001: TensorRT's binding order is not the ONNX order).

TensorRT cannot be installed without an NVIDIA GPU; everything here imports it lazily.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from deploybridge.errors import DeployError
from deploybridge.records import Backend

ENGINE, TIMING_CACHE, ONNX = "model.engine", "model.timing_cache", "model.onnx"
MIN_MAJOR = 10  # named I/O tensors, execute_async_v3 and INT64 I/O; TensorRT 8 bound by index and clamped INT64
INSTALL_HINT = "install it with `pip install tensorrt` on a machine with an NVIDIA GPU and CUDA"

# TensorRT DataType member names -> NumPy dtype names; BF16/FP8/INT4/FP4 have no NumPy type and are refused by name
TRT_TO_NUMPY = {"FLOAT": "float32", "HALF": "float16", "INT8": "int8", "INT32": "int32", "INT64": "int64",
                "BOOL": "bool", "UINT8": "uint8"}


def _unavailable() -> str | None:
    try:
        import tensorrt
    except ImportError:
        return f"TensorRT is not installed (it needs an NVIDIA GPU); {INSTALL_HINT}"
    major = int(str(tensorrt.__version__).split(".")[0])
    if major < MIN_MAJOR:
        return f"TensorRT {tensorrt.__version__} is installed; deploybridge needs TensorRT 10 or 11: pip install 'tensorrt>=10'"
    try:
        import torch
    except ImportError:
        return "TensorRT's runner keeps its tensors in torch.cuda memory; install a CUDA build of torch"
    if not torch.cuda.is_available():
        return "TensorRT is installed but torch sees no CUDA GPU; run on a machine with an NVIDIA GPU and a CUDA build of torch"
    return None


def _version() -> str | None:
    try:
        import tensorrt

        return str(tensorrt.__version__)
    except ImportError:
        return None


def numpy_dtype(trt_name: str) -> str:
    """The NumPy dtype name for a TensorRT DataType member name (``DataType.HALF.name`` -> ``float16``)."""
    name = trt_name.rsplit(".", 1)[-1]
    if name not in TRT_TO_NUMPY:
        raise DeployError(f"TensorRT tensor type {name} has no NumPy equivalent; keep that input/output in"
                          f" {', '.join(TRT_TO_NUMPY)} (e.g. the to_fp16 pass with fp16_io off)")
    return TRT_TO_NUMPY[name]


def lint_refusal(model, what: str) -> str | None:
    """One line listing the lint's errors (what TensorRT's parser refuses), or None when there are none."""
    from deploybridge.lint.tensorrt import lint

    errors = [f for f in lint(model) if f.severity == "error"]
    if not errors:
        return None
    shown = "; ".join(f"{f.node} ({f.op}): {f.detail}" + (f" [fix: {f.fix}]" if f.fix else "") for f in errors[:3])
    more = f" and {len(errors) - 3} more" if len(errors) > 3 else ""
    return (f"TensorRT would refuse {what}: {shown}{more}; `deploy inspect ARTIFACT --trt-lint` lists every finding,"
            " fix them (a pass, a rewrite) or choose another --backend")


def input_dims(model) -> list[tuple[str, list[int | str | None]]]:
    """(name, dims) of each graph input: an int per fixed dim, the dim's name (or None) per free one; None dims when
    the input has no shape at all (an engine segment fed by a host step)."""
    init = {i.name for i in model.graph.initializer}
    found = []
    for value in model.graph.input:
        if value.name in init:
            continue
        tensor = value.type.tensor_type
        dims = None if not tensor.HasField("shape") else [
            d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in tensor.shape.dim]
        found.append((value.name, dims))
    return found


def profile_ranges(options: Mapping[str, Any], first_input: str | None) -> dict[str, dict[str, list[int]]]:
    """``{input: {"min", "opt", "max"}}`` from ``options["profiles"]``, or from the ``--dynamic`` record
    (``options["dynamic"]``, as in a manifest's ``preprocessing.dynamic``), which describes the first input."""
    profiles = {k: dict(v) for k, v in (options.get("profiles") or {}).items()}
    dynamic = options.get("dynamic")
    if dynamic and first_input and first_input not in profiles:
        profiles[first_input] = {k: list(dynamic[k]) for k in ("min", "opt", "max")}
    return profiles


def profile_shapes(inputs: Sequence[tuple[str, Sequence[int | str | None] | None]],
                   profiles: Mapping[str, Mapping[str, Sequence[int]]]) -> dict[str, tuple[tuple[int, ...], ...]]:
    """(min, opt, max) shapes for every input with a free dimension; fixed inputs need none. A fixed dimension keeps
    its size at all three; a free one takes the given range. Refused in one line: an input without a rank, a free
    dimension without a range, a range that contradicts a fixed size or is not min <= opt <= max."""
    shapes: dict[str, tuple[tuple[int, ...], ...]] = {}
    for name, dims in inputs:
        if dims is None:
            raise DeployError(f"input '{name}' has no shape in the ONNX (an engine segment fed by a host step?);"
                              " TensorRT needs every input's rank and a range for its free dimensions: convert without"
                              " --truncate-nms / host placement for --backend tensorrt")
        free = [i for i, d in enumerate(dims) if not isinstance(d, int) or d <= 0]
        if not free:
            continue
        given = profiles.get(name)
        if not given and all(dims[i] is None for i in free):  # unnamed: a size only a host step knows at run time
            raise DeployError(f"input '{name}' has data-dependent dimension(s) {', '.join(f'dim {i}' for i in free)}"
                              " (an engine segment fed by a host step?), for which TensorRT has no range: give"
                              " options['profiles'], or convert without --truncate-nms / host placement")
        if not given:
            names = ", ".join(str(dims[i] or f"dim {i}") for i in free)
            raise DeployError(f"input '{name}' has free dimension(s) {names}; TensorRT needs their min/opt/max: convert"
                              " with --dynamic and --min-shape/--max-shape, or with a fixed --input-shape")
        low, opt, high = (tuple(int(v) for v in given[k]) for k in ("min", "opt", "max"))
        if not len(low) == len(opt) == len(high) == len(dims):
            raise DeployError(f"the profile for '{name}' has ranks {len(low)}/{len(opt)}/{len(high)}; the input has rank {len(dims)}")
        for i, d in enumerate(dims):
            if i not in free and not low[i] == opt[i] == high[i] == d:
                raise DeployError(f"the profile for '{name}' changes dim {i}, which the ONNX fixes at {d}")
            if not 0 <= low[i] <= opt[i] <= high[i]:
                raise DeployError(f"the profile for '{name}' dim {i} is not 0 <= min <= opt <= max: {low[i]}, {opt[i]}, {high[i]}")
        shapes[name] = (low, opt, high)
    return shapes


def _build(onnx_path: Path, out_dir: Path, options: Mapping[str, Any]) -> list[str]:
    """Lint, then build ``model.engine`` and ``model.timing_cache`` into ``out_dir``."""
    engine, cache = build_bytes(Path(onnx_path), options)
    (Path(out_dir) / ENGINE).write_bytes(engine)
    (Path(out_dir) / TIMING_CACHE).write_bytes(cache)
    return [ENGINE, TIMING_CACHE]


def build_bytes(onnx_path: Path, options: Mapping[str, Any]) -> tuple[bytes, bytes]:
    """(serialized engine, timing cache). The lint and the profile checks run first, without TensorRT."""
    import onnx

    model = onnx.load(str(onnx_path), load_external_data=False)
    refusal = lint_refusal(model, onnx_path.name)
    if refusal:
        raise DeployError(refusal)
    inputs = input_dims(model)
    shapes = profile_shapes(inputs, profile_ranges(options, inputs[0][0] if inputs else None))
    from deploybridge.runtime.backends import tensorrt_engine

    cache_path = options.get("timing_cache")  # an earlier build's cache makes a rebuild fast
    previous = Path(cache_path).read_bytes() if cache_path and Path(cache_path).is_file() else b""
    return tensorrt_engine.build_engine(onnx_path, shapes, options, previous)


def _load(artifact_dir: Path, manifest: Mapping[str, Any], options: Mapping[str, Any]) -> Callable[[dict], dict]:
    """A runner for ``model.engine``; an artifact built for another backend is built here, in memory (its files are
    checksummed: nothing is written into it)."""
    from deploybridge.runtime.backends import tensorrt_engine

    folder = Path(artifact_dir)
    if (folder / ENGINE).is_file():
        engine = (folder / ENGINE).read_bytes()
    else:
        dynamic = (manifest.get("preprocessing") or {}).get("dynamic")
        engine, _ = build_bytes(folder / ONNX, {**({"dynamic": dynamic} if dynamic else {}), **options})
    return tensorrt_engine.EngineRunner(engine, onnx_outputs(folder / ONNX))


def onnx_outputs(path: Path) -> list[str] | None:
    """The output names the engine must give (the folder's ONNX: the artifact's, or one segment's), None if absent."""
    import onnx

    if not path.is_file():
        return None
    return [o.name for o in onnx.load(str(path), load_external_data=False).graph.output]


BACKEND = Backend(
    name="tensorrt",
    unavailable=_unavailable,
    build=_build,
    load=_load,
    version=_version,
    description="NVIDIA TensorRT 10/11 (GPU): strongly typed engine from model.onnx, linted before the build",
    order=40,
    precisions=("fp32", "fp16"),
)
