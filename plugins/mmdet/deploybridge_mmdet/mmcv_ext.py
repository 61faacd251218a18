"""A stand-in for compiled ``mmcv._ext`` on torchvision and pure torch, for mmcv-lite installs.

mmcv-lite ships every ``mmcv.ops`` Python file but not the compiled extension
they load (``ext_loader.load_ext('_ext', [...])``); compiled mmcv 2.1 does not
build against torch 2.14 in CI time (measured: 31 min with patches). This
module is registered as ``mmcv._ext`` only when the compiled one is absent, so
mmcv's own Python wrappers (argument checks, score filtering, batching) run
unchanged on top of it. The kernels MMDetection's SOLO, RetinaNet, Mask R-CNN
and DCN models call are implemented with mmcv's semantics; any other name
resolves (so ``import mmdet.models`` works) to a function that raises, naming
the op and what would provide it.
"""
from __future__ import annotations

from deploybridge.errors import DeployError

PROVIDER = "deploybridge (torchvision / pure torch)"


class MissingOp(DeployError):
    """An mmcv op this layer does not provide: bad input for `deploy convert` (exit 2), naming the op."""


def nms(bboxes, scores, iou_threshold: float, offset: int = 0):
    """mmcv's nms: greedy by decreasing score, suppress IoU > threshold; ``offset=1`` counts pixels inclusively
    (width = x2 - x1 + 1), which is torchvision's nms on boxes whose far corner moved by one."""
    import torch
    from torchvision.ops import nms as tv_nms

    if bboxes.numel() == 0:
        return bboxes.new_zeros(0, dtype=torch.long)
    if offset:
        bboxes = torch.cat([bboxes[:, :2], bboxes[:, 2:4] + offset], dim=1)
    return tv_nms(bboxes.float(), scores.float(), float(iou_threshold))


def roi_align_forward(input, rois, output, argmax_y, argmax_x, aligned_height: int, aligned_width: int,
                      spatial_scale: float, sampling_ratio: int, pool_mode: int, aligned: bool):
    """mmcv's roi_align, average mode: the same bilinear kernel as torchvision's (half-pixel offset when aligned,
    boxes stretched to one pixel when not, adaptive grid for sampling_ratio 0)."""
    from torchvision.ops import roi_align

    if pool_mode != 1:
        raise MissingOp("mmcv roi_align with pool_mode='max' is not provided by deploybridge's mmcv layer;"
                        " use pool_mode='avg' or install compiled mmcv")
    output.copy_(roi_align(input, rois, (aligned_height, aligned_width), spatial_scale, sampling_ratio, aligned))


def deform_conv_forward(input, weight, offset, output, columns, ones, kW: int, kH: int, dW: int, dH: int,
                        padW: int, padH: int, dilationW: int, dilationH: int, group: int, deformable_group: int,
                        im2col_step: int):
    """mmcv's DeformConv2d (DCNv1): torchvision's deform_conv2d; offsets are (dy, dx) per kernel position in both."""
    from torchvision.ops import deform_conv2d

    output.copy_(deform_conv2d(input, offset, weight, None, (dH, dW), (padH, padW), (dilationH, dilationW)))


def modulated_deform_conv_forward(input, weight, bias, ones, offset, mask, output, columns, kernel_h: int, kernel_w: int,
                                  stride_h: int, stride_w: int, pad_h: int, pad_w: int, dilation_h: int, dilation_w: int,
                                  group: int, deformable_group: int, with_bias: bool):
    """mmcv's ModulatedDeformConv2d (DCNv2): torchvision's deform_conv2d with its mask argument."""
    from torchvision.ops import deform_conv2d

    output.copy_(deform_conv2d(input, offset, weight, bias if with_bias else None, (stride_h, stride_w), (pad_h, pad_w),
                               (dilation_h, dilation_w), mask=mask))


def __getattr__(name: str):
    if name.startswith("__"):
        raise AttributeError(name)

    def missing(*args, **kwargs):
        raise MissingOp(f"mmcv op '{name}' is not provided by deploybridge's mmcv layer ({PROVIDER}); install compiled"
                        " mmcv (pip install mmcv==2.1.0, needs a C++20 compiler and ~30 min) or choose a config without it")

    missing.__name__ = name
    return missing
