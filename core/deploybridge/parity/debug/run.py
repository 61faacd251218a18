"""debug_artifact: the artifact folder in, a :class:`~deploybridge.parity.debug.search.DebugResult` out."""
from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Mapping

from deploybridge.errors import DeployError
from deploybridge.parity.debug import divergence as div
from deploybridge.parity.debug import search
from deploybridge.parity.debug.fixes import suggest
from deploybridge.records import ModelSpec

DEBUGGABLE = "onnxruntime, openvino and other backends built from model.onnx"


def _input(loaded, manifest: Mapping[str, Any], image: str | None):
    """(torch inputs, numpy feed, what the input is) for the first verification seed, or the user's image."""
    from deploybridge.parity.user_inputs import accepting_images

    seed: Any = image
    if seed is None:
        seeds = [s for s in manifest["verification"]["seeds"] if not isinstance(s, str) or Path(s).is_file()]
        if not seeds:
            raise DeployError("none of the images this artifact was verified on exist any more; give --inputs IMAGE")
        seed = seeds[0]
    if isinstance(seed, str):
        loaded = accepting_images(loaded, manifest.get("preprocessing"))
    torch_inputs = loaded.make_inputs(seed)
    feed = {n: t.detach().cpu().numpy() for n, t in zip(loaded.input_names, torch_inputs)}
    return torch_inputs, feed, str(seed)


def _lowered_fp16(folder: Path, scratch: Path):
    import onnx

    from deploybridge.convert.precision_search import _lower

    out = scratch / "fp16.onnx"
    _lower("fp16", folder / "model.onnx", out, [], None, scratch, False)
    return onnx.load(str(out))


def _body_modules(model, between: list[dict], modules: Mapping[str, object]) -> list[str]:
    """The modules of the nodes inside the If/Loop/Scan bodies among ``between``: their tensors cannot be read out,
    so they are reported at their parent node, with the modules they came from."""
    from deploybridge.parity.debug.scopes import body_nodes, node_scope

    parents = {row["node"] for row in between if row["op"] in ("If", "Loop", "Scan")}
    found = [node_scope(node, modules).module for node, parent in body_nodes(model) if parent in parents]
    return list(dict.fromkeys(m for m in found if m is not None))


def debug_artifact(host, folder: Path, backend_name: str | None = None, image: str | None = None,
                   fp16: bool = False, rtol: float = div.RTOL, atol: float = div.ATOL,
                   on_step: Callable[[str], None] | None = None) -> search.DebugResult:
    import onnx

    from deploybridge.convert import artifact
    from deploybridge.convert.resolve import load_model, resolve_backend, resolve_family

    start = time.perf_counter()
    folder = Path(folder)
    manifest = artifact.read_manifest(folder)
    backend = resolve_backend(host, backend_name or manifest["backend"]["name"])
    if backend.build_from_module is not None:
        raise DeployError(f"deploy debug reads model.onnx node by node; backend '{backend.name}' is built from the"
                          f" PyTorch module, not from it: debug the artifact with --backend onnxruntime ({DEBUGGABLE})")
    spec = ModelSpec.from_json(manifest["spec"])
    family = resolve_family(host, spec, manifest["plugin"]["name"])
    loaded = load_model(family, spec)
    torch_inputs, feed, what = _input(loaded, manifest, image)
    options = {**manifest["backend"].get("options", {}), "threads": 1}
    engine = search.backend_engine(backend, options)
    precision = "fp16" if fp16 else (manifest.get("precision") or {}).get("mode", "fp32")
    model = onnx.load(str(folder / artifact.MODEL))
    seconds = {"load": round(time.perf_counter() - start, 2)}
    with tempfile.TemporaryDirectory(prefix="deploybridge-debug-") as scratch:
        if fp16 or engine is not None:  # where the backend or the precision departs from float32 ONNX Runtime
            lowered = _lowered_fp16(folder, Path(scratch)) if fp16 else model
            errors, scopes = search.compare_with_fp32(lowered, model, dict(loaded.module.named_modules()), feed,
                                                      host.host_ops(), engine, rtol, atol, on_step)
            reference, model = "onnxruntime-fp32", lowered
        else:
            errors, scopes = search.compare_with_pytorch(model, loaded, torch_inputs, feed, host.host_ops(), engine,
                                                         rtol, atol, on_step)
            reference = "pytorch"
    seconds["compare"] = round(time.perf_counter() - start - seconds["load"], 2)
    result = search.DebugResult(str(folder), backend.name, reference, precision, what, errors,
                                nodes=len(model.graph.node), seconds=seconds,
                                unmapped_nodes=sum(s.module is None for s in scopes))
    result.first = div.locate(model, errors, list(feed))
    if result.first is not None:
        modules = dict(loaded.module.named_modules())
        result.first.body_modules = _body_modules(model, result.first.between, modules)
        result.first.fixes = suggest(host, manifest, model, result.first, modules)
    if precision != "fp32":
        result.worst_own = search.own_errors(model, errors, list(feed))
    return result
