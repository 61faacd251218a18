"""Every MMDetection 3.3 box coder whose export-only branch imports ``mmdet.core``: exported alone (legacy exporter,
opset 17), it fails naming mmdet.core without its rewrite, and with it ONNX Runtime decodes as the coder does in
eager mode, boxes past the image border clipped (delta2bbox, distance2bbox, tblr2bboxes)."""
import pytest
import torch

from conftest import export_and_run, max_error

pytest.importorskip("mmdet", reason="MMDetection not installed here: run `deploy install mmdet`")

from deploybridge_mmdet.compat import import_mmdet_models  # noqa: E402
from deploybridge_mmdet.rewrites import REWRITES  # noqa: E402

OPSET = 17
HEIGHT, WIDTH = 60, 80  # not square: a clip of x by the height (or y by the width) shows
N = 64


class Decode(torch.nn.Module):
    """coder.decode(priors, predictions, max_shape) as a model (max_shape a constant, as the heads pass img_shape)."""

    def __init__(self, coder, max_shape):
        super().__init__()
        self.coder, self.max_shape = coder, max_shape

    def forward(self, priors, predictions):
        return self.coder.decode(priors, predictions, max_shape=self.max_shape)


def boxes(gen, batch):
    xy = torch.rand(*batch, N, 2, generator=gen) * torch.tensor([WIDTH + 20.0, HEIGHT + 20.0]) - 10
    return torch.cat([xy, xy + 4 + torch.rand(*batch, N, 2, generator=gen) * 30], dim=-1)


def delta_case(gen, batch):
    return boxes(gen, batch), torch.randn(*batch, N, 4, generator=gen) * 1.5


def distance_case(gen, batch):
    return boxes(gen, batch)[..., :2], torch.rand(*batch, N, 4, generator=gen) * 40


def tblr_case(gen, batch):
    return boxes(gen, batch), torch.randn(*batch, N, 4, generator=gen)


# coder config, rewrite, inputs; batched too where MMDetection decodes batched outside export (delta2bbox's
# batched eager path itself goes through onnx_delta2bbox: no reference without the rewrite)
CASES = {
    "delta-2d": (dict(type="DeltaXYWHBBoxCoder", target_means=[0.0] * 4, target_stds=[1.0, 1.0, 1.0, 1.0]),
                 "mmdet_onnx_delta2bbox", delta_case, ()),
    "distance-2d": (dict(type="DistancePointBBoxCoder"), "mmdet_onnx_distance2bbox", distance_case, ()),
    "distance-3d": (dict(type="DistancePointBBoxCoder"), "mmdet_onnx_distance2bbox", distance_case, (2,)),
    "tblr-2d": (dict(type="TBLRBBoxCoder", normalizer=4.0), "mmdet_onnx_tblr2bboxes", tblr_case, ()),
    "tblr-3d": (dict(type="TBLRBBoxCoder", normalizer=4.0), "mmdet_onnx_tblr2bboxes", tblr_case, (2,)),
}


@pytest.fixture(scope="module", autouse=True)
def mmdet_models():
    import_mmdet_models()


@pytest.mark.parametrize("case", list(CASES))
def test_coder_exports_only_with_its_rewrite_and_decodes_like_eager(case):
    from mmdet.registry import TASK_UTILS

    cfg, name, make, batch = CASES[case]
    rewrite = next(r for r in REWRITES if r.name == name)
    max_shape = [(HEIGHT, WIDTH)] * batch[0] if batch else (HEIGHT, WIDTH)
    module = Decode(TASK_UTILS.build(cfg), max_shape).eval()
    gen = torch.Generator().manual_seed(0)
    feeds = [make(gen, batch), make(gen, batch)]  # exported on the first, run on both (nothing folded)

    without = export_and_run(module, feeds[0], feeds, OPSET)
    assert isinstance(without, str) and "mmdet.core" in without, without

    got = export_and_run(module, feeds[0], feeds, OPSET, rewrites=[rewrite])
    assert not isinstance(got, str), got
    with torch.no_grad():
        ref = torch.cat([module(*feed).flatten() for feed in feeds])
    # the inputs reach past the border on every side: the clip is exercised
    assert (ref == 0).sum() > 10 and (ref == WIDTH).sum() > 5 and (ref == HEIGHT).sum() > 5
    assert max_error(got, module, feeds) < 1e-4
