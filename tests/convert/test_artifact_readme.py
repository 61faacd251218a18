"""An artifact's README.md is enough to run it: a process that never imports deploybridge runs the README's Python
program with onnxruntime and numpy (and, for a segmented artifact, the host NMS written from the README's words
alone) and gets the outputs deploybridge's own runner gives, within the manifest's tolerances."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

# Runs in a fresh interpreter: only numpy, onnxruntime and the README's text.
FOLLOWER = r'''
import sys
import numpy as np

readme = open("README.md").read()
code = readme.split("```python\n", 1)[1].split("```", 1)[0]
ns = {"__name__": "readme_snippet"}
exec(compile(code, "README.md python snippet", "exec"), ns)


def non_max_suppression(inputs, attributes):
    """README.md, Host steps, HostNonMaxSuppression, implemented from its words."""
    boxes, scores, max_per_class, iou_threshold, score_threshold = (list(inputs) + [None] * 5)[:5]
    limit = int(max_per_class.reshape(-1)[0]) if max_per_class is not None else 0
    iou_limit = float(iou_threshold.reshape(-1)[0]) if iou_threshold is not None else 0.0
    rows = []
    for b in range(boxes.shape[0]):
        box = boxes[b].astype(np.float64)
        if attributes.get("center_point_box", 0):
            xc, yc, w, h = box.T
            box = np.stack([yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2], 1)
        y1, x1 = np.minimum(box[:, 0], box[:, 2]), np.minimum(box[:, 1], box[:, 3])
        y2, x2 = np.maximum(box[:, 0], box[:, 2]), np.maximum(box[:, 1], box[:, 3])
        area = (y2 - y1) * (x2 - x1)
        for c in range(scores.shape[1]):
            s = scores[b, c]
            candidates = [i for i in range(len(s)) if score_threshold is None or s[i] > float(score_threshold.reshape(-1)[0])]
            candidates.sort(key=lambda i: (-s[i], i))
            kept = []
            while candidates and len(kept) < limit:
                i = candidates.pop(0)
                kept.append(i)
                def iou(j):
                    if area[i] <= 0 or area[j] <= 0:
                        return 0.0
                    inter = max(0.0, min(y2[i], y2[j]) - max(y1[i], y1[j])) * max(0.0, min(x2[i], x2[j]) - max(x1[i], x1[j]))
                    return inter / (area[i] + area[j] - inter)
                candidates = [j for j in candidates if not iou(j) > iou_limit]
            rows += [(b, c, i) for i in kept]
    return [np.array(rows, dtype=np.int64).reshape(-1, 3)]


ns["HostNonMaxSuppression"] = non_max_suppression
feeds = np.load(sys.argv[1])
results = {}
for k in range(int(feeds["count"])):
    out = ns["run"]({name[len(f"{k}/"):]: feeds[name] for name in feeds.files if name.startswith(f"{k}/")})
    results.update({f"{k}/{name}": value for name, value in out.items()})
assert "deploybridge" not in sys.modules, "the README's program imported deploybridge"
np.savez(sys.argv[2], **results)
'''


def verified_outputs(folder: Path):
    """The verification inputs of the artifact and what deploybridge's runner gives on them."""
    from deploybridge.convert import artifact
    from deploybridge.convert.resolve import load_model, resolve_backend, resolve_family
    from deploybridge.plugins import Host
    from deploybridge.records import ModelSpec
    from deploybridge.runtime import segments

    manifest = artifact.read_manifest(folder)  # checks every file's checksum, README.md's included
    host = Host()
    spec = ModelSpec.from_json(manifest["spec"])
    loaded = load_model(resolve_family(host, spec, manifest["plugin"]["name"]), spec)
    runner = segments.load(resolve_backend(host, "onnxruntime"), folder, manifest, {}, host.host_ops())
    feeds = [{n: t.numpy() for n, t in zip(loaded.input_names, loaded.make_inputs(seed))}
             for seed in manifest["verification"]["seeds"]]
    return manifest, feeds, [runner(f) for f in feeds]


