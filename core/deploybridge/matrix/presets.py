"""The rows `deploy matrix` runs by default: every seed model (Detectron2 Mask R-CNN, SOLO and SOLOv2, fastreid,
RetinaNet, DeepLabV3, DETR) and the embedded shapes models, at the sizes the test suite uses. Trained models keep
their weights and are evaluated on the shapes validation split; the rest get random weights that produce outputs."""
from __future__ import annotations

from importlib import util
from pathlib import Path

from deploybridge.matrix.cells import Entry

SMALL = ("--input-shape", "1,3,192,192")


def _package_file(package: str, relative: str) -> str:
    """A file shipped inside a plugin package (its trained checkpoint), or the bare name when the plugin is absent
    (the row is skipped for its missing stack before the path matters)."""
    spec = util.find_spec(package)
    return str(Path(spec.origin).parent / relative) if spec and spec.origin else relative


def seed_entries() -> list[Entry]:
    d2 = _package_file("deploybridge_detectron2", "checkpoints/shapes_mask_rcnn.pth")
    return [
        Entry("detectron2/shapes_mask_rcnn", "detectron2", ("--plugin", "detectron2", "--config", "shapes_mask_rcnn",
                                                            "--weights", d2), ("detectron2",), "shapes"),
        Entry("solo/solov2_shapes", "solo", ("--plugin", "solo", "--model", "solov2_shapes"), ("mmdet",), "shapes"),
        Entry("solo/solo_r50", "solo", ("--plugin", "solo", "--config", "solo/solo_r50_fpn_1x_coco", "--random-weights",
                                        "--opset", "11", *SMALL), ("mmdet",)),
        Entry("fastreid/shapes_reid", "fastreid", ("--plugin", "fastreid", "--model", "shapes_reid"), ("fastreid",)),
        Entry("torchvision/shapes_maskrcnn", "torchvision", ("--plugin", "torchvision", "--model", "shapes_maskrcnn"),
              eval="shapes"),
        Entry("torchvision/shapes_retinanet", "torchvision", ("--plugin", "torchvision", "--model", "shapes_retinanet"),
              eval="shapes"),
        Entry("torchvision/retinanet_resnet50_fpn", "torchvision", ("--plugin", "torchvision", "--model",
                                                                     "retinanet_resnet50_fpn", "--random-weights", *SMALL)),
        Entry("torchvision/deeplabv3_resnet50", "torchvision", ("--plugin", "torchvision", "--model", "deeplabv3_resnet50",
                                                                 "--random-weights", "--input-shape", "1,3,160,160")),
        Entry("detr/detr_r18_tiny", "detr", ("--plugin", "detr", "--model", "detr_r18_tiny", "--random-weights")),
    ]


def torchvision_builder_entries() -> list[Entry]:
    """Every detection, keypoint and segmentation builder torchvision ships (18 in 0.29), random weights at the
    family's default size for it (320², SSD300 at 300²): the page docs/support-torchvision.md."""
    import torchvision.models as tvm

    names = sorted(set(tvm.list_models(module=tvm.detection)) | set(tvm.list_models(module=tvm.segmentation)))
    return [Entry(f"torchvision/{n}", "torchvision", ("--plugin", "torchvision", "--model", n, "--random-weights"))
            for n in names]


ROW_SETS = {"seeds": seed_entries, "torchvision-builders": torchvision_builder_entries}


def adhoc_entry(name: str) -> Entry:
    """``family:model`` not among the seed rows: random weights at the family's default size."""
    family, _, model = name.partition(":")
    return Entry(f"{family}/{model}", family, ("--plugin", family, "--model", model, "--random-weights"))
