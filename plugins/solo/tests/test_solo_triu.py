"""triu_before_opset_14 (deploybridge_solo/rewrites.py, the docs' worked example): MMDetection's own mask_matrix_nms
does not export below opset 14 without it, and equals PyTorch with it."""
import json

import pytest


def _rewrite():
    from deploybridge.plugins import Host

    rewrite = Host(only=["solo"]).rewrites()["triu_before_opset_14"]
    assert rewrite.owner == "solo"
    return rewrite


@pytest.mark.parametrize("opset", [11, 13])
def test_triu_symbolic(onnx_parity, opset):
    import torch

    class MatrixNMSDecay(torch.nn.Module):  # SOLOv2's matrix NMS keeps the upper triangle of the IoU matrix
        def forward(self, iou):
            return iou.triu(diagonal=1) + torch.triu(iou, 2)

    feeds = [(torch.rand(6, 6),), (torch.rand(9, 9),)]
    axes = {"in0": {0: "n", 1: "n"}}
    assert onnx_parity(MatrixNMSDecay(), feeds[0], feeds, opset, dynamic_axes=axes) == float("inf")  # export fails
    assert onnx_parity(MatrixNMSDecay(), feeds[0], feeds, opset, dynamic_axes=axes, rewrites=[_rewrite()]) == 0.0


def test_mmdetection_mask_matrix_nms_at_opset_11(onnx_parity):
    pytest.importorskip("mmdet", reason="MMDetection not installed here: run `deploy install mmdet`")
    import torch

    from deploybridge_mmdet.compat import import_mmdet_models

    import_mmdet_models()  # with the mmcv layer in place when compiled mmcv is absent
    from mmdet.models.layers.matrix_nms import mask_matrix_nms

    class MatrixNMS(torch.nn.Module):  # MMDetection's unmodified function: decayed scores of every candidate
        def forward(self, masks, labels, scores):
            return mask_matrix_nms(masks > 0.5, labels, scores, kernel="gaussian", sigma=2.0)[0]

    def candidates(n, seed):
        g = torch.Generator().manual_seed(seed)
        blobs = torch.nn.functional.interpolate(torch.rand(1, n, 6, 6, generator=g), size=(24, 24), mode="bilinear")[0]
        return blobs, torch.randint(0, 3, (n,), generator=g), torch.rand(n, generator=g)

    feeds = [candidates(12, 0), candidates(12, 1)]
    assert onnx_parity(MatrixNMS(), feeds[0], feeds, 11) == float("inf")  # aten::triu is not exportable at opset 11
    assert onnx_parity(MatrixNMS(), feeds[0], feeds, 11, rewrites=[_rewrite()]) <= 1e-6


def test_listed_with_its_plugin(cli):
    rows = {r["name"]: r for r in json.loads(cli("rewrites", "--json").out)["rewrites"]}
    assert rows["triu_before_opset_14"]["owner"] == "solo" and rows["triu_before_opset_14"]["kind"] == "symbolic"
