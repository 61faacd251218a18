"""``--exporter mmdeploy``: MMDeploy 1.3.1's own conversion, run on torch 2.14, written as a deploybridge artifact.

MMDeploy is the peer most MMDetection users try first. As shipped it fails on
this torch in two places; the mmdet plugin owns two scoped rewrites for them
(``mmdeploy_legacy_exporter``, ``mmdeploy_fx_wrap_list``, restored after the
export like every rewrite). MMDeploy's own function rewriters (SOLOv2
``predict_by_feat``, ``mask_matrix_nms``, ``linspace``, ...) run unchanged.

MMDeploy's end-to-end outputs are ``dets`` (1, K, 5; SOLO leaves the boxes
zero), ``labels`` (1, K) and ``masks`` (1, K, H, W probabilities), always
``max_per_img`` rows, including those MMDetection's ``filter_thr`` drops. A few
ONNX nodes appended to its graph give the family's declared outputs (rows with
score >= ``filter_thr``, masks thresholded at ``mask_thr`` and cropped to the
input), so the same verifier holds it to the same reference.
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from deploybridge.errors import DeployError

INSTALL_HINT = "run `deploy install mmdeploy` (MMDeploy 1.3.1 without its pins)"


def check_installed() -> None:
    try:
        import mmdeploy  # noqa: F401
    except ImportError:
        raise DeployError(f"--exporter mmdeploy needs MMDeploy, which is not installed here; {INSTALL_HINT}") from None


def deploy_config(opset: int, dynamic: bool):
    """What MMDeploy's configs/mmdet/instance-seg/instance-seg_onnxruntime_{static,dynamic}.py say (its wheel ships
    no configs)."""
    from mmengine import Config

    outputs = ["dets", "labels", "masks"]
    axes = {"input": {2: "height", 3: "width"}, "dets": {1: "num_dets"}, "labels": {1: "num_dets"},
            "masks": {1: "num_dets", 2: "height", 3: "width"}} if dynamic else None
    return Config(dict(
        onnx_config=dict(type="onnx", export_params=True, keep_initializers_as_inputs=False, opset_version=opset,
                         save_file="end2end.onnx", input_names=["input"], output_names=outputs, input_shape=None,
                         optimize=True, dynamic_axes=axes),
        codebase_config=dict(type="mmdet", task="ObjectDetection", model_type="end2end",
                             post_processing=dict(score_threshold=0.05, confidence_threshold=0.005, iou_threshold=0.5,
                                                  max_output_boxes_per_class=200, pre_top_k=5000, keep_top_k=100,
                                                  background_label_id=-1, export_postprocess_mask=True)),
        backend_config=dict(type="onnxruntime")))


@contextmanager
def quiet_mmengine_loggers():
    """MMDeploy and mmengine log to the console through their own loggers (export progress, a registry-scope
    warning); deploybridge prints its own stage lines, so theirs are held to errors while MMDeploy runs."""
    import logging

    from mmengine.logging import MMLogger

    loggers = [MMLogger.get_instance(name) for name in ("mmengine", "mmdeploy")] + list(MMLogger._instance_dict.values())
    levels = [(logger, logger.level) for logger in loggers]
    for logger, _ in levels:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in levels:
            logger.setLevel(level)


def run_mmdeploy(model, images, path: Path, opset: int, dynamic: bool) -> None:
    """MMDeploy's ``apis.onnx.export`` on ``model`` (already built and loaded), fed as its task processor feeds it."""
    import tempfile

    import torch
    from mmdeploy.apis.onnx import export
    from mmdeploy.codebase import import_codebase
    from mmdeploy.utils import Codebase
    from deploybridge_mmdet.reference import image_sample

    check_installed()
    cfg = deploy_config(opset, dynamic)
    with torch.no_grad():
        data = model.data_preprocessor({"inputs": [images[0]], "data_samples": [image_sample(*images.shape[-2:])]}, False)
    with tempfile.TemporaryDirectory() as work, quiet_mmengine_loggers():
        import_codebase(Codebase.MMDET)  # registers MMDeploy's mmdet rewriters
        export(model, data["inputs"], input_metas={"data_samples": data["data_samples"], "mode": "predict"},
               output_path_prefix=str(Path(work) / "end2end"), backend="onnxruntime", input_names=["input"],
               output_names=["dets", "labels", "masks"], context_info={"deploy_cfg": cfg}, opset_version=opset,
               dynamic_axes=cfg.onnx_config.dynamic_axes, keep_initializers_as_inputs=False, optimize=True)
        import onnx

        model_proto = onnx.load(str(Path(work) / "end2end.onnx"))
    onnx.save(model_proto, str(path))


