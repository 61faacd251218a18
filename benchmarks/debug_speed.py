"""How long `deploy debug` takes on a failed conversion, against one `deploy verify` of the same artifact.

Converts torchvision ``maskrcnn_resnet50_fpn --random-weights --input-shape 1,3,320,320`` with a planted wrong
rewrite (tests/plugin_fixtures/db_test_scaled.py: one backbone convolution's output scaled by 1.01 while exporting,
picked by its weights), so verification fails. Then times `deploy verify OUT` and `deploy debug OUT --json`, each a
subprocess (each pays its own start-up: imports, plugin load, model rebuild), interleaved run by run, and prints the
medians, the ratio and what debug named as the first divergence.

    flock /tmp/db-heavy.lock .venv/bin/python benchmarks/debug_speed.py [--runs 3] [--conv NAME] [--reconvert]

Writes benchmarks/DEBUG_SPEED.md. The artifact goes to artifacts/debug_speed/ (git-ignored), reused unless --reconvert.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
FIXTURES = ROOT / "tests" / "plugin_fixtures"
MODEL = ["--family", "torchvision", "--model", "maskrcnn_resnet50_fpn", "--random-weights",
         "--input-shape", "1,3,320,320"]
CONV = "model.backbone.body.layer3.0.conv2"  # mid-backbone: debug must pair and compare the whole stem before it
OUT = ROOT / "artifacts" / "debug_speed" / "maskrcnn_r50_320_planted"


def _install_planted_plugin(site: Path) -> None:
    """The scale_one_conv plugin as an entry point, as pip would install it (tests/conftest.py fake_plugin)."""
    info = site / "db_test_scaled-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: db-test-scaled\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[deploybridge]\nscaled = db_test_scaled\n")
    sys.path[:0] = [str(FIXTURES), str(site)]
    os.environ["DEPLOYBRIDGE_PLUGINS"] = "torchvision,scaled"


def convert_planted(conv: str) -> int:
    """Convert in this process with the rewrite scaling ``conv`` (picked by its seeded random weights); the exit code."""
    import torch

    from deploybridge.cli import main
    from deploybridge.convert.resolve import load_model, resolve_family
    from deploybridge.plugins import Host
    from deploybridge.records import ModelSpec

    with tempfile.TemporaryDirectory() as site:
        _install_planted_plugin(Path(site))
        import db_test_scaled

        spec = ModelSpec(family="torchvision", model="maskrcnn_resnet50_fpn", random_weights=True,
                         input_shape=(1, 3, 320, 320))
        modules = dict(load_model(resolve_family(Host(only=["torchvision"]), spec, "torchvision"), spec).module.named_modules())
        weight = modules[conv].weight.detach().clone()
        # by value: the R50 has many convolutions of one shape; the legacy exporter traces, so the test is Python-side
        db_test_scaled.TARGET = lambda m: m.weight.shape == weight.shape and bool((m.weight == weight).all())
        if OUT.exists():
            shutil.rmtree(OUT)
        code = main(["convert", *MODEL, "--out", str(OUT)])
        db_test_scaled.TARGET = None
        del os.environ["DEPLOYBRIDGE_PLUGINS"]
    return code


def timed(cmd: list[str]) -> tuple[float, subprocess.CompletedProcess]:
    env = {k: v for k, v in os.environ.items() if k != "DEPLOYBRIDGE_PLUGINS"}
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    return time.perf_counter() - start, done


def main_() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--conv", default=CONV)
    parser.add_argument("--reconvert", action="store_true")
    parser.add_argument("--md", type=Path, default=HERE / "DEBUG_SPEED.md")
    args = parser.parse_args()

    if args.reconvert or not (OUT / "manifest.json").exists():
        start = time.perf_counter()
        code = convert_planted(args.conv)
        print(f"convert (planted {args.conv}): exit {code}, {time.perf_counter() - start:.0f} s")
        if code != 1:
            sys.exit(f"the planted conversion must fail verification (exit 1), got {code}")
    deploy = str(Path(sys.executable).parent / "deploy")
    runs: dict[str, list[float]] = {"verify": [], "debug": []}
    inner: list[dict] = []
    report = None
    for k in range(args.runs):
        for name, cmd in (("verify", [deploy, "verify", str(OUT)]), ("debug", [deploy, "debug", str(OUT), "--json"])):
            seconds, done = timed(cmd)
            runs[name].append(seconds)
            print(f"  run {k + 1} {name}: {seconds:.1f} s (exit {done.returncode})", flush=True)
            if name == "verify" and done.returncode != 1:
                sys.exit(f"verify must fail on the planted artifact (exit 1), got {done.returncode}: {done.stderr[-300:]}")
            if name == "debug":
                if done.returncode != 1:
                    sys.exit(f"debug must find the divergence (exit 1), got {done.returncode}: {done.stderr[-300:]}")
                report = json.loads(done.stdout)
                inner.append(report.get("seconds", {}))
    verify, debug = statistics.median(runs["verify"]), statistics.median(runs["debug"])
    first = report["first_divergence"]["error"]
    named = first["module"]
    lines = [
        "# `deploy debug` speed on a failed conversion",
        "",
        "Written by `benchmarks/debug_speed.py`; re-run it to refresh this page (one machine, one run).",
        "",
        f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"- machine: the 2-core CPU of this sandbox ({os.cpu_count()} cores visible), {platform.platform()},"
        f" Python {platform.python_version()}",
        "- model: torchvision maskrcnn_resnet50_fpn, random weights, input 1x3x320x320, ONNX Runtime CPU",
        f"- planted: a wrong rewrite scaling `{args.conv}`'s output by 1.01 while exporting: verification fails",
        f"- command: `flock /tmp/db-heavy.lock .venv/bin/python benchmarks/debug_speed.py --runs {args.runs}`",
        f"- timing: `deploy verify OUT` and `deploy debug OUT --json`, each a subprocess (start-up, plugin load and"
        f" model rebuild included), interleaved, {args.runs} runs each, median wall-clock",
        "",
        "| command | median s | runs s |",
        "|---|---|---|",
        f"| deploy verify | {verify:.1f} | {', '.join(f'{s:.1f}' for s in runs['verify'])} |",
        f"| deploy debug | {debug:.1f} | {', '.join(f'{s:.1f}' for s in runs['debug'])} |",
        f"| ratio debug / verify | **{debug / verify:.2f}x** | |",
        "",
        f"Inside debug (its debug.json `seconds`, median): rebuild + input + graph load"
        f" {statistics.median(s.get('load', 0) for s in inner):.1f} s, hooks + ONNX Runtime read-out + pairing"
        f" {statistics.median(s.get('compare', 0) for s in inner):.1f} s.",
        "",
        f"First divergence named by debug: `{named}` (op {first['op']}, tensor `{first['tensor']}`, max rel"
        f" {first['max_rel']:.2e}); {report['compared']} tensors compared."
        f" {'It is the planted convolution.' if named == args.conv else 'NOT the planted convolution.'}",
        "",
    ]
    text = "\n".join(lines)
    print("\n" + text)
    args.md.write_text(text)


if __name__ == "__main__":
    main_()
