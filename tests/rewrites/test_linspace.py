"""linspace: NaN at size 1, end point, dynamo baking — wrong without the rewrite, exact with it."""
import pytest

from deploybridge_rewrites.linspace import REWRITE, exact_linspace

TOL = 1e-5  # float32; measured error with the rewrite <= 4.8e-7 (one step's rounding at 1001 points)


class CoordGrid:
    """SOLO's CoordConv grid: linspace over the input's own height and width."""

    @staticmethod
    def module():
        import torch

        class Grid(torch.nn.Module):
            def forward(self, x):
                h, w = x.shape[-2:]
                ys = torch.linspace(-1, 1, h)
                xs = torch.linspace(-3.3, 7.1, w)
                return x + ys[:, None] + xs[None, :]

        return Grid()


def _feeds(*shapes):
    import torch

    return [(torch.rand(s, generator=torch.Generator().manual_seed(k)),) for k, s in enumerate(shapes)]


@pytest.mark.parametrize("opset", [9, 11, 17])
def test_legacy_dynamic_size_one_is_nan_without_and_exact_with(onnx_parity, opset):
    module = CoordGrid.module()
    feeds = _feeds((1, 1, 7, 13), (1, 1, 1, 1), (1, 1, 1, 9), (1, 1, 40, 1001))
    axes = {"in0": {2: "h", 3: "w"}}
    without = onnx_parity(module, feeds[0], feeds, opset, dynamic_axes=axes)
    assert without == float("inf")  # NaN where PyTorch gives [start] for a size of 1
    with_rw = onnx_parity(module, feeds[0], feeds, opset, dynamic_axes=axes, rewrites=[REWRITE])
    assert with_rw <= TOL, with_rw


def test_below_opset_9_the_export_is_invalid_and_the_rewrite_does_not_claim_it(onnx_parity):
    module = CoordGrid.module()
    feeds = _feeds((1, 1, 7, 13))
    assert onnx_parity(module, feeds[0], feeds, 8) == float("inf")
    assert not REWRITE.applies("legacy", 8) and REWRITE.applies("legacy", 9)


def test_dynamo_bakes_the_grid_without_and_is_dynamic_with(onnx_parity):
    import torch

    module = CoordGrid.module()
    feeds = _feeds((1, 1, 7, 13), (1, 1, 20, 33), (1, 1, 1, 5))
    dims = {"x": {2: torch.export.Dim("h", min=1, max=64), 3: torch.export.Dim("w", min=1, max=64)}}
    assert onnx_parity(module, feeds[0], feeds, 18, dynamo=True, dynamic_axes=dims) == float("inf")
    assert onnx_parity(module, feeds[0], feeds, 18, dynamo=True, dynamic_axes=dims, rewrites=[REWRITE]) <= TOL


@pytest.mark.parametrize("start,end,steps", [(-3.3, 7.1, 7), (0, 1, 1), (-1, 1, 2), (5, -2.5, 1001), (0.1, 0.7, 0)])
def test_stand_in_equals_torch_in_eager(start, end, steps):
    import torch

    from deploybridge.convert.rewriting import applied

    for dtype in (torch.float32, torch.float64):
        ref = torch.linspace(start, end, steps, dtype=dtype)
        got = exact_linspace(start, end, steps, dtype=dtype)
        assert got.dtype == ref.dtype and got.shape == ref.shape
        if steps:
            assert got[0] == ref[0] and got[-1] == ref[-1]  # exact end points
            assert (got - ref).abs().max() <= (TOL if dtype == torch.float32 else 1e-12)
    with applied([REWRITE]):  # integer dtypes and out= go to torch's own linspace
        assert torch.equal(torch.linspace(0, 1000, 7, dtype=torch.int64), torch.tensor([0, 166, 333, 500, 666, 833, 1000]))
