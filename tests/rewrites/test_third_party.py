"""A plugin adds a rewrite in one file (tests/plugin_fixtures/db_test_triu.py, the docs' worked example)."""
import json

import pytest


@pytest.mark.parametrize("opset", [11, 13])
def test_triu_symbolic_from_a_plugin(onnx_parity, fake_plugin, opset):
    import torch

    from deploybridge.plugins import Host

    fake_plugin("triu", "db_test_triu")
    rewrite = Host().rewrites()["triu_before_opset_14"]
    assert rewrite.owner == "triu"

    class MatrixNMSDecay(torch.nn.Module):  # SOLOv2's matrix NMS keeps the upper triangle of the IoU matrix
        def forward(self, iou):
            return iou.triu(diagonal=1) + torch.triu(iou, 2)

    iou = torch.rand(6, 6)
    feeds = [(iou,), (torch.rand(9, 9),)]
    axes = {"in0": {0: "n", 1: "n"}}
    assert onnx_parity(MatrixNMSDecay(), feeds[0], feeds, opset, dynamic_axes=axes) == float("inf")  # export fails
    assert onnx_parity(MatrixNMSDecay(), feeds[0], feeds, opset, dynamic_axes=axes, rewrites=[rewrite]) == 0.0


def test_listed_with_its_plugin(cli, fake_plugin):
    fake_plugin("triu", "db_test_triu")
    rows = {r["name"]: r for r in json.loads(cli("rewrites", "--json").out)["rewrites"]}
    assert rows["triu_before_opset_14"]["owner"] == "triu" and rows["triu_before_opset_14"]["kind"] == "symbolic"