def solo_declared_outputs(path: Path, pre: dict, filter_thr: float, mask_thr: float, input_name: str) -> None:
    """Make MMDeploy's SOLO graph take and give what the family declares. In front: the data preprocessor MMDeploy
    leaves to its SDK (BGR -> RGB, mean/std), so the input is ``input_name``, 0-255 BGR like the native artifact's.
    After: masks (N, H, W) bool, scores (N,), labels (N,) int64, the rows with score >= filter_thr, cropped to the
    input, as MMDetection's predict returns them."""
    import onnx
    from onnx import TensorProto, helper

    model = onnx.load(str(path))
    graph = model.graph
    renames = {"dets": "mmdeploy_dets", "labels": "mmdeploy_labels", "masks": "mmdeploy_masks", "input": "db_normalised"}
    for node in graph.node:
        node.input[:] = [renames.get(n, n) for n in node.input]
        node.output[:] = [renames.get(n, n) for n in node.output]
    graph.input[0].name = input_name
    order = [2, 1, 0] if pre.get("bgr_to_rgb") else [0, 1, 2]
    front = [
        helper.make_node("Constant", [], ["db_channels"], value=helper.make_tensor("c", TensorProto.INT64, (3,), order)),
        helper.make_node("Constant", [], ["db_mean"], value=helper.make_tensor("m", TensorProto.FLOAT, (1, 3, 1, 1), pre["mean"])),
        helper.make_node("Constant", [], ["db_std"], value=helper.make_tensor("s", TensorProto.FLOAT, (1, 3, 1, 1), pre["std"])),
        helper.make_node("Gather", [input_name, "db_channels"], ["db_rgb"], axis=1),
        helper.make_node("Sub", ["db_rgb", "db_mean"], ["db_centred"]),
        helper.make_node("Div", ["db_centred", "db_std"], ["db_normalised"]),
    ]
    nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend(front + nodes)

    def const(name, value, dtype=TensorProto.INT64, dims=()):
        return helper.make_node("Constant", [], [name], value=helper.make_tensor(name, dtype, dims, [value] if not dims else value))

    nodes = [
        const("db_zero", 0), const("db_four", 4), const("db_flat", [-1], dims=(1,)),
        const("db_filter_thr", filter_thr, TensorProto.FLOAT), const("db_mask_thr", mask_thr, TensorProto.FLOAT),
        const("db_hw_start", [0, 0], dims=(2,)), const("db_hw_axes", [1, 2], dims=(2,)),
        const("db_shape_start", [2], dims=(1,)), const("db_shape_end", [4], dims=(1,)),
        helper.make_node("Gather", ["mmdeploy_dets", "db_zero"], ["db_dets"], axis=0),
        helper.make_node("Gather", ["db_dets", "db_four"], ["db_all_scores"], axis=1),
        helper.make_node("Less", ["db_all_scores", "db_filter_thr"], ["db_below"]),
        helper.make_node("Not", ["db_below"], ["db_keep"]),
        helper.make_node("NonZero", ["db_keep"], ["db_kept"]),
        helper.make_node("Reshape", ["db_kept", "db_flat"], ["db_index"]),
        helper.make_node("Gather", ["db_all_scores", "db_index"], ["scores"], axis=0),
        helper.make_node("Gather", ["mmdeploy_labels", "db_zero"], ["db_labels"], axis=0),
        helper.make_node("Gather", ["db_labels", "db_index"], ["db_labels_kept"], axis=0),
        helper.make_node("Cast", ["db_labels_kept"], ["labels"], to=TensorProto.INT64),
        helper.make_node("Gather", ["mmdeploy_masks", "db_zero"], ["db_masks"], axis=0),
        helper.make_node("Gather", ["db_masks", "db_index"], ["db_masks_kept"], axis=0),
        helper.make_node("Shape", [input_name], ["db_input_shape"]),
        helper.make_node("Slice", ["db_input_shape", "db_shape_start", "db_shape_end"], ["db_hw"]),
        helper.make_node("Slice", ["db_masks_kept", "db_hw_start", "db_hw", "db_hw_axes"], ["db_masks_cropped"]),
        helper.make_node("Greater", ["db_masks_cropped", "db_mask_thr"], ["masks"]),
    ]
    graph.node.extend(nodes)
    del graph.output[:]
    graph.output.extend([helper.make_tensor_value_info("masks", TensorProto.BOOL, ["instances", "height", "width"]),
                         helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["instances"]),
                         helper.make_tensor_value_info("labels", TensorProto.INT64, ["instances"])])
    onnx.save(model, str(path))
