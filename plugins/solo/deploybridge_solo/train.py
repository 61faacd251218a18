"""Train the solo plugin's SOLOv2 on the shapes dataset on 2 CPU cores and record its measured mask AP.

    .venv/bin/python -m deploybridge_solo.train --iters 1500

Writes <out>/solov2_shapes.pth ({'state_dict': ...}, loads with weights_only=True) and solov2_shapes.json
(command, seed, iterations, minutes, box/mask AP@[.5:.95] of MMDetection's own predict on the shapes validation
split). Images are drawn fresh each iteration from the shapes generator (seeded), so there is no dataset on disk.
Run one training at a time: two-thread torch slows ~10x when another job takes a core.
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

CONFIG = Path(__file__).parent / "configs" / "solov2_shapes.py"
DEFAULT_OUT = Path(__file__).parent / "checkpoints"
SIZE = 192


def _sample(instances, size: int):
    from mmdet.structures import DetDataSample
    from mmdet.structures.mask import BitmapMasks
    from mmengine.structures import InstanceData

    meta = {"img_shape": (size, size), "ori_shape": (size, size), "pad_shape": (size, size),
            "batch_input_shape": (size, size), "scale_factor": (1.0, 1.0)}
    sample = DetDataSample(metainfo=meta)
    masks = np.stack([i.mask for i in instances]).astype(np.uint8) if instances else np.zeros((0, size, size), np.uint8)
    boxes = [[b[0], b[1], b[0] + b[2], b[1] + b[3]] for b in (i.bbox for i in instances)]
    sample.gt_instances = InstanceData(bboxes=torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
                                       labels=torch.tensor([i.category_id - 1 for i in instances], dtype=torch.long),
                                       masks=BitmapMasks(masks, size, size))
    return sample


def to_network(pixels_rgb: np.ndarray, normalise) -> torch.Tensor:
    """HxWx3 uint8 RGB -> 1x3xHxW normalised, fed as MMDetection feeds it (BGR 0-255, then the preprocessor)."""
    from deploybridge_solo.family import bgr_tensor

    return normalise(bgr_tensor(pixels_rgb))


def batch(rng, n: int, normalise):
    from deploybridge.evaluation.datasets import shapes

    images, samples = [], []
    for _ in range(n):
        pixels, instances = shapes.make_image(rng, SIZE, SIZE)
        images.append(to_network(pixels, normalise))
        samples.append(_sample(instances, SIZE))
    return torch.cat(images), samples


def predict_runner(model, pre: dict):
    """An ``evaluate`` runner: the input as ``pre`` feeds it (0-255 BGR NCHW) -> MMDetection's own predict."""
    from deploybridge_mmdet.reference import mmdet_predict

    def run(x: np.ndarray) -> dict:
        return mmdet_predict(model, torch.from_numpy(x), pre)

    return run


def evaluate(model, pre: dict) -> dict:
    from deploybridge.evaluation import ap_delta

    model.eval()
    with ap_delta.resolve_dataset("shapes", SIZE) as annotations:
        result = ap_delta.evaluate(annotations, {"mmdet": predict_runner(model, pre)}, (1, 3, SIZE, SIZE), True, pre)
    return result.ap["mmdet"]


def main(argv=None) -> int:
    from deploybridge_mmdet import config as cfgmod
    from deploybridge_mmdet.dense import Normalise

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=1500)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    model, cfg = cfgmod.build(str(CONFIG))
    model.init_weights()
    pre = cfgmod.preprocessing(cfg)
    normalise = Normalise(pre)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=args.lr, momentum=0.9, weight_decay=1e-4)
    warmup = min(200, args.iters // 10)
    schedule = lambda it: (it + 1) / warmup if it < warmup else 0.5 * (1 + math.cos(math.pi * (it - warmup) / max(1, args.iters - warmup)))  # noqa: E731
    start = time.time()
    model.train()
    for it in range(args.iters):
        for group in opt.param_groups:
            group["lr"] = args.lr * schedule(it)
        images, samples = batch(rng, args.batch, normalise)
        losses = model.loss(images, samples)
        loss = sum(v for k, v in losses.items() if "loss" in k)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 35.0)
        opt.step()
        if it % 50 == 0 or it == args.iters - 1:
            parts = " ".join(f"{k}={float(v):.3f}" for k, v in losses.items())
            print(f"iter {it} loss={float(loss):.3f} {parts} {time.time() - start:.0f}s", flush=True)
    minutes = (time.time() - start) / 60
    ap = evaluate(model, pre)
    args.out.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": model.state_dict()}, args.out / "solov2_shapes.pth")
    record = {"command": "python -m deploybridge_solo.train " + shlex.join(sys.argv[1:] if argv is None else argv),
              "config": "deploybridge_solo/configs/solov2_shapes.py", "seed": args.seed, "iters": args.iters,
              "batch": args.batch, "minutes": round(minutes, 1), "machine": "2-core CPU, torch 2.14.1, 2 threads",
              "shapes_validation": {k: round(v, 4) for k, v in ap.items()}}
    (args.out / "solov2_shapes.json").write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
