"""roi_align(aligned=True) below opset 16: off by ~2 without the rewrite, exact with it, tiny boxes included."""
import pytest

from deploybridge_rewrites.roi_align_aligned import REWRITE

TOL = 1e-5  # float32; measured: 0 with adaptive sampling, <= 5.1e-6 with sampling_ratio 2 (block averaging order)


def _features():
    import torch

    return torch.randn(2, 4, 24, 32, generator=torch.Generator().manual_seed(0))


def _boxes(n: int, scale: float, seed: int):
    """Random boxes in image coordinates; ~40 % have a side under one feature pixel (the case the
    unaligned op stretches), some both; batch index 0 or 1."""
    import torch

    g = torch.Generator().manual_seed(seed)
    height, width = 24 / scale, 32 / scale
    x1, y1 = torch.rand(n, generator=g) * width, torch.rand(n, generator=g) * height
    bw, bh = torch.rand(n, generator=g) * width / 2, torch.rand(n, generator=g) * height / 2
    sub_pixel = lambda: (torch.rand(n, generator=g) < 0.4)  # noqa: E731
    bw = torch.where(sub_pixel(), torch.rand(n, generator=g) * 0.95 / scale, bw)
    bh = torch.where(sub_pixel(), torch.rand(n, generator=g) * 0.95 / scale, bh)
    batch = (torch.rand(n, generator=g) < 0.5).float()
    boxes = torch.stack([batch, x1, y1, x1 + bw, y1 + bh], 1)
    assert ((bw * scale < 1) & (bh * scale < 1)).any() and ((bw * scale < 1) ^ (bh * scale < 1)).any()
    return boxes


def _pooler(scale: float, sampling_ratio: int):
    import torch
    from torchvision.ops import roi_align

    class Pool(torch.nn.Module):
        def forward(self, features, boxes):
            return roi_align(features, boxes, (5, 7), scale, sampling_ratio, aligned=True)

    return Pool()


CASES = [(1.0, 0), (0.25, 0), (0.5, 2), (0.125, 0)]


@pytest.mark.parametrize("scale,sampling_ratio", CASES)
@pytest.mark.parametrize("opset", [11, 13, 15])
def test_wrong_without_exact_with(onnx_parity, opset, scale, sampling_ratio):
    module = _pooler(scale, sampling_ratio)
    feats = _features()
    feeds = [(feats, _boxes(40, scale, seed)) for seed in (1, 2)]
    axes = {"in1": {0: "boxes"}}
    without = onnx_parity(module, feeds[0], feeds, opset, dynamic_axes=axes)
    assert without > 0.5, without  # measured 2.3-3.2: silently wrong
    with_rw = onnx_parity(module, feeds[0], feeds, opset, dynamic_axes=axes, rewrites=[REWRITE])
    assert with_rw <= TOL, with_rw


def test_stand_in_equals_aligned_kernel_in_eager_and_leaves_unaligned_alone():
    import torch
    from torchvision.ops import roi_align

    from deploybridge.convert.rewriting import applied

    feats = _features()
    for scale, ratio in CASES:
        boxes = torch.cat([_boxes(50, scale, 3), torch.tensor([[0.0, 4, 4, 4, 9], [1.0, 3, 3, 2, 8]])])  # zero, negative width
        ref = roi_align(feats, boxes, (5, 7), scale, ratio, aligned=True)
        ref_unaligned = roi_align(feats, boxes, (5, 7), scale, ratio, aligned=False)
        with applied([REWRITE]) as result:
            got = roi_align(feats, boxes, (5, 7), scale, ratio, aligned=True)
            got_unaligned = roi_align(feats, boxes, (5, 7), scale, ratio, aligned=False)
        assert (got - ref).abs().max() <= TOL, (scale, ratio)
        assert torch.equal(got_unaligned, ref_unaligned)
        assert result.calls == {"roi_align_aligned": 2}


def test_opset_16_needs_no_rewrite(onnx_parity):
    module = _pooler(0.25, 0)
    feeds = [(_features(), _boxes(40, 0.25, 4))]
    assert onnx_parity(module, feeds[0], feeds, 16) <= TOL
    assert not REWRITE.applies("legacy", 16) and REWRITE.applies("legacy", 11)


def test_no_boxes_gives_no_rows():
    """A pyramid level that gets no box (Detectron2's ROIPooler calls each level with its own boxes): the stand-in
    returned 'cannot reshape tensor of 0 elements into shape [0, 7, -1, 5]' while -1 stood for the channels."""
    import torch

    from deploybridge.convert.rewriting import applied
    from torchvision.ops import roi_align

    with applied([REWRITE]):
        got = roi_align(_features(), torch.zeros(0, 5), (5, 7), 0.25, 0, aligned=True)
    assert got.shape == (0, 4, 5, 7)
