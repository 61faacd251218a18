"""deploybridge's mmcv layer: every symbol MMDetection 3.3 imports from mmcv.ops resolves, the ops its detectors
call match references on random inputs, the rest raise naming themselves."""
import pytest
import torch

from deploybridge.errors import DeployError

from deploybridge_mmdet.compat import import_mmdet_models, mmcv_ops_provider

pytest.importorskip("mmdet", reason="MMDetection not installed here: run `deploy install mmdet`")

IMPORTED_BY_MMDET = ["nms", "batched_nms", "nms_match", "roi_align", "RoIAlign", "RoIPool", "DeformConv2d", "deform_conv2d",
                     "ModulatedDeformConv2d", "MaskedConv2d", "point_sample", "rel_roi_point_to_rel_img_point",
                     "sigmoid_focal_loss", "CornerPool", "MultiScaleDeformableAttention", "CARAFEPack"]


@pytest.fixture(scope="module", autouse=True)
def layer():
    import_mmdet_models()
    return mmcv_ops_provider()


def test_mmdet_models_import_and_symbols_resolve(layer):
    import mmcv.ops
    from mmcv.ops.merge_cells import ConcatCell, GlobalPoolingCell, SumCell  # noqa: F401  by submodule path too

    assert layer in ("deploybridge", "compiled mmcv")
    assert [n for n in IMPORTED_BY_MMDET if not hasattr(mmcv.ops, n)] == []


def _greedy_nms(boxes, scores, thr, offset):
    """Reference: mmcv's CPU kernel written out (areas and overlaps with +offset, suppress IoU > thr)."""
    order = scores.argsort(descending=True).tolist()
    x1, y1, x2, y2 = boxes.unbind(1)
    area = (x2 - x1 + offset) * (y2 - y1 + offset)
    keep, dead = [], set()
    for i in order:
        if i in dead:
            continue
        keep.append(i)
        for j in order:
            if j in dead or j == i or j in keep:
                continue
            w = (torch.min(x2[i], x2[j]) - torch.max(x1[i], x1[j]) + offset).clamp(min=0)
            h = (torch.min(y2[i], y2[j]) - torch.max(y1[i], y1[j]) + offset).clamp(min=0)
            if w * h / (area[i] + area[j] - w * h) > thr:
                dead.add(j)
    return keep


@pytest.mark.parametrize("offset", [0, 1])
def test_nms_matches_mmcv_semantics(offset):
    from mmcv.ops import batched_nms, nms

    g = torch.Generator().manual_seed(offset)
    xy = torch.rand(200, 2, generator=g) * 100
    boxes = torch.cat([xy, xy + torch.rand(200, 2, generator=g) * 30 + 1], 1)
    scores = torch.rand(200, generator=g)
    dets, keep = nms(boxes, scores, 0.5, offset=offset)
    assert keep.tolist() == _greedy_nms(boxes, scores, 0.5, offset)
    assert torch.equal(dets[:, 4], scores[keep]) and torch.equal(dets[:, :4], boxes[keep])
    labels = (torch.rand(200, generator=g) * 3).long()
    _, kept = batched_nms(boxes, scores, labels, {"type": "nms", "iou_threshold": 0.5})
    per_class = sorted(i for c in range(3) for i in (labels == c).nonzero().flatten()[
        _greedy_nms(boxes[labels == c], scores[labels == c], 0.5, 0)].tolist())
    assert sorted(kept.tolist()) == per_class


@pytest.mark.parametrize("aligned,sampling_ratio", [(True, 0), (False, 0), (True, 2)])
def test_roi_align_matches_the_pure_python_kernel(aligned, sampling_ratio):
    from mmcv.ops import roi_align
    from torchvision.ops.roi_align import _roi_align  # torchvision's pure-torch reference implementation

    g = torch.Generator().manual_seed(3)
    feats = torch.randn(2, 4, 20, 24, generator=g)
    # inside the 96x80 image: torchvision's Python reference treats samples past the border differently from its
    # (and mmcv's) C++ kernel
    xy = torch.rand(30, 2, generator=g) * 60
    rois = torch.cat([(torch.rand(30, 1, generator=g) < 0.5).float(), xy, xy + torch.rand(30, 2, generator=g) * 20], 1)
    got = roi_align(feats, rois, (7, 7), 0.25, sampling_ratio, "avg", aligned)
    for b in (0, 1):  # the reference image by image (its batch-index gather disagrees with the kernel for image 1)
        mine = rois[:, 0] == b
        single = torch.cat([torch.zeros(int(mine.sum()), 1), rois[mine, 1:]], 1)
        ref = _roi_align(feats[b:b + 1], single, 0.25, 7, 7, sampling_ratio, aligned)
        assert (got[mine] - ref).abs().max() <= 1e-5


def test_deform_convs_reduce_to_convolution_and_shift():
    """Zero offsets are a plain convolution; a whole-pixel offset reads the shifted input; the mask scales (DCNv2)."""
    from mmcv.ops import DeformConv2d, ModulatedDeformConv2d

    torch.manual_seed(0)
    x = torch.randn(1, 4, 12, 12)
    dcn = DeformConv2d(4, 6, 3, padding=1, bias=False).eval()
    zero = torch.zeros(1, 18, 12, 12)
    plain = torch.nn.functional.conv2d(x, dcn.weight, padding=1)
    assert (dcn(x, zero) - plain).abs().max() <= 1e-5
    shift = zero.clone()
    shift[:, 1::2] = 1.0  # every kernel tap one pixel to the right (x offsets are the odd channels)
    shifted = torch.nn.functional.conv2d(torch.nn.functional.pad(x[..., 1:], (0, 1)), dcn.weight, padding=1)
    # away from the left/right border, where the reference's zero padding and the deformed taps read different pixels
    assert (dcn(x, shift) - shifted)[..., 1:-1].abs().max() <= 1e-5
    mdcn = ModulatedDeformConv2d(4, 6, 3, padding=1, bias=True).eval()
    half = torch.full((1, 9, 12, 12), 0.5)
    expected = torch.nn.functional.conv2d(x, mdcn.weight, padding=1) * 0.5 + mdcn.bias[None, :, None, None]
    from mmcv.ops.modulated_deform_conv import modulated_deform_conv2d

    got = modulated_deform_conv2d(x, zero, half, mdcn.weight, mdcn.bias, 1, 1, 1, 1, 1)
    assert (got - expected).abs().max() <= 1e-5


def test_ops_outside_the_layer_raise_naming_themselves(layer):
    if layer != "deploybridge":
        pytest.skip("compiled mmcv is installed: it provides every op")
    from mmcv.ops import RoIPool

    with pytest.raises(DeployError, match="mmcv op 'roi_pool_forward' is not provided by deploybridge's mmcv layer"):
        RoIPool((7, 7), 0.25)(torch.randn(1, 4, 20, 20), torch.tensor([[0.0, 1, 1, 30, 30]]))
