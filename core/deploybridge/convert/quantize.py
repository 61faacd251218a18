"""int8 for ONNX-built backends: static QDQ quantization with ``onnxruntime.quantization``, calibrated on images fed
as ``deploy run`` feeds them.

The float32 ``model.onnx`` (after the graph passes) is what int8 starts from. Calibration images come from
``--calibration DIR`` (each read and fed through the model's own preprocessing, ``parity.user_inputs``, the path
``deploy run`` uses) or else from the family's inputs at calibration seeds (``synthetic_inputs.calibration_seeds``:
fresh shapes scenes for the embedded shapes models, never a verification image).

A graph with host steps (``deploybridge::*`` nodes, run in NumPy) cannot be run by ONNX Runtime as one model, so
it is quantized in two parts: the engine part (every node that does not depend on a host step) is calibrated and
quantized, and the host steps with everything after them are put back unchanged, in float32. ``segments.build``
then cuts the quantized model.onnx as it cuts a float32 one.
"""
from __future__ import annotations

import inspect
import logging
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from deploybridge.errors import DeployError
from deploybridge.parity.user_inputs import IMAGE_SUFFIXES

CALIBRATION_INPUTS = 8  # seeded calibration inputs when no folder is given
MAX_CALIBRATION_IMAGES = 32  # from a folder: evenly spaced over its sorted images (calibration runs every tensor)
MIN_CALIBRATION_IMAGES = 8  # fewer give ranges that clip the activations of the next real image
# an image further than this from the model's input size (factor per side, or aspect ratio) is not what it will see
MAX_SIZE_FACTOR, MAX_ASPECT_FACTOR = 4.0, 1.5


@dataclass
class Calibration:
    feeds: list[dict[str, np.ndarray]]  # graph input name -> array, one dict per calibration input
    source: str  # said in the report: where the images came from


def calibration_images(folder: Path) -> list[str]:
    """The image files of ``folder`` (sorted, at most MAX_CALIBRATION_IMAGES, evenly spaced); one-line errors."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DeployError(f"--calibration {folder}: no such folder; give a folder of images like the ones the model will see")
    images = sorted(str(p.resolve()) for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not images:
        raise DeployError(f"--calibration {folder}: no image files ({', '.join(IMAGE_SUFFIXES)}) in this folder")
    if len(images) < MIN_CALIBRATION_IMAGES:
        raise DeployError(f"--calibration {folder}: {len(images)} image(s); int8 calibration needs at least"
                          f" {MIN_CALIBRATION_IMAGES} like the ones the model will see (ranges from fewer clip real inputs)")
    if len(images) > MAX_CALIBRATION_IMAGES:
        step = len(images) / MAX_CALIBRATION_IMAGES
        images = [images[int(k * step)] for k in range(MAX_CALIBRATION_IMAGES)]
    return images


def calibration(loaded, seed: int, folder: Path | None) -> Calibration:
    """Calibration inputs for ``loaded`` (a LoadedModel): the folder's images, or the family's calibration-seed inputs."""
    from deploybridge.parity.synthetic_inputs import calibration_seeds

    if folder is not None:
        from deploybridge.parity.user_inputs import accepting_images

        keys: Sequence = calibration_images(folder)
        shape = tuple(loaded.make_inputs(calibration_seeds(seed, 1)[0])[0].shape)
        check_sizes(keys, shape, folder)
        if shape[0] > 1:  # a model that takes a batch of N images is calibrated on batches of N of them
            keys = [tuple(keys[k:k + shape[0]]) for k in range(0, len(keys) - shape[0] + 1, shape[0])]
        make = accepting_images(loaded).make_inputs
        source = f"{sum(len(k) if isinstance(k, tuple) else 1 for k in keys)} images from {folder}, fed as `deploy run` feeds them"
    else:
        keys, make = calibration_seeds(seed, CALIBRATION_INPUTS), loaded.make_inputs
        source = f"{len(keys)} inputs of the family at calibration seeds (never a verification input)"
    feeds = [{n: t.detach().cpu().numpy() for n, t in zip(loaded.input_names, make(k))} for k in keys]
    return Calibration(feeds, source)


def check_sizes(images: Sequence[str], shape: tuple, folder: Path) -> None:
    """One-line error for a calibration image far from the model's input size (``shape``: N x C x H x W): resized to
    it, its activations are not the ones the model will see, and int8 ranges calibrated on them are wrong."""
    from PIL import Image

    h, w = int(shape[-2]), int(shape[-1])
    for path in images:
        with Image.open(path) as im:
            iw, ih = im.size
        factors = (ih / h, iw / w)
        aspect = (ih / iw) / (h / w)
        if not all(1 / MAX_SIZE_FACTOR <= f <= MAX_SIZE_FACTOR for f in factors) or not 1 / MAX_ASPECT_FACTOR <= aspect <= MAX_ASPECT_FACTOR:
            raise DeployError(f"--calibration {folder}: {Path(path).name} is {ih}x{iw}, this model takes {h}x{w}; calibrate"
                              f" on images of the size and aspect the model will see")


class _Reader:
    """onnxruntime.quantization's CalibrationDataReader protocol over prepared feeds."""

    def __init__(self, feeds: Sequence[Mapping[str, np.ndarray]]):
        self._it = iter(list(feeds))

    def get_next(self):
        return next(self._it, None)

    def __iter__(self):  # newer onnxruntime versions iterate the reader
        return iter(self.get_next, None)


