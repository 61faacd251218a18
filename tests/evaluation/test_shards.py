"""Evaluation fanned out: the shapes validation split in shards, each shard's detections made in a process of its
own, merged and scored once: the same AP as one process, to the last digit. Dropping a shard changes it (the check
can fail)."""
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from deploybridge.evaluation.ap_delta import resolve_dataset
from deploybridge.evaluation.shards import image_ids, merged, shard_detections, sharded_ap, split


def test_split_keeps_every_image_once_in_order():
    assert split(list(range(10)), 3) == [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]]
    assert split([1, 2], 5) == [[1], [2]] and split([], 3) == [[]]


@pytest.fixture(scope="module")
def retinanet(tmp_path_factory):
    from deploybridge.cli import main

    out = tmp_path_factory.mktemp("shards") / "retinanet"
    assert main(["convert", "--plugin", "torchvision", "--model", "shapes_retinanet", "--out", str(out)]) == 0
    return out


def _in_a_process(folder, annotations, ids):
    done = subprocess.run([sys.executable, "-m", "deploybridge.evaluation.shards", str(folder), str(annotations),
                           "--images", ",".join(map(str, ids))], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def test_merged_shards_give_the_single_process_ap(retinanet):
    with resolve_dataset("shapes", 192) as annotations:
        whole = merged(annotations, [shard_detections(retinanet, annotations, None)])
        made = []

        def in_processes(shards):
            with ThreadPoolExecutor(2) as pool:
                made.extend(pool.map(lambda ids: _in_a_process(retinanet, annotations, ids), shards))
            return made

        fanned = sharded_ap(retinanet, annotations, 3, in_processes)
        short = merged(annotations, made[:2])  # planted: a shard lost
        assert len(made) == 3 and sum(len(ids) for ids in split(image_ids(annotations), 3)) == 50
    assert whole.ap["pytorch"]["box_ap"] > 0.3, whole.ap  # the trained model finds the shapes
    assert fanned.ap == whole.ap and fanned.delta == whole.delta and fanned.images == whole.images == 50
    assert short.ap != whole.ap
