"""An exception raised inside MMDetection names the module and line that raised it (issue 17.8)."""
import importlib
import linecache
import re

import pytest

from conftest import assert_one_line_error

pytest.importorskip("mmdet", reason="MMDetection not installed here: run `deploy install mmdet`")


def test_a_bare_assert_inside_mmdetection_names_its_module(cli, tmp_path):
    """GFL's head fails the wrapper's first forward with a bare `assert` in MMDetection's point-distance coder (no
    message: the one-line error said only 'fails on input 1x3x320x320: AssertionError'). Now it names the module and
    the line, and that line is the assert. (When the mmdet family learns GFL, pick another config it cannot run.)"""
    result = cli("convert", "--plugin", "mmdet", "--config", "gfl/gfl_r50_fpn_1x_coco", "--random-weights",
                 "--input-shape", "1,3,320,320", "--out", tmp_path / "gfl")
    assert_one_line_error(result, contains="fails on input 1x3x320x320: AssertionError raised in mmdet.")
    found = re.search(r"AssertionError raised in ([\w.]+) line (\d+)", result.err)
    module, line = found.group(1), int(found.group(2))
    source = linecache.getline(importlib.import_module(module).__file__, line)
    assert source.strip().startswith("assert "), (module, line, source)
    assert not (tmp_path / "gfl").exists()
