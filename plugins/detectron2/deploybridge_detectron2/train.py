"""Train the bundled Detectron2 Mask R-CNN (configs/shapes_mask_rcnn.yaml) on the shapes dataset on 2 CPU cores.

    .venv/bin/python -m deploybridge_detectron2.train --iters 1000

A plain loop (no DefaultTrainer, no dataloader): batches of synthetic 192x192 shapes images drawn fresh from the
seeded generator, fed as Detectron2 feeds them (CHW float BGR 0-255; the model normalises), SGD with linear warmup
and cosine decay. Then box and mask AP@[.5:.95] on the shapes validation split through the same code as
`deploy convert --eval shapes` (the family's wrapper on a 1x3x192x192 BGR input). Writes <out>/shapes_mask_rcnn.pth
(a plain float32 state_dict: DetectionCheckpointer loads it, so does model.load_state_dict) and
<out>/shapes_mask_rcnn.json (command, seed, time, AP). Run one training at a time: two-thread torch slows ~10x
when another job takes a core.
"""
from __future__ import annotations

import argparse
import json
import math
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

NAME = "shapes_mask_rcnn"
CONFIG = Path(__file__).parent / "configs" / f"{NAME}.yaml"
DEFAULT_OUT = Path(__file__).parent / "checkpoints"
SIZE = 192


def instances_of(objects, size: int):
    """shapes.Instance list -> Detectron2 Instances (xyxy gt_boxes, 0-based gt_classes, BitMasks)."""
    from detectron2.structures import BitMasks, Boxes, Instances

    boxes = [[b[0], b[1], b[0] + b[2], b[1] + b[3]] for b in (o.bbox for o in objects)]
    inst = Instances((size, size))
    inst.gt_boxes = Boxes(torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4))
    inst.gt_classes = torch.tensor([o.category_id - 1 for o in objects], dtype=torch.int64)
    inst.gt_masks = BitMasks(torch.from_numpy(np.stack([o.mask for o in objects])))
    return inst


def training_batch(rng: np.random.Generator, batch: int, size: int = SIZE) -> list[dict]:
    """``batch`` Detectron2 input dicts of images with at least one shape (RGB pixels flipped to BGR)."""
    from deploybridge.evaluation.datasets import shapes

    inputs = []
    while len(inputs) < batch:
        pixels, objects = shapes.make_image(rng, size, size)
        if not objects:
            continue
        image = torch.from_numpy(np.ascontiguousarray(pixels[:, :, ::-1].transpose(2, 0, 1))).float()
        inputs.append({"image": image, "height": size, "width": size, "instances": instances_of(objects, size)})
    return inputs


def build(weights: Path | None = None):
    """(model in eval mode, cfg) from the bundled config, through the family's loader; ``weights`` loaded strictly."""
    from deploybridge_detectron2 import config as cfgmod

    model, cfg = cfgmod.build(str(CONFIG), {})
    if weights is not None:
        model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True), strict=True)
    return model, cfg


def evaluate(model, cfg) -> dict[str, float]:
    """Box and mask AP@[.5:.95] on the shapes validation split, each image fed as the artifact takes it."""
    from deploybridge.evaluation import ap_delta

    from deploybridge_detectron2.family import preprocessing
    from deploybridge_detectron2.wrapper import Detectron2Detector

    model.eval()
    module = Detectron2Detector(model).eval()
    with ap_delta.resolve_dataset("shapes", SIZE) as annotations:
        result = ap_delta.evaluate(annotations, {"pytorch": ap_delta.torch_runner(module, module.names)},
                                   (1, 3, SIZE, SIZE), True, preprocessing(cfg, model))
    return result.ap["pytorch"]


def schedule(it: int, iters: int, warmup: int) -> float:
    """Linear warmup from 0.001 to 1, then cosine to 0."""
    if it < warmup:
        return 0.001 + (1 - 0.001) * it / warmup
    return 0.5 * (1 + math.cos(math.pi * (it - warmup) / max(1, iters - warmup)))


def train(model, iters: int, batch: int, lr: float, seed: int, log_every: int = 25) -> float:
    """The training loop; returns its seconds."""
    from detectron2.utils.events import EventStorage

    rng = np.random.default_rng(1_000_000 + seed)  # never the validation stream
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=1e-4)
    warmup = min(100, max(1, iters // 10))
    model.train()
    start = time.time()
    with EventStorage(0) as storage:  # Detectron2's losses record their statistics there
        for it in range(iters):
            _step(model, opt, params, rng, batch, lr * schedule(it, iters, warmup), it, iters, log_every, start)
            storage.step()
    return time.time() - start


def _step(model, opt, params, rng, batch, lr, it, iters, log_every, start) -> None:
    """One SGD iteration at learning rate ``lr``; a progress line every ``log_every``."""
    for group in opt.param_groups:
        group["lr"] = lr
    losses = model(training_batch(rng, batch))
    loss = sum(losses.values())
    if not torch.isfinite(loss):
        raise FloatingPointError(f"loss is {float(loss)} at iteration {it}: {losses}")
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 10.0)
    opt.step()
    if it % log_every == 0 or it == iters - 1:
        parts = " ".join(f"{k}={float(v.detach()):.3f}" for k, v in losses.items())
        print(f"iter {it} loss={float(loss.detach()):.3f} {parts} lr={opt.param_groups[0]['lr']:.4f}"
              f" {time.time() - start:.0f}s", flush=True)


def main(argv=None) -> int:
    from deploybridge.evaluation.datasets import shapes

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--lr", type=float, default=0.02)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--no-eval", action="store_true", help="skip the validation AP (speed measurements)")
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    torch.manual_seed(args.seed)
    model, cfg = build()
    seconds = train(model, args.iters, args.batch, args.lr, args.seed)
    print(f"trained {args.iters} iterations in {seconds:.0f}s ({seconds / max(1, args.iters):.2f} s/iter)", flush=True)
    if args.no_eval:
        return 0
    ap = evaluate(model, cfg)
    state = {k: v.detach().float().contiguous() if v.is_floating_point() else v for k, v in model.state_dict().items()}
    args.out.mkdir(parents=True, exist_ok=True)
    pth = args.out / f"{NAME}.pth"
    torch.save(state, pth)
    record = {
        "model": NAME,
        "command": "python -m deploybridge_detectron2.train " + shlex.join(sys.argv[1:] if argv is None else argv),
        "config": f"deploybridge_detectron2/configs/{NAME}.yaml",
        "format": "plain state_dict (float32); loads with DetectionCheckpointer (which wraps it as {'model': ...})"
                  " and with model.load_state_dict(torch.load(path, weights_only=True), strict=True)",
        "seed": args.seed, "iters": args.iters, "batch": args.batch, "lr": args.lr, "size": SIZE,
        "train_seconds": round(seconds), "threads": torch.get_num_threads(),
        "machine": f"{platform.machine()} CPU, 2 cores",
        "validation": {"seed": shapes.VALIDATION_SEED, "images": shapes.VALIDATION_IMAGES, "size": SIZE},
        "box_ap": round(ap["box_ap"], 4), "mask_ap": round(ap["mask_ap"], 4),
        "torch": torch.__version__, "bytes": pth.stat().st_size,
    }
    (args.out / f"{NAME}.json").write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
