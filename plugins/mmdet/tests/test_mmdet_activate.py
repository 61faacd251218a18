"""MMDetection in the user's own scripts (deploybridge_mmdet.activation): ``activate()`` by hand, and the start-up
hook ``deploy install mmdet`` writes, each in a fresh interpreter of a throw-away venv.

The throw-away venv sees this checkout's .venv (a path .pth plus copies of its other .pth files, the editable
installs) but never the .venv's own start-up hook, so "without" is really without, whatever state .venv is in,
and the hook is written into the throw-away venv by the real ``deploy install mmdet``.
"""
import importlib.util
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from deploybridge_mmdet.activation import PTH_LINE, PTH_NAME

pytest.importorskip("mmdet", reason="MMDetection not installed here: run `deploy install mmdet`")

MMDET = Path(importlib.util.find_spec("mmdet").submodule_search_locations[0])
CONFIG = MMDET / ".mim" / "configs" / "retinanet" / "retinanet_r18_fpn_1x_coco.py"

# a user's script: MMDetection's own API, a random-init RetinaNet (no checkpoint), every candidate kept
INFER = f"""
import sys, numpy as np, torch
torch.manual_seed(0)
from mmdet.apis import init_detector, inference_detector
model = init_detector({str(CONFIG)!r}, checkpoint=None, device="cpu", cfg_options={{"model.test_cfg.score_thr": 0.0}})
out = inference_detector(model, np.random.default_rng(0).integers(0, 255, (96, 128, 3), dtype=np.uint8)).pred_instances
print("boxes", tuple(out.bboxes.shape), float(out.bboxes[:, 0::2].max()), float(out.bboxes[:, 1::2].max()))
print("mmcv._ext", sys.modules["mmcv._ext"].__name__)
"""


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A venv of the same base Python that sees .venv's packages (not its start-up hook); returns (python, site)."""
    root = tmp_path_factory.mktemp("userenv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    python = root / "bin" / "python"
    site = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               capture_output=True, text=True, check=True).stdout.strip())
    ours = Path(sysconfig.get_path("purelib"))
    (site / "00-checkout-venv.pth").write_text(f"{ours}\n")
    for pth in ours.glob("*.pth"):
        if pth.name != PTH_NAME:
            (site / pth.name).write_text(pth.read_text())
    return python, site


def run(python: Path, *args: str) -> subprocess.CompletedProcess:
    # outside the checkout, so nothing is imported from the working directory
    return subprocess.run([str(python), *args], capture_output=True, text=True, timeout=300, cwd=python.parent,
                          env={k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSTARTUP")})


def detections(proc: subprocess.CompletedProcess) -> tuple[tuple[int, int], float, float, str]:
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = dict(line.split(" ", 1) for line in proc.stdout.splitlines() if line.startswith(("boxes", "mmcv._ext")))
    shape, xmax, ymax = lines["boxes"].rsplit(" ", 2)
    return eval(shape), float(xmax), float(ymax), lines["mmcv._ext"]


def test_without_activation_mmdet_models_fails(env):
    python, site = env
    assert not (site / PTH_NAME).exists()
    proc = run(python, "-c", "import mmdet.models")
    assert proc.returncode != 0 and "No module named 'mmcv._ext'" in proc.stderr, proc.stderr[-500:]


def test_activate_by_hand_runs_init_detector_and_inference(env):
    python, _ = env
    script = "import deploybridge_mmdet\nprint('provider', deploybridge_mmdet.activate(), deploybridge_mmdet.activate())\n"
    proc = run(python, "-c", script + INFER)
    assert "provider deploybridge deploybridge" in proc.stdout, proc.stderr[-1000:]  # idempotent, same answer
    shape, xmax, ymax, ext = detections(proc)
    # score_thr 0: max_per_img (100) boxes after mmcv's batched_nms on the layer, clipped to the 128 x 96 image
    assert shape == (100, 4) and 0 < xmax <= 128 and 0 < ymax <= 96
    assert ext == "deploybridge_mmdet.mmcv_ext"


def test_install_writes_a_lazy_start_up_hook_for_unmodified_scripts(env):
    python, site = env
    first = run(python, "-m", "deploybridge", "install", "mmdet")
    assert first.returncode == 0 and f"start-up hook {site / PTH_NAME}" in first.stdout, first.stdout + first.stderr
    again = run(python, "-m", "deploybridge", "install", "mmdet")
    assert again.stdout.startswith("already installed: "), again.stdout + again.stderr  # idempotent
    assert (site / PTH_NAME).read_text() == PTH_LINE and len(list(site.glob("*activate*.pth"))) == 1

    # at start-up: the finder is there, nothing heavy was imported (not even deploybridge_mmdet)
    probe = ("import sys; print(any(getattr(f, 'deploybridge_mmdet_hook', False) for f in sys.meta_path),"
             " sorted(m for m in ('torch', 'mmcv', 'mmdet', 'deploybridge', 'deploybridge_mmdet', 'pluggy') if m in sys.modules))")
    assert run(python, "-c", probe).stdout.split() == ["True", "[]"]

    shape, xmax, ymax, ext = detections(run(python, "-c", INFER))  # no deploybridge import in the script
    assert shape == (100, 4) and 0 < xmax <= 128 and 0 < ymax <= 96 and ext == "deploybridge_mmdet.mmcv_ext"
    provider = run(python, "-c", "import mmdet.models, deploybridge_mmdet; print(deploybridge_mmdet.activate())")
    assert provider.stdout.strip() == "deploybridge", provider.stderr[-500:]

    removed = run(python, "-m", "deploybridge_mmdet.activation", "--remove")
    assert removed.stdout.strip() == f"removed {site / PTH_NAME}"
    assert "No module named 'mmcv._ext'" in run(python, "-c", "import mmdet.models").stderr
