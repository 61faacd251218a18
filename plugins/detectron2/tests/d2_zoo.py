"""Fixtures shared by the detectron2 plugin tests, imported by name (``from d2_zoo import zoo_converter``).

Not a conftest.py: a second module named ``conftest`` replaces the root one in ``sys.modules``, and every
``from conftest import ...`` in the other test folders then fails to collect (the root conftest.py has cli,
onnx_parity, assert_one_line_error, ...)."""
from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest

R18_OPTIONS = {"MODEL.RESNETS.DEPTH": 18, "MODEL.RESNETS.RES2_OUT_CHANNELS": 64, "INPUT.MIN_SIZE_TEST": 192}
ZOO = {
    "mask": "COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_3x",
    "faster": "COCO-Detection/faster_rcnn_R_50_FPN_3x",
    "retinanet": "COCO-Detection/retinanet_R_50_FPN_3x",
    "keypoints": "COCO-Keypoints/keypoint_rcnn_R_50_FPN_3x",
    "cascade": "Misc/cascade_mask_rcnn_R_50_FPN_3x",
    "faster_c4": "COCO-Detection/faster_rcnn_R_50_C4_3x",  # ResNet-18 builds here too (res5 is the ROI head)
}


@dataclass
class Converted:
    code: int
    out: Path
    stdout: str
    stderr: str

    def report(self) -> dict:
        """report.json: export warnings with their verdicts, verification details (kept also when it failed)."""
        return json.loads((self.out / "report.json").read_text())

    def manifest(self) -> dict:
        return json.loads((self.out / "manifest.json").read_text())

    def unknown_warnings(self) -> list[str]:
        return [f"{w['source']} {w['message'][:60]}" for w in self.report()["export_warnings"] if w["verdict"] == "unknown"]


def convert_zoo(out: Path, model: str, opset: int, *flags: str) -> Converted:
    """``deploy convert`` of a bundled model-zoo config with a ResNet-18 at 192², random weights, in-process (usable
    from module-scoped fixtures, where the cli fixture is not)."""
    from deploybridge.cli import main

    args = ["convert", "--plugin", "detectron2", "--config", ZOO[model], "--random-weights", "--opset", str(opset),
            "--out", str(out), "--force", *flags]
    for key, value in R18_OPTIONS.items():
        args += ["--option", f"{key}={value}"]
    stdout, stderr = io.StringIO(), io.StringIO()
    with redirect_stdout(stdout), redirect_stderr(stderr):
        code = main(args)
    return Converted(code, out, stdout.getvalue(), stderr.getvalue())


# process-wide, not per module: test_detectron2_debug and test_detectron2_rewrites need the same two Mask R-CNN
# conversions at opset 11 (~50 s each in CI). A session-scoped fixture would not share them: each module importing it
# by name gets its own fixture definition, with its own cache. Tests only read the artifacts (`deploy debug` adds its
# own files next to them).
_CONVERTED: dict[tuple, Converted] = {}


@pytest.fixture(scope="module")
def zoo_converter(tmp_path_factory):
    """``zoo_converter(model, opset, *flags)``: one conversion per distinct call in this test run, reused."""

    def run(model: str, opset: int, *flags: str) -> Converted:
        key = (model, opset, *flags)
        if key not in _CONVERTED:
            _CONVERTED[key] = convert_zoo(tmp_path_factory.mktemp(f"{model}{opset}"), model, opset, *flags)
        return _CONVERTED[key]

    return run
