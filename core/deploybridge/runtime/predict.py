"""Running an artifact on image files, with its pre- and post-processing, without the original framework."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from deploybridge.errors import DeployError
from deploybridge.records import Task


def artifact_predictor(folder: Path, backend_name: str | None = None, options: Mapping[str, Any] | None = None,
                       allow_unverified: bool = False):
    """Return (manifest, predict) where ``predict(pixels HxWx3 uint8) -> detections at the image's own size``: fed
    as the manifest's ``preprocessing`` says, read by :func:`deploybridge.runtime.image_io.as_detections`.
    An unverified artifact is refused (exit 2) unless ``allow_unverified``, then used with a warning on stderr."""
    manifest = _verified_manifest(folder, allow_unverified)
    return manifest, _detector(folder, manifest, backend_name, options)


def artifact_runner(folder: Path, backend_name: str | None = None, allow_unverified: bool = False):
    """(manifest, ``run(inputs by name) -> outputs by name``) for the artifact in ``folder``, host steps included,
    inputs checked against the manifest (shape, value range) first: an artifact run from a script or a plugin's
    own evaluation, on arrays it prepares. Unverified artifacts are refused as above."""
    manifest = _verified_manifest(folder, allow_unverified)
    return manifest, _runner(folder, manifest, backend_name, None)


def any_predictor(folder: Path, backend_name: str | None = None, allow_unverified: bool = False):
    """(manifest, predict, kind): for kind "segmentation" ``predict(pixels) -> H x W class map`` at the image's own
    size (the argmax of its first output, the class scores); for "embedding" ``predict(pixels) -> D vector`` (its
    first output, one image as a batch of one); for "objects" the detections as above."""
    from deploybridge.runtime.image_io import class_map, to_input

    manifest = _verified_manifest(folder, allow_unverified)
    task = Task.parse(manifest.get("task"))
    if task not in (Task.SEMANTIC_SEGMENTATION, Task.EMBEDDING):
        return manifest, _detector(folder, manifest, backend_name, None), "objects"
    runner = _runner(folder, manifest, backend_name, None)
    shape, name, first = manifest["inputs"][0]["shape"], manifest["inputs"][0]["name"], manifest["outputs"][0]["name"]
    pre = manifest.get("preprocessing")
    if task is Task.EMBEDDING:
        one = [1 if not isinstance(shape[0], int) or shape[0] < 1 else shape[0], *shape[1:]]

        def embed(pixels: np.ndarray) -> np.ndarray:
            x, _ = to_input(pixels, one, pre)
            return np.asarray(runner({name: np.repeat(x, one[0], axis=0)})[first])[0]  # a fixed batch: the image repeated

        return manifest, embed, "embedding"

    def predict(pixels: np.ndarray) -> np.ndarray:
        return class_map(pixels, lambda x: runner({name: x})[first], shape, pre)

    return manifest, predict, "segmentation"


def _detector(folder: Path, manifest: Mapping[str, Any], backend_name: str | None, options: Mapping[str, Any] | None):
    from deploybridge.parity.output_names import canonical_names
    from deploybridge.runtime.image_io import detect

    outputs = set(canonical_names(o["name"] for o in manifest["outputs"]))  # "classes" read as "labels"
    task = Task.parse(manifest.get("task"))
    if not (task and task.finds_objects) and not {"masks", "scores", "labels"} <= outputs:
        raise DeployError(f"{folder} holds a {manifest.get('task') or 'non-detection'} model; this command needs a detector artifact")
    runner = _runner(folder, manifest, backend_name, options)
    shape = manifest["inputs"][0]["shape"]
    name = manifest["inputs"][0]["name"]

    def predict(pixels: np.ndarray) -> dict:  # the one image path --eval uses too
        return detect(pixels, lambda x: runner({name: x}), shape, manifest.get("preprocessing"))

    return predict


def _verified_manifest(folder: Path, allow_unverified: bool) -> dict:
    import sys

    from deploybridge.convert import artifact
    from deploybridge.convert.manifest import require_verified

    manifest = artifact.read_manifest(folder)
    warning = require_verified(manifest, folder, allow_unverified)
    if warning:
        sys.stderr.write(f"warning: {warning}\n")
    return manifest


def _runner(folder: Path, manifest: Mapping[str, Any], backend_name: str | None, options: Mapping[str, Any] | None):
    from deploybridge.convert.resolve import resolve_backend
    from deploybridge.plugins import Host
    from deploybridge.runtime import segments

    name = backend_name or manifest["backend"]["name"]
    # plugins are loaded only when the artifact needs one: a non-built-in backend or a plugin's host step
    plugin_steps = [s for s in manifest.get("segments") or [] if s["kind"] == "host" and s.get("owner") not in (None, "builtin")]
    host = Host(only=["builtin"]) if name == "onnxruntime" and not plugin_steps else Host()
    backend = resolve_backend(host, name)
    runner: Callable[[dict], dict] = segments.load(backend, Path(folder), manifest, {**manifest["backend"].get("options", {}), **(options or {})},
                                                   host.host_ops())
    return runner


def class_thresholds(manifest: Mapping[str, Any], override: float | None) -> dict[int, float] | float:
    """The thresholds `deploy run` applies: --threshold, else those `deploy threshold` chose, else 0.5."""
    if override is not None:
        return override
    chosen = manifest.get("thresholds")
    if not chosen:
        return 0.5
    per_class = {int(c): p["threshold"] for c, p in chosen.get("per_class", {}).items()}
    per_class[-1] = chosen["overall"]["threshold"]  # classes never seen in the dataset
    return per_class
