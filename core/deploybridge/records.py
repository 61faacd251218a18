"""Typed records that plugins register and the pipeline passes along. Plugins build these and hand them to the
``register`` callback of a registration hook; the host adds the owner and rejects duplicate names."""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Callable, Mapping, Sequence


class Task(str, Enum):
    """What a model's outputs mean, which decides how task parity matches them (deploybridge.parity.task).

    A family declares one on its LoadedModel; each has its matcher and bounds in ``deploybridge.parity.tasks``.
    Values are plain strings in manifests and JSON.
    """

    DETECTION = "detection"                          # boxes, scores, labels
    INSTANCE_MASKS = "instance_masks"                # boxes, scores, labels, masks (Mask R-CNN)
    MASK_INSTANCES = "mask_instances"                # masks, scores, labels, no boxes (SOLO)
    KEYPOINTS = "keypoints"                          # boxes, scores, labels, keypoints
    SEMANTIC_SEGMENTATION = "semantic_segmentation"  # N x C x H x W class scores
    EMBEDDING = "embedding"                          # N x D vectors (re-id)
    CLASSIFICATION = "classification"                # N x C class scores

    @classmethod
    def parse(cls, value: "Task | str | None") -> "Task | None":
        """A Task from its value; None stays None. Raises ValueError naming the known tasks."""
        if value is None or isinstance(value, cls):
            return value
        value = _OLD_TASK_NAMES.get(value, value)
        try:
            return cls(value)
        except ValueError:
            raise ValueError(f"unknown task {value!r}; tasks: {', '.join(t.value for t in cls)}") from None

    @property
    def finds_objects(self) -> bool:
        """Instances with scores and labels: what `deploy run`, --eval and report.png draw and score."""
        return self in (Task.DETECTION, Task.INSTANCE_MASKS, Task.MASK_INSTANCES, Task.KEYPOINTS)

    def __str__(self) -> str:
        return self.value


_OLD_TASK_NAMES = {"segmentation": "semantic_segmentation"}  # manifests written before tasks were typed


