"""Train the ``shapes_reid`` embedder on the synthetic re-id set: ``python -m deploybridge_fastreid.train``.

fastreid's own Baseline (MobileNetV2 backbone, 256-d BNNeck embedding, cross-entropy with label smoothing plus
batch-hard triplet loss, as its Bag of Tricks), P x K batches (16 identities x 4 views), Adam with warm-up and cosine
decay (peak 3e-3: fastreid's 3.5e-4 assumes an ImageNet-pretrained backbone; from scratch it learned nothing in
1800 iterations, rank-1 0.086). Its data/engine packages do not import on torch 2, so the loop is here; the model and losses are fastreid's.
Writes checkpoints/shapes_reid.pth ({"model": state_dict}, fastreid's format) and shapes_reid.json (rank-1 and mAP
on the query/gallery split of the identities it never saw, the time and the machine).
"""
from __future__ import annotations

import argparse
import json
import math
import platform
import time
from pathlib import Path

import numpy as np

from deploybridge_fastreid import reid_shapes
from deploybridge_fastreid.retrieval import embed, rank1_and_map

CHECKPOINT = Path(__file__).parent / "checkpoints" / "shapes_reid.pth"


def build(seed: int):
    import torch
    from fastreid.modeling import build_model

    from deploybridge_fastreid.config import make_cfg

    torch.manual_seed(seed)
    cfg = make_cfg("shapes_reid", {"MODEL.LOSSES.CE.EPSILON": 0.1, "MODEL.LOSSES.TRI.HARD_MINING": True})
    return build_model(cfg)


def evaluate(model) -> dict:
    import torch

    q, qid, g, gid = reid_shapes.query_gallery()
    model.eval()
    with torch.no_grad():
        run = lambda x: model(torch.from_numpy(x)).numpy()  # noqa: E731
        return rank1_and_map(embed(run, q), qid, embed(run, g), gid)


def train(iters: int, seed: int, per_identity: int, minutes: float, lr_peak: float = 3e-3, log_every: int = 50) -> dict:
    import torch
    from fastreid.utils.events import EventStorage

    torch.set_num_threads(2)
    train_ids, _ = reid_shapes.split()
    images, ids = reid_shapes.images_of(train_ids, per_identity, seed=1000 + seed)
    labels = np.searchsorted(np.asarray(train_ids), ids)
    by_label = [np.flatnonzero(labels == k) for k in range(len(train_ids))]
    model = build(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr_peak, weight_decay=5e-4)
    rng = np.random.default_rng(seed)
    start, done = time.time(), 0
    for it in range(iters):
        lr = lr_peak * min(1.0, (it + 1) / 100) * 0.5 * (1 + math.cos(math.pi * it / iters))
        for group in opt.param_groups:
            group["lr"] = lr
        people = rng.choice(len(train_ids), 16, replace=False)
        pick = np.concatenate([rng.choice(by_label[p], 4, replace=False) for p in people])
        batch = images[pick].copy()
        flip = rng.random(len(batch)) < 0.5
        batch[flip] = batch[flip, :, ::-1]
        x = torch.from_numpy(batch.transpose(0, 3, 1, 2).astype(np.float32))
        model.train()
        with EventStorage(it):  # fastreid's losses log their accuracy to an event storage
            losses = model({"images": x, "targets": torch.from_numpy(labels[pick])})
        loss = sum(losses.values())
        opt.zero_grad()
        loss.backward()
        opt.step()
        done = it + 1
        if it % log_every == 0:
            print(f"iter {it} loss {float(loss):.3f} ({', '.join(f'{k} {float(v):.3f}' for k, v in losses.items())})"
                  f" lr {lr:.2e} {time.time() - start:.0f} s", flush=True)
        if time.time() - start > minutes * 60:
            print(f"time budget of {minutes} min reached at iter {done}", flush=True)
            break
    seconds = time.time() - start
    metrics = evaluate(model)
    print(f"rank-1 {metrics['rank1']:.4f} mAP {metrics['mAP']:.4f} after {done} iterations, {seconds:.0f} s", flush=True)
    CHECKPOINT.parent.mkdir(exist_ok=True)
    torch.save({"model": model.state_dict()}, CHECKPOINT)
    record = {"model": "shapes_reid", "iterations": done, "seconds": round(seconds), "seed": seed,
              "train_identities": len(train_ids), "images_per_identity": per_identity,
              "query_gallery": "64 unseen identities, 2 query and 4 gallery views each (reid_shapes.query_gallery)",
              "rank1": round(metrics["rank1"], 4), "mAP": round(metrics["mAP"], 4),
              "size_mb": round(CHECKPOINT.stat().st_size / 1e6, 2), "machine": f"{platform.machine()}, 2 threads",
              "lr_peak": lr_peak, "command": f"python -m deploybridge_fastreid.train --iters {iters} --seed {seed} --lr {lr_peak}"}
    CHECKPOINT.with_suffix(".json").write_text(json.dumps(record, indent=1) + "\n")
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=2400)
    parser.add_argument("--lr", type=float, default=3e-3, help="peak learning rate (Adam, warm-up then cosine)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--per-identity", type=int, default=40)
    parser.add_argument("--minutes", type=float, default=18.0, help="stop early past this (the budget is 20 min)")
    args = parser.parse_args()
    print(json.dumps(train(args.iters, args.seed, args.per_identity, args.minutes, args.lr)))


if __name__ == "__main__":
    main()
