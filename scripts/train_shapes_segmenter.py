"""Train the shapes semantic segmenter (LRASPP, the embedded default's segmenter) on 2 CPU cores; record its mIoU.

    flock /tmp/db-heavy.lock .venv/bin/python scripts/train_shapes_segmenter.py --iters 1500 \
        --init-backbone plugins/torchvision/deploybridge_torchvision/checkpoints/shapes_maskrcnn.pth

Writes <out>/shapes_segmenter.pth (state_dict) and <out>/shapes_segmenter.json (command, seed, iterations, time,
machine, mIoU and per-class IoU on the shapes validation split, measured by the code `deploy convert --eval shapes`
runs). Targets: each image's class map painted from its annotated instances in drawing order (later wins), the
ground truth --eval rasterises from the COCO annotations.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from deploybridge.evaluation.datasets import shapes
from deploybridge_torchvision.shapes_models import NUM_CLASSES, shapes_segmenter
from deploybridge_torchvision.wrappers import Normalized

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "plugins/torchvision/deploybridge_torchvision/checkpoints"
NAME = "shapes_segmenter"


def training_batch(rng: np.random.Generator, batch: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    images, targets = [], []
    for _ in range(batch):
        pixels, instances = shapes.make_image(rng, size, size)
        target = np.zeros((size, size), np.int64)
        for inst in instances:  # back to front, as drawn
            target[inst.mask] = inst.category_id
        images.append(torch.from_numpy(pixels).permute(2, 0, 1).float() / 255)
        targets.append(torch.from_numpy(target))
    return torch.stack(images), torch.stack(targets)


def validation_miou(wrapper: torch.nn.Module, size: int) -> dict[str, float]:
    """mIoU and per-class IoU on the shapes validation split, through the code `deploy convert --eval shapes` runs."""
    from deploybridge.evaluation import miou

    was_training = wrapper.training
    wrapper.eval()
    with tempfile.TemporaryDirectory() as tmp:
        ann = shapes.validation_split(Path(tmp), size=size)
        result = miou.evaluate(ann, {"pytorch": miou.torch_scores(wrapper)}, (1, 3, size, size), NUM_CLASSES,
                               ["__background__", *shapes.CATEGORIES])
    wrapper.train(was_training)
    return result.miou["pytorch"]


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").is_file() else platform.processor()
    return f"{platform.machine()} {cpu}, {os.cpu_count()} cores visible"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--iters", type=int, default=1500)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--lr", type=float, default=0.003)
    p.add_argument("--size", type=int, default=shapes.DEFAULT_SIZE)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--init-backbone", type=Path, default=None,
                   help="Start the CNN from a shapes detector's checkpoint (its backbone.stem/stages; the FPN is not used).")
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(2_000_000 + args.seed)  # never the validation stream
    model = shapes_segmenter(args.size)
    if args.init_backbone:
        state = torch.load(args.init_backbone, map_location="cpu", weights_only=True)
        backbone = {k.removeprefix("backbone."): v for k, v in state.items()
                    if k.startswith("backbone.") and not k.startswith("backbone.fpn.")}
        model.backbone.load_state_dict(backbone)  # strict: the same stem and stages
    wrapper = Normalized(model, segmentation=True)  # ImageNet normalisation inside, as the exported graph has it
    params = [q for q in model.parameters() if q.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=1e-4)
    warmup = min(100, args.iters // 10)
    schedule = lambda it: (it + 1) / warmup if it < warmup else 0.5 * (1 + math.cos(math.pi * (it - warmup) / max(1, args.iters - warmup)))  # noqa: E731
    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
    loss_fn = torch.nn.CrossEntropyLoss()
    start = time.time()
    wrapper.train()
    for it in range(args.iters):
        images, targets = training_batch(rng, args.batch, args.size)
        loss = loss_fn(wrapper(images), targets)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if it % 50 == 0 or it == args.iters - 1:
            print(f"iter {it}/{args.iters} loss={loss.item():.4f} lr={sched.get_last_lr()[0]:.5f} {time.time() - start:.0f}s", flush=True)
    seconds = time.time() - start
    figures = validation_miou(wrapper, args.size)
    args.out.mkdir(parents=True, exist_ok=True)
    ckpt = args.out / f"{NAME}.pth"
    torch.save(model.state_dict(), ckpt)
    meta = {
        "model": NAME,
        "command": "python scripts/train_shapes_segmenter.py " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
        "seed": args.seed, "iterations": args.iters,
        "init_backbone": args.init_backbone.name if args.init_backbone else None, "batch": args.batch, "size": args.size,
        "train_seconds": round(seconds), "threads": args.threads, "machine": machine(),
        "validation": {"seed": shapes.VALIDATION_SEED, "images": shapes.VALIDATION_IMAGES, "size": args.size},
        **{k: round(v, 4) for k, v in figures.items()},
        "torch": torch.__version__, "bytes": ckpt.stat().st_size,
    }
    (args.out / f"{NAME}.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(json.dumps(meta, indent=2))


if __name__ == "__main__":
    main()
