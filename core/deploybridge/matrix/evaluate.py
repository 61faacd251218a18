"""``deploy matrix --eval DATASET``: every green cell of an instance model (boxes or masks, scores, labels) gets
ΔAP on the dataset. Its images are split into shards that run on the executor beside the cells
(deploybridge.evaluation.shards, each a child process under the cell limits); a cell's shards are merged and scored
once, which is the single-process AP exactly. A shard that fails or whose worker dies makes its cell red."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Callable, Sequence

from deploybridge.matrix.cells import CellResult, cell_folder
from deploybridge.matrix.execute import child_env, read_json
from deploybridge.matrix.executors import run_tasks
from deploybridge.matrix.limits import run_limited


def shard_task(item: dict, settings: dict) -> dict:
    """One shard's PyTorch and artifact records ({runner: COCO records}), made in a child process."""
    done = run_limited([sys.executable, "-m", "deploybridge.evaluation.shards", item["folder"], item["annotations"],
                        "--images", ",".join(map(str, item["ids"]))], child_env(settings), settings["timeout_s"],
                       settings.get("memory_gib"))
    if done.problem or done.code:
        lines = done.stderr.strip().splitlines()
        raise RuntimeError(done.problem or (lines[-1] if lines else f"exited {done.code}"))
    return json.loads(done.stdout)


def dataset_for(dataset: str, size: int, out: Path) -> Path:
    """A COCO annotations json, or the shapes validation split at ``size`` generated once under ``out``."""
    if dataset != "shapes":
        return Path(dataset).resolve()
    from deploybridge.evaluation.datasets.shapes import validation_split

    folder = out / "datasets" / f"shapes-{size}"
    found = folder / "annotations.json"
    return found if found.is_file() else validation_split(folder, size=size)


def instance_model(manifest: dict) -> bool:
    from deploybridge.parity.output_names import canonical_names

    names = set(canonical_names([o["name"] for o in manifest.get("outputs", [])]))
    return {"scores", "labels"} <= names and bool(names & {"boxes", "masks"})


def evaluate_cells(results: Sequence[CellResult], dataset: str, shards: int, settings: dict, executor: str, jobs: int,
                   address: str | None, say: Callable[[str], None]) -> None:
    """ΔAP on ``dataset`` into every green instance cell of ``results`` (in place; red when a shard fails or |ΔAP|
    is over the precision's bound)."""
    from deploybridge.evaluation.shards import image_ids, merged, split
    from deploybridge.parity.precision_gate import max_delta_ap

    out, items, manifests = Path(settings["out"]), [], {}
    for r in results:
        folder = out / cell_folder(r.id)
        manifest = read_json(folder / "manifest.json") if r.status == "green" else None
        if manifest is None or not instance_model(manifest):
            continue
        annotations = dataset_for(dataset, int(manifest["inputs"][0]["shape"][2]), out)
        manifests[r.id] = (manifest, annotations)
        for k, ids in enumerate(split(image_ids(annotations), shards)):
            items.append({"cell": r.id, "shard": k, "folder": str(folder), "annotations": str(annotations), "ids": ids})
    if not items:
        return
    say(f"evaluating {len(manifests)} cell(s) on {dataset}: {len(items)} shards on {executor}")
    parts: dict[str, dict[int, dict]] = {}
    failures: dict[str, str] = {}

    def finished(item: dict, get) -> None:
        try:
            parts.setdefault(item["cell"], {})[item["shard"]] = get()
        except Exception as exc:
            failures.setdefault(item["cell"], f"evaluation shard {item['shard']} failed: {str(exc).splitlines()[0][:200]}")

    run_tasks(shard_task, items, settings, executor, jobs, address, finished)
    for r in results:
        if r.id not in manifests:
            continue
        if r.id in failures:
            r.status, r.reason = "red", failures[r.id]
            continue
        manifest, annotations = manifests[r.id]
        scored = merged(annotations, [parts[r.id][k] for k in sorted(parts[r.id])], max_delta_ap(manifest))
        r.evaluation = {k: round(v, 4) for k, v in scored.delta.items()}
        r.ap = {f"{runner}:{metric}": value for runner, aps in scored.ap.items() for metric, value in aps.items()}
        if not scored.passed:
            worst = max(scored.delta.items(), key=lambda kv: abs(kv[1]))
            r.status, r.reason = "red", f"{worst[0]} delta {worst[1]:+.4f} on {dataset} over the bound {scored.max_delta}"

