"""Two-stage detectors on ONNX Runtime: the raw export against the one with the issue-18 rewrites.

For each model, converts twice with `deploy convert` (both verified): once with ``paste_masks``,
``roi_levels_gather`` and ``mask_logits_by_label`` off (``--no-rewrite``), once with them on. Then, in this one process, times PyTorch eager
and each artifact on ONNX Runtime (and on OpenVINO when installed; the raw Mask R-CNN graph is refused there),
interleaved run by run on the same verification input, and prints median / p10 / p90 ms and the ratios.

    flock /tmp/db-heavy.lock .venv/bin/python benchmarks/maskrcnn_rewrites.py [--runs 20] [--threads 2] [--only NAME]

Default: shapes_maskrcnn (192²) and maskrcnn_resnet50_fpn --random-weights (320²); --only fasterrcnn_resnet50_fpn too.
The numbers measured with it are in docs/rewrites.md ("Speed on ONNX Runtime").

The op counts of both graphs (Loop, Scatter*, MatMul) are printed too. Artifacts go to artifacts/maskrcnn_rewrites/ (git-ignored).
"""
from __future__ import annotations

import argparse
import collections
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REWRITES = ("paste_masks", "roi_levels_gather", "mask_logits_by_label")
MODELS = {  # name -> deploy convert arguments
    "shapes_maskrcnn": ["--plugin", "torchvision", "--model", "shapes_maskrcnn"],
    "maskrcnn_resnet50_fpn": ["--plugin", "torchvision", "--model", "maskrcnn_resnet50_fpn", "--random-weights",
                              "--input-shape", "1,3,320,320"],
    "fasterrcnn_resnet50_fpn": ["--plugin", "torchvision", "--model", "fasterrcnn_resnet50_fpn", "--random-weights",
                                "--input-shape", "1,3,320,320"],
}


def convert(name: str, raw: bool) -> Path:
    out = HERE.parent / "artifacts" / "maskrcnn_rewrites" / f"{name}_{'raw' if raw else 'rewritten'}"
    if not (out / "model.onnx").exists():
        off = [a for r in REWRITES for a in ("--no-rewrite", r)] if raw else []
        cmd = [str(Path(sys.executable).parent / "deploy"), "convert", *MODELS[name], "--out", str(out), "--force", *off]
        done = subprocess.run(cmd, capture_output=True, text=True)
        verdict = [ln for ln in done.stdout.splitlines() if ln.startswith("verification")]
        print(f"  convert {out.name}: exit {done.returncode}; {verdict[-1] if verdict else done.stderr.strip()[-300:]}")
    return out


def op_counts(path: Path) -> dict[str, int]:
    import onnx

    ops = collections.Counter(n.op_type for n in onnx.load(str(path / "model.onnx")).graph.node)
    return {k: ops.get(k, 0) for k in ("Loop", "ScatterElements", "ScatterND", "MatMul", "RoiAlign")}


