"""clip_boxes_to_image on zero boxes: ONNX Runtime refuses torchvision's Reshape, the rewrite runs; same values."""
import pytest

from deploybridge_rewrites.clip_boxes import REWRITE, clip_boxes_to_image


class _Clip:
    @staticmethod
    def module():
        import torch
        from torchvision.ops import boxes as box_ops

        from torchvision.models.detection._utils import BoxCoder

        class Clip(torch.nn.Module):
            """RetinaNet's per-level decoding: threshold, decode, clip (ORT fuses the Reshape's shape into (0, -1))."""

            def forward(self, boxes, scores):
                keep = scores > 0.5  # the score threshold: may keep nothing
                decoded = BoxCoder((1.0, 1.0, 1.0, 1.0)).decode_single(boxes[keep] / 100, boxes[keep])
                return box_ops.clip_boxes_to_image(decoded, (48, 64))

        return Clip()


def _feeds():
    import torch

    g = torch.Generator().manual_seed(0)
    boxes = torch.rand(20, 4, generator=g) * 120 - 30  # outside the 64 x 48 image on every side
    return [(boxes, torch.rand(20, generator=g)), (boxes, torch.zeros(20))]  # the second keeps no box


def _reshapes(module, inputs, rewrites=()):
    import io
    import warnings

    import onnx
    import torch

    from deploybridge.convert.rewriting import applied

    target = io.BytesIO()
    with warnings.catch_warnings(), applied(list(rewrites), 17):
        warnings.simplefilter("ignore")
        torch.onnx.export(module, inputs, target, dynamo=False, opset_version=17)
    return [n for n in onnx.load_from_string(target.getvalue()).graph.node if n.op_type == "Reshape"]


@pytest.mark.parametrize("opset", [11, 17])
def test_no_reshape_and_exact_on_zero_boxes(onnx_parity, opset):
    """Without the rewrite the clip is a Reshape to Shape(boxes): inside RetinaNet, ONNX Runtime's graph optimizer
    turns that shape into (0, -1), which fails on a level with zero boxes ("Input shape:{0,2,2}, requested
    shape:{0,-1}", measured on shapes_retinanet once int8 emptied a level; this small graph keeps its shape and runs)."""
    module, feeds = _Clip.module(), _feeds()
    assert len(_reshapes(module, feeds[0])) == 1
    assert _reshapes(module, feeds[0], [REWRITE]) == []
    # float32 rounding of the decoding (exp), not the clip; the second feed keeps no box
    assert onnx_parity(module, feeds[0], feeds, opset, rewrites=[REWRITE]) <= 1e-5


def test_same_values_as_torchvision():
    import torch
    from torchvision.ops.boxes import clip_boxes_to_image as original

    boxes = _feeds()[0][0]
    assert torch.equal(clip_boxes_to_image(boxes, (48, 64)), original(boxes, (48, 64)))
    sizes = (torch.tensor(48), torch.tensor(64))  # traced sizes arrive as tensors
    assert torch.equal(clip_boxes_to_image(boxes, sizes), original(boxes, (48, 64)))
    assert clip_boxes_to_image(boxes[:0], (48, 64)).shape == (0, 4)