@dataclass(frozen=True)
class ModelSpec:
    """What the user asked for; stored in the manifest so `deploy verify` can rebuild the model."""

    family: str
    model: str
    weights: str | None = None
    random_weights: bool = False
    seed: int = 0
    input_shape: tuple[int, ...] | None = None
    config: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    # --dynamic: {"axes": ["height", "width"], "min": [...] | None, "max": [...] | None} (deploybridge.convert.dynamic)
    dynamic: Mapping[str, Any] | None = None

    def to_json(self) -> dict:
        return {
            "family": self.family,
            "model": self.model,
            "weights": self.weights,
            "random_weights": self.random_weights,
            "seed": self.seed,
            "input_shape": list(self.input_shape) if self.input_shape else None,
            "config": self.config,
            "options": dict(self.options),
            "dynamic": dict(self.dynamic) if self.dynamic else None,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "ModelSpec":
        shape = data.get("input_shape")
        return cls(
            family=data["family"],
            model=data["model"],
            weights=data.get("weights"),
            random_weights=bool(data.get("random_weights")),
            seed=int(data.get("seed", 0)),
            input_shape=tuple(shape) if shape else None,
            config=data.get("config"),
            options=dict(data.get("options") or {}),
            dynamic=data.get("dynamic") or None,
        )


@dataclass(frozen=True)
class Tolerance:
    """Element-wise bound |got - ref| <= atol + rtol * |ref| (numpy.allclose semantics).

    ``noise_floor`` is the measured float32-vs-float64 spread of the reference
    that atol was derived from (None: not measured, e.g. overridden by the user); ``basis`` says in words how atol
    was set, including when the floor hit its ceiling or could not be measured (deploybridge.parity.noise_floor).
    """

    atol: float = 1e-4
    rtol: float = 1e-3
    noise_floor: float | None = None
    basis: str = ""  # how atol was set, for the report: "noise floor", "capped at ...", "floor not measured: ..."
    peer: str = ""  # how the family's own published check fares against the same floor (LoadedModel.peer_check)


@dataclass(frozen=True)
class OutputSpec:
    """One model output, in the declared order.

    ``per_detection`` outputs have one row per detection; their leading dimension is data-dependent, so verification
    compares counts first and pairs rows by matching, never by position.
    """

    name: str
    per_detection: bool = False
    tolerance: Tolerance | None = None


@dataclass
class LoadedModel:
    """A family loader's answer: a tensor-in/tensor-out module and how to feed it."""

    module: Any  # torch.nn.Module with forward(*tensors) -> tuple of tensors
    input_names: Sequence[str]
    outputs: Sequence[OutputSpec]
    make_inputs: Callable[[int], tuple]  # seed -> example input tensors (deterministic)
    default_exporter: str = "legacy"
    exporter_reason: str = ""
    exporters: Sequence[str] = ("legacy", "dynamo")  # those this model can be exported with; others are refused
    # exporters the family adds (name -> fn(inputs, onnx_path, opset) writing the declared I/O), e.g. solo's "mmdeploy"
    extra_exporters: Mapping[str, Callable[[tuple, Any, int], None]] = field(default_factory=dict)
    dynamic_axes: Mapping[str, Mapping[int, str]] | None = None
    other_shapes: Sequence[tuple[int, ...]] = ()  # with dynamic_axes: more shapes to verify at (a baked size is caught)
    make_inputs_at: Callable[[int, tuple], tuple] | None = None  # (seed, input shape) -> example input tensors
    preprocessing: Mapping[str, Any] = field(default_factory=dict)
    task: Task | None = None  # what the outputs mean: enables task-aware parity (deploybridge.parity.task)
    categories: Sequence[str] | None = None  # label id -> name (index 0 is background for detectors)
    # the framework's own prediction on the same inputs (outputs named like the declared ones), checked against the
    # wrapper by deploybridge.parity.framework; framework_name says whose it is ("MMDetection predict")
    framework_reference: Callable[[tuple], dict] | None = None
    framework_name: str = ""
    peer_check: Tolerance | None = None  # the framework's published check (basis names it), judged by Tolerance.peer
    # (inputs, margins, px) -> {output: bool mask of the reference's elements chosen at a tie}: deploybridge.parity.ties
    at_tie: Callable[[tuple, Mapping[str, float], float], Mapping[str, Any]] | None = None
    score_threshold: float | None = None  # the model drops detections below it; parity.ties.threshold_ties uses it

    @property
    def output_names(self) -> list[str]:
        return [o.name for o in self.outputs]


@dataclass(frozen=True)
class Family:
    """A model family: turns a :class:`ModelSpec` into a :class:`LoadedModel`."""

    name: str
    load: Callable[[ModelSpec], LoadedModel]
    models: Sequence[str] = ()
    description: str = ""
    order: int = 100
    owner: str = ""
    default_model: str = ""  # what `deploy convert --plugin NAME` converts when no --model or --config is given


# which exporters each rewrite kind can act on ("*": any, including a family's own, e.g. mmdeploy)
REWRITE_KINDS = {
    "function": ("*",),
    "module": ("*",),
    "symbolic": ("legacy",),
    "dynamo": ("dynamo",),
}


@dataclass(frozen=True)
class Rewrite:
    """An op rewrite in force only while exporting.

    ``kind`` says what ``target`` names and what ``replacement`` is:

    * ``function``: a dotted path to a function or method (``torch.linspace``, ``torch.ops.torchvision.roi_align``,
      ``pkg.mod.Class.method``); patched with ``replacement`` and restored afterwards.
    * ``module``: a dotted path to an ``nn.Module`` class; its ``forward`` is replaced by ``replacement``.
    * ``symbolic``: a legacy-exporter op name ``domain::op`` (``aten::triu``); ``replacement`` is a symbolic function
      registered at the export opset with ``torch.onnx.register_custom_op_symbolic`` and unregistered afterwards.
    * ``dynamo``: an ATen overload (``torch.ops.aten.triu.default``); ``replacement`` is an onnxscript function put in
      the dynamo exporter's ``custom_translation_table``.

    ``wrap=True`` (function/module kinds): ``replacement(original)`` is called once per export and returns the
    stand-in, for rewrites that delegate to the original in the cases they do not change.
    """

    name: str
    kind: str
    target: str
    replacement: Any
    why: str = ""
    exporters: Sequence[str] = ("legacy", "dynamo")
    opsets: tuple[int, int] = (7, 99)
    backends: Sequence[str] = ()
    order: int = 100
    owner: str = ""
    wrap: bool = False
    fixes: Sequence[str] = ()  # regexes of export warnings this rewrite answers (deploybridge.convert.warning_triage)
    families: Sequence[str] = ()  # empty: every family; a plugin's rewrites for its own models name them

    def applies(self, exporter: str, opset: int) -> bool:
        kinds = REWRITE_KINDS.get(self.kind, ())
        return (exporter in self.exporters and (exporter in kinds or "*" in kinds)
                and self.opsets[0] <= opset <= self.opsets[1])


@dataclass(frozen=True)
class GraphPass:
    """A graph-surgery pass ``(onnx_graphsurgeon.Graph, PassContext) -> Graph``, run after export."""

    name: str
    run: Callable[[Any, Any], Any]
    description: str = ""
    order: int = 100
    families: Sequence[str] = ()  # empty: opt-in by name only
    backends: Sequence[str] = ()
    owner: str = ""


@dataclass(frozen=True)
class HostOp:
    """A step an artifact runs on the host, between or after its engine segments.

    ``name`` is the ONNX op type of the node that stands for it in the artifact's graph (domain ``deploybridge``).
    ``run(inputs, attributes)`` gets the node's inputs as NumPy arrays (None for an empty input name) and its
    attributes as a dict, and returns one array per node output. ``semantics`` says exactly what it computes, tensor
    by tensor, for someone reimplementing it without deploybridge: each artifact's README.md quotes it
    (deploybridge.convert.artifact_readme).
    """

    name: str
    run: Callable[[list, dict], list]
    description: str = ""
    order: int = 100
    owner: str = ""
    semantics: str = ""


@dataclass(frozen=True)
class Backend:
    """A runtime the artifact is built for.

    ``unavailable()`` returns None when usable, else one line saying why and how to install it. ``build(onnx_path,
    out_dir, options)`` writes engine files and returns their names; ``load(artifact_dir, manifest, options)`` returns
    a runner ``dict[name, ndarray] -> dict[name, ndarray]``.

    ``build_from_module(loaded, example, out_dir, options)``, when given, is called instead of ``build``: the backend
    compiles the PyTorch module itself (``loaded``: the :class:`LoadedModel`, ``example``: its inputs as tensors by
    name), e.g. TorchScript. ``model.onnx`` is still exported and kept as the inspectable reference. ``precisions``:
    what ``--fp16`` / ``--int8`` may ask of this backend ("fp32" always).
    """

    name: str
    unavailable: Callable[[], str | None]
    build: Callable[..., list[str]]
    load: Callable[..., Callable[[dict], dict]]
    description: str = ""
    version: Callable[[], str | None] = lambda: None
    order: int = 100
    owner: str = ""
    build_from_module: Callable[..., list[str]] | None = None
    precisions: tuple[str, ...] = ("fp32",)


@dataclass(frozen=True)
class KnownWarning:
    """An export warning that has been looked at and does not change what the artifact computes.

    ``pattern`` is a regex searched in the warning's message; ``module`` a regex searched in the dotted module path of
    the code that warned (``torchvision.models.detection._utils``; empty: anywhere). ``why`` gives the evidence (a
    test or a measurement). A warning a rewrite fixes is not a KnownWarning: the rewrite lists it in ``fixes``.
    """

    name: str
    pattern: str
    why: str
    module: str = ""
    order: int = 100
    owner: str = ""


@dataclass(frozen=True)
class Installer:
    """A framework a plugin needs, installed by ``deploy install NAME`` with nothing to compile. ``install(quiet)``
    installs what is missing and returns what it installed (empty: already installed); ``version``: what an up-to-date
    install holds (``mmdet==3.3.0, ...``), shown as ``already installed: ...``."""

    name: str
    install: Callable[[bool], list[str]]
    description: str = ""
    version: str = ""
    order: int = 100
    owner: str = ""