# -- the graph ------------------------------------------------------------------------------------------------------
def constants_as_initializers(model) -> None:
    """Top-level Constant tensors become initializers: the exporter writes Conv biases as Constant nodes, which the
    quantizer leaves in float ("Expected bias ... to be an initializer"), and then ONNX Runtime cannot fuse the Conv
    into its int8 kernel."""
    from onnx import numpy_helper

    keep = []
    for node in model.graph.node:
        attrs = {a.name: a for a in node.attribute}
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx") and "value" in attrs:
            tensor = numpy_helper.from_array(numpy_helper.to_array(attrs["value"].t), node.output[0])
            model.graph.initializer.append(tensor)
        else:
            keep.append(node)
    del model.graph.node[:]
    model.graph.node.extend(keep)


def after_host_steps(model) -> list:
    """Host nodes and every node that reads (directly or not) what one produced: not runnable by ONNX Runtime as one
    graph, so neither calibrated nor quantized."""
    from deploybridge.runtime.segments import HOST_DOMAIN, _consumed

    tainted: set[str] = set()
    nodes = []
    for node in model.graph.node:
        if node.domain == HOST_DOMAIN or _consumed(node) & tainted:
            nodes.append(node)
            tainted |= set(node.output)
    return nodes


def _split(model):
    """(engine part as a model, the host nodes and what follows them) of a float32 model."""
    import onnx
    from onnx import helper

    rest = after_host_steps(model)
    if not rest:
        return model, []
    from deploybridge.runtime.segments import HOST_DOMAIN, tensor_types

    rest_ids = {id(n) for n in rest}
    engine_nodes = [n for n in model.graph.node if id(n) not in rest_ids]
    produced = {o for n in engine_nodes for o in n.output} | {i.name for i in model.graph.input}
    needed = [i for n in rest for i in n.input if i in produced]
    declared = [o.name for o in model.graph.output]
    outputs = list(dict.fromkeys([*[o for o in declared if o in produced], *needed]))
    types = tensor_types(model)
    part = onnx.ModelProto()
    part.CopyFrom(model)
    del part.graph.node[:]
    part.graph.node.extend(engine_nodes)
    del part.graph.output[:]
    part.graph.output.extend(helper.make_tensor_value_info(n, types.get(n, 1), None) for n in outputs)
    del part.opset_import[:]
    part.opset_import.extend(o for o in model.opset_import if o.domain != HOST_DOMAIN)
    return part, rest