@pytest.mark.parametrize("extra", [[], ["--truncate-nms"]], ids=["plain", "segmented"])
def test_readme_alone_runs_the_artifact(cli, tmp_path, extra):
    out = tmp_path / "artifact"
    result = cli("convert", "--plugin", "torchvision", "--model", "shapes_retinanet", *extra, "--out", out)
    assert result.code == 0, result.err
    readme = (out / "README.md").read_text()
    manifest, feeds, expected = verified_outputs(out)
    assert "README.md" in manifest["files"]
    for section in ("## Preprocessing", "## Inputs and outputs", "```python", "```cpp", "`images` | float32 | [1, 3, 192, 192]"):
        assert section in readme, section
    if extra:
        assert "## Host steps" in readme and "strictly greater than `iou_threshold`" in readme
        assert [row["kind"] for row in manifest["segments"]] == ["engine", "host", "engine"]

    npz = {"count": np.array(len(feeds))}
    npz.update({f"{k}/{name}": value for k, feed in enumerate(feeds) for name, value in feed.items()})
    np.savez(tmp_path / "feeds.npz", **npz)
    done = subprocess.run([sys.executable, "-c", FOLLOWER, str(tmp_path / "feeds.npz"), str(tmp_path / "got.npz")],
                          cwd=out, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    got = np.load(tmp_path / "got.npz")

    found = 0
    for k, want in enumerate(expected):
        for name, value in want.items():
            tol = manifest["tolerances"][name]
            mine = got[f"{k}/{name}"]
            assert mine.shape == value.shape and mine.dtype == value.dtype, (name, mine.shape, value.shape)
            error = float(np.max(np.abs(mine.astype(np.float64) - value), initial=0.0))
            assert np.allclose(mine, value, atol=tol["atol"], rtol=tol["rtol"]), (k, name, error, tol)
        found += len(want["boxes"])
    assert found > 0  # the comparison covered detections, not empty outputs


def test_readme_examples_have_concrete_shapes_and_constants():
    """Unit: the example call gets the verified size for named dims, and host-step constants are inlined exactly."""
    from deploybridge.convert.artifact_readme import example_shapes
    from deploybridge.convert.artifact_readme_code import Program, Step, cpp_snippet, python_snippet

    manifest = {"inputs": [{"name": "images", "dtype": "float32", "shape": [1, 3, "height", "width"]}],
                "preprocessing": {"dynamic": {"opt": [1, 3, 192, 256]}}}
    assert example_shapes(manifest) == {"images": [1, 3, 192, 256]}
    constants = {"k": np.array([9223372036854775807], np.int64), "iou": np.array([0.5], np.float32)}
    program = Program(manifest["inputs"], ["out"], {"images": [1, 3, 192, 256]},
                      [Step("engine", ["images"], ["a"], file="segments/0/model.onnx"),
                       Step("host", ["a", "", "k", "iou"], ["out"], op="HostOp", node="n", attributes={"mode": "x"})],
                      constants)
    py = python_snippet(program)
    ns: dict = {"__name__": "x"}
    exec(compile(py, "snippet", "exec"), ns)
    assert ns["CONSTANTS"]["k"].tolist() == [9223372036854775807] and ns["CONSTANTS"]["iou"].dtype == np.float32
    assert 'HostOp([env["a"], None, env["k"], env["iou"]], {\'mode\': \'x\'})' in py
    cpp = cpp_snippet(program)
    assert "std::vector<int64_t>{9223372036854775807}" in cpp and "std::vector<float>{0.5f}" in cpp
    assert 'HostOp({&env.at("a"), nullptr, &env.at("k"), &env.at("iou")})' in cpp


TORCHSCRIPT_FOLLOWER = r'''
import json, sys
import numpy as np
import torch

readme = open("README.md").read()
assert "torch.jit.load('model.pt')" in readme and "torch.float16" in readme
half = json.load(open("torchscript.json")).get("fp16") is True
m = torch.jit.load("model.pt")
x = torch.from_numpy(np.load(sys.argv[1]))
assert "torch.inference_mode()" in readme
with torch.inference_mode():
    out = m(x.half() if half else x)  # as README.md says: cast float inputs when torchscript.json says fp16
out = out[0] if isinstance(out, (tuple, list)) else out
np.save(sys.argv[2], out.float().numpy())
assert not any(name.startswith("deploybridge") for name in sys.modules)
'''


def test_a_half_torchscript_artifact_runs_from_its_readme(cli, tmp_path):
    """Seed 000: a half TorchScript module fed float32 fails; the README says to cast, and following it gives the
    verified runner's outputs."""
    from deploybridge.convert import artifact
    from deploybridge.plugins import Host
    from deploybridge.convert.resolve import resolve_backend
    from deploybridge.runtime import segments

    out = tmp_path / "ts"
    result = cli("convert", "--plugin", "torchvision", "--model", "mobilenet_v3_small", "--random-weights",
                 "--input-shape", "1,3,64,64", "--num-inputs", "1", "--backend", "torchscript", "--fp16", "--out", out)
    assert result.code == 0, result.err
    x = np.random.default_rng(0).random((1, 3, 64, 64), dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    (tmp_path / "follow.py").write_text(TORCHSCRIPT_FOLLOWER)
    run = subprocess.run([sys.executable, str(tmp_path / "follow.py"), str(tmp_path / "x.npy"), str(tmp_path / "y.npy")],
                         cwd=out, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    manifest = artifact.read_manifest(out)
    runner = segments.load(resolve_backend(Host(only=["builtin"]), "torchscript"), out, manifest, manifest["backend"]["options"])
    expected = runner({"images": x})["logits"]
    assert np.abs(np.load(tmp_path / "y.npy") - expected).max() <= manifest["tolerances"]["logits"]["atol"]
