"""Rewrites that let MMDeploy 1.3.1's export of MMDetection models run on torch 2.14 and load in stock ONNX Runtime
(owner ``mmdet``, exporter ``mmdeploy`` only). The two that make MMDeploy run at all live in rewrites.py."""
from __future__ import annotations

from deploybridge.records import Rewrite

from deploybridge_mmdet.rewrites import MMDET_FAMILIES


def onnx_grid_sample(g, input, grid, mode, padding_mode, align_corners):
    """MMDeploy exports ``grid_sampler`` as its own ``mmdeploy::grid_sampler`` op, which only its compiled ONNX
    Runtime / TensorRT plugins implement (deformable attention in Deformable DETR and DINO; ONNX Runtime refuses to
    load the graph). From opset 16 ONNX has GridSample with the same modes: torch's own symbolic for it."""
    from torch.onnx import symbolic_opset16

    return symbolic_opset16.grid_sampler(g, input, grid, mode, padding_mode, align_corners)


REWRITES = [
    Rewrite(name="mmdeploy_onnx_grid_sample", kind="function", target="mmdeploy.pytorch.symbolics.grid_sampler.grid_sampler",
            replacement=onnx_grid_sample, opsets=(16, 99),
            why="MMDeploy exports grid_sampler as mmdeploy::grid_sampler, a custom op stock ONNX Runtime cannot load;"
                " ONNX GridSample-16 computes the same (Deformable DETR, DINO)",
            exporters=("mmdeploy",), families=MMDET_FAMILIES),
]


def cpu_point_priors(original):
    """MMDeploy's RTMDet-Ins mask decoding asks MlvlPointGenerator for priors without a device, and the generator's
    default is 'cuda': on a machine without a GPU the export fails (no NVIDIA driver). Priors made where the export
    runs (MMDeploy moves them to the features' device right after)."""

    def priors(self, featmap_size, level_idx, dtype=None, device=None, with_stride=False):
        import torch

        return original(self, featmap_size, level_idx, dtype or torch.float32, device or "cpu", with_stride)

    return priors


REWRITES.append(
    Rewrite(name="mmdeploy_point_priors_on_cpu", kind="function",
            target="mmdet.models.task_modules.prior_generators.point_generator.MlvlPointGenerator.single_level_grid_priors",
            replacement=cpu_point_priors, wrap=True, fixes=("Found no NVIDIA driver",),
            why="MMDeploy's RTMDet-Ins rewrite asks for point priors with the generator's default device, 'cuda';"
                " without a GPU the export fails", exporters=("mmdeploy",), families=MMDET_FAMILIES))