def ort_runner(path: Path, threads: int):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
    opts.log_severity_level = 3  # the raw graph's res_append shape warning would be printed on every run
    # no spinning: an idle session's spinning threads would steal the cores from the runner timed after it
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(str(path / "model.onnx"), opts, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda x: session.run(None, {name: x})


def openvino_runner(path: Path, threads: int):
    """A runner, or the first line of why OpenVINO cannot compile or run the graph."""
    try:
        import openvino as ov
    except ImportError:
        return "openvino not installed (pip install openvino)"
    try:
        core = ov.Core()
        # float32 as the openvino backend compiles (the CPU default is bfloat16 where the CPU has it)
        config = {"INFERENCE_NUM_THREADS": threads, "INFERENCE_PRECISION_HINT": "f32"}
        compiled = core.compile_model(str(path / "model.onnx"), "CPU", config)
        request = compiled.create_infer_request()
        return lambda x: request.infer({0: x})
    except Exception as exc:  # the refusal is the finding
        return _reason(exc)


def _reason(exc: Exception) -> str:
    """OpenVINO's message starts with source locations; the line naming the op is the one to show."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    at = next((k for k, ln in enumerate(lines) if ln.startswith("-- ")), None)  # "-- Loop-17 with a message:"
    if at is None:
        return (lines or [type(exc).__name__])[-1][:200]
    why = next((ln for ln in lines[at + 1:] if not ln.startswith(("While validating", "Exception from"))), "")
    return f"{lines[at][3:]} {why}"[:200]


def timed(runners: dict, x, runs: int, warmup: int) -> dict[str, list[float]]:
    times = {k: [] for k in runners}
    for k, run in runners.items():
        for _ in range(warmup):
            run(x)
    for _ in range(runs):
        for k, run in runners.items():  # interleaved: drift and neighbours' load hit every runner alike
            start = time.perf_counter()
            run(x)
            times[k].append((time.perf_counter() - start) * 1000)
    return times


def load_model(name: str):
    from deploybridge_torchvision.load import load
    from deploybridge.records import ModelSpec

    args = MODELS[name]
    shape = tuple(int(v) for v in args[args.index("--input-shape") + 1].split(",")) if "--input-shape" in args else None
    return load(ModelSpec(family="torchvision", model=name, random_weights="--random-weights" in args, input_shape=shape))


def bench(name: str, runs: int, warmup: int, threads: int) -> dict:
    import torch

    torch.set_num_threads(threads)
    raw, rewritten = convert(name, raw=True), convert(name, raw=False)
    loaded = load_model(name)
    x = loaded.make_inputs(1000)[0]
    module = loaded.module

    def eager(x_np):
        with torch.no_grad():
            return module(torch.from_numpy(x_np))

    runners = {"eager": eager, "ort raw": ort_runner(raw, threads), "ort rewritten": ort_runner(rewritten, threads)}
    refused = {}
    for label, path in (("openvino raw", raw), ("openvino rewritten", rewritten)):
        got = openvino_runner(path, threads)
        if isinstance(got, str):
            refused[label] = got
        else:
            runners[label] = got
    x_np = x.numpy()
    for label in [k for k in runners if k.startswith("openvino")]:
        try:
            runners[label](x_np)
        except Exception as exc:
            refused[label] = _reason(exc)
            del runners[label]
    detections = len(runners["ort rewritten"](x_np)[0])
    times = timed(runners, x_np, runs, warmup)
    rows = {}
    for k, t in times.items():
        q = statistics.quantiles(t, n=10)
        rows[k] = {"median_ms": round(statistics.median(t), 2), "p10_ms": round(q[0], 2), "p90_ms": round(q[-1], 2)}
    return {"model": name, "detections": detections, "ops_raw": op_counts(raw), "ops_rewritten": op_counts(rewritten),
            "times": rows, "refused": refused,
            "ort_speedup": round(rows["ort raw"]["median_ms"] / rows["ort rewritten"]["median_ms"], 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", action="append", choices=sorted(MODELS))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    for name in args.only or ["shapes_maskrcnn", "maskrcnn_resnet50_fpn"]:
        result = bench(name, args.runs, args.warmup, args.threads)
        if args.json:
            print(json.dumps(result))
            continue
        print(f"{name}: {result['detections']} detections; ops raw {result['ops_raw']}; rewritten {result['ops_rewritten']}")
        eager = result["times"]["eager"]["median_ms"]
        for k, row in result["times"].items():
            print(f"  {k:20s} median {row['median_ms']:8.2f} ms  p10 {row['p10_ms']:8.2f}  p90 {row['p90_ms']:8.2f}"
                  f"  {eager / row['median_ms']:5.2f}x eager")
        for k, why in result["refused"].items():
            print(f"  {k:20s} refused: {why}")
        print(f"  ORT rewritten vs raw: {result['ort_speedup']}x")


if __name__ == "__main__":
    main()
