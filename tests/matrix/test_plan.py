"""Which cells a matrix has: rows narrowed by --families / --models, precisions only where a backend offers them,
and a cell whose stack or backend is missing here skipped with how to install it."""
import pytest

from deploybridge.errors import DeployError
from deploybridge.matrix.cells import Entry
from deploybridge.matrix.plan import choose_entries, plan
from deploybridge.matrix.presets import seed_entries
from deploybridge.plugins import Host


def test_the_default_rows_hold_every_seed_model():
    names = {e.name for e in seed_entries()}
    for seed in ("detectron2/shapes_mask_rcnn", "solo/solov2_shapes", "solo/solo_r50", "fastreid/shapes_reid",
                 "torchvision/retinanet_resnet50_fpn", "torchvision/deeplabv3_resnet50", "detr/detr_r18_tiny"):
        assert seed in names


def test_rows_are_narrowed_by_family_and_name():
    assert {e.family for e in choose_entries(["torchvision"])} == {"torchvision"}
    (row,) = choose_entries((), ["shapes_reid"])
    assert row.name == "fastreid/shapes_reid" and row.convert_args[:4] == ("--plugin", "fastreid", "--model", "shapes_reid")
    (adhoc,) = choose_entries((), ["torchvision:mobilenet_v3_small"])
    assert adhoc.convert_args == ("--plugin", "torchvision", "--model", "mobilenet_v3_small", "--random-weights")
    with pytest.raises(DeployError, match="no matrix row 'shapes_reed'.*family:model"):
        choose_entries((), ["shapes_reed"])
    with pytest.raises(DeployError, match="chose nothing"):
        choose_entries(["nofamily"])


def test_missing_stacks_and_backends_are_skipped_with_the_install_hint():
    host = Host()
    rows = [Entry("torchvision/x", "torchvision", ("--plugin", "torchvision", "--model", "x"), ("not_a_module_xyz",)),
            Entry("nofamily/y", "nofamily", ("--plugin", "nofamily", "--model", "y"))]
    run, skip = plan(rows, ["onnxruntime", "openvino"], ["fp32", "int8"], host)
    assert run == []
    reasons = {r.id: r.reason for r in skip}
    assert reasons["torchvision/x/onnxruntime-int8"] == "not_a_module_xyz is not installed: pip install not_a_module_xyz"
    assert "openvino-int8" not in " ".join(reasons)  # OpenVINO offers no int8: no such cell at all
    assert reasons["nofamily/y/openvino-fp32"].startswith("family nofamily is not installed")
    ok = [Entry("torchvision/m", "torchvision", ("--plugin", "torchvision", "--model", "mobilenet_v3_small"))]
    run, skip = plan(ok, ["onnxruntime", "tensorrt"], ["fp32"], host)
    assert [c.id for c in run] == ["torchvision/m/onnxruntime-fp32"]
    if skip:  # TensorRT cannot be installed on these machines: skipped, saying so
        assert skip[0].id == "torchvision/m/tensorrt-fp32" and "TensorRT" in skip[0].reason
    with pytest.raises(DeployError, match="unknown backend onnxrt"):
        plan(ok, ["onnxrt"], ["fp32"], host)
    with pytest.raises(DeployError, match="unknown precision int4"):
        plan(ok, ["onnxruntime"], ["int4"], host)


def test_the_torchvision_builders_row_set_has_all_18_builders_at_their_default_size():
    rows = choose_entries(rows="torchvision-builders")
    assert len(rows) == 18 and {e.family for e in rows} == {"torchvision"}
    assert "torchvision/keypointrcnn_resnet50_fpn" in {e.name for e in rows}
    assert all("--input-shape" not in e.convert_args and "--random-weights" in e.convert_args for e in rows)
    assert [e.name for e in choose_entries((), ["ssd300_vgg16"], "torchvision-builders")] == ["torchvision/ssd300_vgg16"]
    with pytest.raises(DeployError, match="unknown row set 'zoo'; choose from seeds, torchvision-builders"):
        choose_entries(rows="zoo")
