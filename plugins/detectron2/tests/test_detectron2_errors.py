"""Bad input to `deploy convert --plugin detectron2` is one line on stderr, exit 2, nothing written, saying what to
do: an unknown config, an unknown --option key, a config that needs the compiled _C (deformable convolution), a
meta-architecture the family does not convert (PanopticFPN, with why), a --weights file that is not there, an input
shape DefaultPredictor would resize; and Detectron2 not importable at all (a fresh interpreter that cannot import
it: the install command)."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from conftest import assert_one_line_error

pytest.importorskip("detectron2", reason="Detectron2 not installed: run `deploy install detectron2`")


FASTER = "COCO-Detection/faster_rcnn_R_50_FPN_3x"
R18 = ["--option", "MODEL.RESNETS.DEPTH=18", "--option", "MODEL.RESNETS.RES2_OUT_CHANNELS=64",
       "--option", "INPUT.MIN_SIZE_TEST=192"]
CASES = {
    "unknown config": (["--config", "COCO-Detection/faster_rcnn_R_5O_FPN_3x", "--random-weights"],
                       "neither a config file nor a Detectron2 model-zoo config"),
    "unknown option key": (["--config", FASTER, "--random-weights", "--option", "MODEL.RESNETS.DEPHT=18"],
                           "--option MODEL.RESNETS.DEPHT: no such Detectron2 config key"),
    "needs _C": (["--config", "Misc/mask_rcnn_R_50_FPN_3x_dconv_c3-c5", "--random-weights"],
                 "deformable convolution (detectron2._C deform_conv)"),
    "PanopticFPN": (["--config", "COCO-PanopticSegmentation/panoptic_fpn_R_50_3x", "--random-weights"],
                    "builds a PanopticFPN, which the detectron2 family does not convert (its sem_seg and panoptic"),
    "missing weights": (["--config", FASTER, "--weights", "no/such/model_final.pth"],
                        "weights file no/such/model_final.pth not found"),
    "no weights": (["--config", FASTER], "give --weights CHECKPOINT"),
    "resized input": (["--config", FASTER, "--random-weights", "--input-shape", "1,3,256,320"],
                      "add --option INPUT.MIN_SIZE_TEST=256"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_line_exit_2_nothing_written(cli, tmp_path, case):
    args, message = CASES[case]
    out = tmp_path / "out"
    result = cli("convert", "--plugin", "detectron2", *args, *(R18 if case != "unknown option key" else R18[:4]),
                 "--out", out)
    assert_one_line_error(result, 2, message)
    assert not out.exists() and not list(tmp_path.iterdir())


BLOCK = textwrap.dedent('''
    import sys
    for name in ("detectron2", "detectron2.modeling", "detectron2.model_zoo"):
        sys.modules[name] = None  # import fails as if Detectron2 were not installed
''')


def test_detectron2_not_importable_says_how_to_install(tmp_path):
    (tmp_path / "sitecustomize.py").write_text(BLOCK)
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "deploybridge", "convert", "--plugin", "detectron2", "--config", FASTER,
                           "--random-weights", "--out", str(out)], env=env, capture_output=True, text=True, timeout=300)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert lines[0] == "error: Detectron2 is not installed: run `deploy install detectron2` (no compiling, ~30 s)"
    assert not out.exists()