def _join(quantized, original, rest):
    """The quantized engine part with the host steps and what follows them put back, float32 and unchanged."""
    used = {i for n in rest for i in n.input}
    have = {i.name for i in quantized.graph.initializer}
    quantized.graph.node.extend(rest)
    quantized.graph.initializer.extend(i for i in original.graph.initializer if i.name in used and i.name not in have)
    del quantized.graph.output[:]
    quantized.graph.output.extend(original.graph.output)
    domains = {o.domain for o in quantized.opset_import}
    quantized.opset_import.extend(o for o in original.opset_import if o.domain not in domains)
    return quantized


@contextmanager
def _quiet() -> Iterator[None]:
    """onnxruntime.quantization logs a warning per un-preprocessed model and per odd bias on the root logger."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def quantizable(model) -> list[str]:
    """Names of the top-level nodes onnxruntime's QDQ quantizer would quantize (before any exclusion)."""
    from onnxruntime.quantization.registry import QDQRegistry, QLinearOpsRegistry

    ops = set(QDQRegistry) | set(QLinearOpsRegistry)
    # by name, not id(): the list after_host_steps returns was dropped at once, and CPython gave its ids to the node
    # wrappers iterated next (0 of 914 ops quantizable on a --truncate-nms Mask R-CNN)
    rest = {n.name for n in after_host_steps(model)}
    return [n.name for n in model.graph.node if n.op_type in ops and n.name and n.name not in rest]


PER_CHANNEL_OPSET = 13  # DequantizeLinear's axis attribute


def per_channel_allowed(model) -> bool:
    """Whether weights may be quantized per channel: DequantizeLinear has an ``axis`` only from opset 13, and
    onnxruntime's quantizer writes one at any opset (SOLO R50 at --opset 11: "Unrecognized attribute: axis for operator
    DequantizeLinear", the model would not load). Below 13, per tensor: the opset the user asked for is kept."""
    default = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), PER_CHANNEL_OPSET)
    return default >= PER_CHANNEL_OPSET


def quantize(fp32_path: Path, out_path: Path, calib: Calibration, exclude: Sequence[str], scratch: Path) -> None:
    """Static QDQ int8 of ``fp32_path`` into ``out_path``: per-channel int8 weights (per-tensor below opset 13, see
    :func:`per_channel_allowed`), uint8 activations (MinMax over ``calib``), the nodes named in ``exclude`` kept in
    float32. The ranges are computed once per ``scratch`` folder
    and reused by later rounds of the precision search (where onnxruntime can cache them)."""
    import onnx
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    model = onnx.load(str(fp32_path))
    constants_as_initializers(model)
    part, rest = _split(model)
    scratch.mkdir(parents=True, exist_ok=True)
    part_path = scratch / "engine_part.onnx"
    onnx.save(part, str(part_path))
    kwargs: dict[str, Any] = {}
    cache = scratch / "calibration.json"
    if "calibration_cache_path" in inspect.signature(quantize_static).parameters:
        kwargs["calibration_cache_path"] = str(cache)
    quantized_part = scratch / "engine_part.int8.onnx"
    with _quiet():
        try:
            quantize_static(str(part_path), str(quantized_part), None if cache.is_file() and kwargs else _Reader(calib.feeds),
                            quant_format=QuantFormat.QDQ, per_channel=per_channel_allowed(part), activation_type=QuantType.QUInt8,
                            weight_type=QuantType.QInt8, nodes_to_exclude=list(exclude), **kwargs)
        except Exception as exc:
            from deploybridge.errors import first_line

            raise DeployError(f"onnxruntime.quantization cannot quantize this graph: {first_line(exc)}; convert without"
                              " --int8, or try --fp16") from exc
    out = onnx.load(str(quantized_part))
    if rest:
        out = _join(out, model, rest)
    onnx.save(out, str(out_path))
