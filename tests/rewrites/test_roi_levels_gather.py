"""MultiScaleRoIAlign: ScatterElements per level without the rewrite; none with it, and the same pooled values."""

import numpy as np

from conftest import export_with_rewrites
from deploybridge_rewrites.roi_levels_gather import REWRITE, inverse_of_level_order

TOL = 1e-5  # float32; measured 0: the same RoiAlign calls, only the merge differs
SIZE = 256


def _pooler():
    import torch
    from torchvision.ops import MultiScaleRoIAlign

    class Pool(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.pool = MultiScaleRoIAlign(["0", "1", "2", "3"], 7, 2)

        def forward(self, f0, f1, f2, f3, boxes):
            return self.pool({"0": f0, "1": f1, "2": f2, "3": f3}, [boxes], [(SIZE, SIZE)])

    return Pool().eval()


def _features():
    import torch

    g = torch.Generator().manual_seed(0)
    return tuple(torch.randn(1, 8, SIZE // s, SIZE // s, generator=g) for s in (4, 8, 16, 32))


def _boxes(n: int, seed: int, largest: float = 250.0):
    """Boxes from ~6 to ``largest`` pixels a side: every FPN level (2..5) gets some when largest is big."""
    import torch

    g = torch.Generator().manual_seed(seed)
    side = torch.exp(torch.rand(n, 2, generator=g) * (np.log(largest) - np.log(6)) + np.log(6))
    corner = torch.rand(n, 2, generator=g) * (SIZE - side)
    return torch.cat([corner, corner + side], 1)


def _export(module, inputs, rewrites):
    import onnx

    data, result = export_with_rewrites(module, inputs, rewrites, ["f0", "f1", "f2", "f3", "boxes"],
                                        dynamic_axes={"boxes": {0: "n"}})
    return data, {n.op_type for n in onnx.load_from_string(data).graph.node}, result


def _max_error(model_bytes, module, feeds) -> float:
    import onnxruntime as ort
    import torch

    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    worst = 0.0
    for feed in feeds:
        got = session.run(None, {n.name: t.numpy() for n, t in zip(session.get_inputs(), feed)})[0]
        with torch.no_grad():
            ref = module(*feed).numpy()
        assert got.shape == ref.shape, (got.shape, ref.shape)
        worst = max(worst, float(np.abs(got - ref).max(initial=0.0)))
    return worst


def test_scatter_without_gather_with_same_values():
    module = _pooler()
    feats = _features()
    # all four levels; only small boxes (levels 2-3 only: two levels empty); one box; no box at all
    feeds = [feats + (_boxes(60, 1),), feats + (_boxes(20, 2, largest=40.0),), feats + (_boxes(1, 3),), feats + (_boxes(0, 4),)]
    raw, raw_ops, _ = _export(module, feeds[0], [])
    assert {"ScatterElements"} & raw_ops, sorted(raw_ops)  # torchvision's _onnx_merge_levels
    assert _max_error(raw, module, feeds) <= TOL  # right, only slow: 15 % of ORT's time on R50 Mask R-CNN
    fixed, fixed_ops, result = _export(module, feeds[0], [REWRITE])
    assert not {"ScatterElements", "ScatterND", "Scatter"} & fixed_ops, sorted(fixed_ops)
    assert result.calls == {"roi_levels_gather": 1}
    assert _max_error(fixed, module, feeds) <= TOL


def test_inverse_is_the_inverse_of_the_level_concatenation():
    import torch

    g = torch.Generator().manual_seed(5)
    for n in (0, 1, 7, 100):
        levels = torch.randint(0, 4, (n,), generator=g)
        levels[: n // 3] = 2  # a crowded level; with n small some levels are empty
        order = torch.cat([torch.where(levels == level)[0] for level in range(4)])
        inverse = inverse_of_level_order(levels, 4)
        assert torch.equal(order[inverse], torch.arange(n)), n


def test_eager_and_single_level_calls_are_torchvision_s():
    import torch
    from torchvision.ops import MultiScaleRoIAlign

    from deploybridge.convert.rewriting import applied

    module, feats, boxes = _pooler(), _features(), _boxes(30, 6)
    single = MultiScaleRoIAlign(["0"], 7, 2).eval()
    with torch.no_grad():
        ref, ref_single = module(*feats, boxes), single({"0": feats[0]}, [boxes], [(SIZE, SIZE)])
        with applied([REWRITE]):
            got, got_single = module(*feats, boxes), single({"0": feats[0]}, [boxes], [(SIZE, SIZE)])
    assert torch.equal(got, ref) and torch.equal(got_single, ref_single)


def test_claimed_opsets():
    assert REWRITE.applies("legacy", 11) and REWRITE.applies("legacy", 17) and not REWRITE.applies("dynamo", 17)
