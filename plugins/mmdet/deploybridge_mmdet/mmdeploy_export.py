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


def output_names(masks: bool) -> list[str]:
    """MMDeploy's end-to-end outputs for a detector (``dets``, ``labels``) or an instance segmenter (and ``masks``)."""
    return ["dets", "labels", "masks"] if masks else ["dets", "labels"]


def post_processing(model) -> dict:
    """MMDeploy's ``post_processing`` from the model's own test_cfg. MMDeploy's configs fix keep_top_k=100,
    max_output_boxes_per_class=200 and pre_top_k=5000 for every model, and its heads fall back to them where the
    test_cfg says nothing: YOLOX (no max_per_img) then returned 100 boxes where predict returns 154 and 184, and the
    per-class cap cut the RPN's 1000 proposals (one class) to 200. MMDetection caps neither."""
    cfg = (getattr(model, "test_cfg", None) or {})
    cfg = cfg.get("rcnn", cfg)
    keep = int(cfg.get("max_per_img", -1) or -1)
    return dict(score_threshold=float(cfg.get("score_thr", 0.05)), confidence_threshold=0.005,
                iou_threshold=float((cfg.get("nms") or {}).get("iou_threshold", 0.5)),
                max_output_boxes_per_class=10000, pre_top_k=-1, keep_top_k=keep,
                background_label_id=-1, export_postprocess_mask=True)


def deploy_config(opset: int, dynamic: bool, masks: bool = True, post: dict | None = None):
    """What MMDeploy's configs/mmdet/{detection,instance-seg}/*_onnxruntime_{static,dynamic}.py say (its wheel ships
    no configs)."""
    from mmengine import Config

    outputs = output_names(masks)
    axes = {"input": {2: "height", 3: "width"}, "dets": {1: "num_dets"}, "labels": {1: "num_dets"},
            "masks": {1: "num_dets", 2: "height", 3: "width"}} if dynamic else None
    if axes and not masks:
        del axes["masks"]
    return Config(dict(
        onnx_config=dict(type="onnx", export_params=True, keep_initializers_as_inputs=False, opset_version=opset,
                         save_file="end2end.onnx", input_names=["input"], output_names=outputs, input_shape=None,
                         optimize=True, dynamic_axes=axes),
        codebase_config=dict(type="mmdet", task="ObjectDetection", model_type="end2end",
                             post_processing=post or dict(score_threshold=0.05, confidence_threshold=0.005,
                                                          iou_threshold=0.5, max_output_boxes_per_class=200,
                                                          pre_top_k=5000, keep_top_k=100, background_label_id=-1,
                                                          export_postprocess_mask=True)),
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


def run_mmdeploy(model, images, path: Path, opset: int, dynamic: bool, masks: bool = True) -> None:
    """MMDeploy's ``apis.onnx.export`` on ``model`` (already built and loaded), fed as its task processor feeds it."""
    import tempfile

    import torch
    from mmdeploy.apis.onnx import export
    from mmdeploy.codebase import import_codebase
    from mmdeploy.utils import Codebase
    from deploybridge_mmdet.reference import image_sample

    check_installed()
    cfg = deploy_config(opset, dynamic, masks, post_processing(model))
    with torch.no_grad():
        data = model.data_preprocessor({"inputs": [images[0]], "data_samples": [image_sample(*images.shape[-2:])]}, False)
    with tempfile.TemporaryDirectory() as work, quiet_mmengine_loggers():
        import_codebase(Codebase.MMDET)  # registers MMDeploy's mmdet rewriters
        export(model, data["inputs"], input_metas={"data_samples": data["data_samples"], "mode": "predict"},
               output_path_prefix=str(Path(work) / "end2end"), backend="onnxruntime", input_names=["input"],
               output_names=output_names(masks), context_info={"deploy_cfg": cfg}, opset_version=opset,
               dynamic_axes=cfg.onnx_config.dynamic_axes, keep_initializers_as_inputs=False, optimize=True)
        import onnx

        model_proto = onnx.load(str(Path(work) / "end2end.onnx"))
    onnx.save(model_proto, str(path))
