"""AP on a large dataset, fanned out: the images split into shards, each shard's detections (PyTorch and the
artifact, per image, as `--eval` computes them) made where an executor puts it, then merged and scored once. COCO AP
is not an average of per-shard APs; the merged records are exactly the single run's, so the AP is too.

A shard runs as ``python -m deploybridge.evaluation.shards ARTIFACT ANNOTATIONS --images 1,2,3`` and prints its
records as JSON: a child process of its own, like a matrix cell."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable, Mapping, Sequence

from deploybridge.evaluation.ap_delta import EvalResult, MAX_DELTA_AP, detections, instance_runners, score


def split(image_ids: Sequence[int], shards: int) -> list[list[int]]:
    """``image_ids`` in ``shards`` contiguous parts of near-equal size (no empty part)."""
    n = max(1, min(shards, len(image_ids)))
    size, extra = divmod(len(image_ids), n)
    parts, start = [], 0
    for k in range(n):
        stop = start + size + (k < extra)
        parts.append(list(image_ids[start:stop]))
        start = stop
    return parts


def image_ids(annotations: Path) -> list[int]:
    return [img["id"] for img in json.loads(Path(annotations).read_text())["images"]]


def shard_detections(folder: Path, annotations: Path, ids: Sequence[int] | None) -> dict[str, list]:
    """One shard: the artifact in ``folder`` and its PyTorch model (rebuilt from the manifest's spec, as `deploy
    verify` does) on the images ``ids``."""
    from deploybridge.convert import artifact
    from deploybridge.convert.resolve import load_model, resolve_backend, resolve_family
    from deploybridge.plugins import Host
    from deploybridge.records import ModelSpec
    from deploybridge.runtime import segments

    manifest = artifact.read_manifest(folder)
    host = Host()
    spec = ModelSpec.from_json(manifest["spec"])
    backend = resolve_backend(host, manifest["backend"]["name"])
    loaded = load_model(resolve_family(host, spec, manifest["plugin"]["name"]), spec)
    runner = segments.load(backend, Path(folder), manifest, manifest["backend"].get("options", {}), host.host_ops())
    runners, with_masks = instance_runners(loaded, runner, backend.name)
    shape = manifest["inputs"][0]["shape"]
    return detections(annotations, runners, shape, with_masks, loaded.preprocessing, ids)


def merged(annotations: Path, parts: Sequence[Mapping[str, list]], max_delta: float = MAX_DELTA_AP) -> EvalResult:
    """The shards' records put together in order and scored once."""
    names = list(parts[0]) if parts else []
    records = {name: [r for part in parts for r in part[name]] for name in names}
    with_masks = any("segmentation" in r for rs in records.values() for r in rs[:1])
    return score(annotations, records, with_masks, max_delta)


def sharded_ap(folder: Path, annotations: Path, shards: int,
               run_all: Callable[[list[list[int]]], list[Mapping[str, list]]]) -> EvalResult:
    """AP of PyTorch and of the artifact with the shards' detections made by ``run_all`` (shard ids -> records per
    shard, in order): in this process, a pool, or an executor's workers."""
    return merged(annotations, run_all(split(image_ids(annotations), shards)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploybridge.evaluation.shards", description=__doc__.splitlines()[0])
    parser.add_argument("artifact", type=Path)
    parser.add_argument("annotations", type=Path)
    parser.add_argument("--images", default="", help="comma-separated image ids (default: all)")
    args = parser.parse_args(argv)
    ids = [int(i) for i in args.images.split(",") if i.strip()] or None
    sys.stdout.write(json.dumps(shard_detections(args.artifact, args.annotations, ids)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
