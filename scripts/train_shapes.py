"""Train a shapes detector (the embedded default) on 2 CPU cores and record its measured AP.

    .venv/bin/python scripts/train_shapes.py --model shapes_maskrcnn --iters 2500

Writes <out>/<model>.pth (state_dict) and <out>/<model>.json (command, seed, iterations, time,
box/mask AP@[.5:.95] on the shapes validation split). Run one training at a time: two-thread
torch slows ~10x when another job takes a core.
"""
from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

from deploybridge.evaluation.datasets import shapes
from deploybridge_torchvision.shapes_models import BUILDERS

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "plugins/torchvision/deploybridge_torchvision/checkpoints"


def training_batch(rng: np.random.Generator, batch: int, size: int):
    images, targets = [], []
    while len(images) < batch:
        pixels, instances = shapes.make_image(rng, size, size)
        if not instances:
            continue
        masks = np.stack([i.mask for i in instances])
        boxes = [[b[0], b[1], b[0] + b[2], b[1] + b[3]] for b in (i.bbox for i in instances)]
        images.append(torch.from_numpy(pixels).permute(2, 0, 1).float() / 255)
        targets.append({"boxes": torch.tensor(boxes, dtype=torch.float32),
                        "labels": torch.tensor([i.category_id for i in instances], dtype=torch.int64),
                        "masks": torch.from_numpy(masks.astype(np.uint8))})
    return images, targets


def evaluate(model, size: int) -> dict[str, float]:
    """AP@[.5:.95] on the shapes validation split, through the same code as `deploy convert --eval shapes`."""
    from deploybridge_torchvision.shapes_models import validation_ap

    return validation_ap(model, size)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", choices=sorted(BUILDERS), required=True)
    p.add_argument("--iters", type=int, default=2500)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--lr", type=float, default=0.02)
    p.add_argument("--size", type=int, default=shapes.DEFAULT_SIZE)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--init-backbone", type=Path, default=None,
                   help="Start the backbone (CNN + FPN) from another shapes checkpoint, e.g. the trained Mask R-CNN.")
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(1_000_000 + args.seed)  # never the validation stream
    model = BUILDERS[args.model](args.size)
    if args.init_backbone:
        state = torch.load(args.init_backbone, map_location="cpu", weights_only=True)
        backbone = {k.removeprefix("backbone."): v for k, v in state.items() if k.startswith("backbone.")}
        model.backbone.load_state_dict(backbone)  # strict: same TinyFPNBackbone on both sides
    params = [q for q in model.parameters() if q.requires_grad]
    opt = torch.optim.SGD(params, lr=args.lr, momentum=0.9, weight_decay=1e-4)
    warmup = min(200, args.iters // 10)
    schedule = lambda it: (it + 1) / warmup if it < warmup else 0.5 * (1 + math.cos(math.pi * (it - warmup) / max(1, args.iters - warmup)))  # noqa: E731
    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
    start = time.time()
    model.train()
    for it in range(args.iters):
        images, targets = training_batch(rng, args.batch, args.size)
        losses = model(images, targets)
        loss = sum(losses.values())
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 10.0)
        opt.step()
        sched.step()
        if it % 50 == 0 or it == args.iters - 1:
            parts = " ".join(f"{k.removeprefix('loss_')}={v.item():.3f}" for k, v in losses.items())
            print(f"iter {it}/{args.iters} loss={loss.item():.3f} {parts} lr={sched.get_last_lr()[0]:.4f} {time.time() - start:.0f}s", flush=True)
    seconds = time.time() - start
    ap = evaluate(model, args.size)
    args.out.mkdir(parents=True, exist_ok=True)
    ckpt = args.out / f"{args.model}.pth"
    torch.save(model.state_dict(), ckpt)
    meta = {
        "model": args.model,
        "command": "python scripts/train_shapes.py " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
        "seed": args.seed, "iterations": args.iters,
        "init_backbone": args.init_backbone.name if args.init_backbone else None, "batch": args.batch, "size": args.size,
        "train_seconds": round(seconds), "threads": args.threads,
        "validation": {"seed": shapes.VALIDATION_SEED, "images": shapes.VALIDATION_IMAGES, "size": args.size},
        **{k: round(v, 4) for k, v in ap.items()},
        "torch": torch.__version__, "bytes": ckpt.stat().st_size,
    }
    (args.out / f"{args.model}.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(json.dumps(meta, indent=2))


if __name__ == "__main__":
    main()
