"""MMDeploy's end-to-end ONNX graph given the artifact's contract: a few ONNX nodes in front and after.

MMDeploy leaves the data preprocessor (BGR -> RGB, mean/std) to its C++ SDK and answers with fixed-width tensors:
``dets`` (1, K, 5: x1, y1, x2, y2, score), ``labels`` (1, K) and, for instance segmenters, ``masks`` (1, K, H, W)
probabilities at the padded input size. Rows past the detections are padding (score 0) and, for SOLO, rows under
MMDetection's ``filter_thr``. In front the graph gets the normalisation the native artifact has, so both take 0-255
BGR pixels; after it, the rows MMDetection's predict returns, as ``boxes``, ``scores``, ``labels`` (int64) and
``masks`` (bool, thresholded as predict thresholds them, cropped to the input).
"""
from __future__ import annotations

from pathlib import Path

RENAMED = {"dets": "mmdeploy_dets", "labels": "mmdeploy_labels", "masks": "mmdeploy_masks", "input": "db_normalised"}


def _const(name, value, dtype=None, dims=()):
    from onnx import TensorProto, helper

    dtype = TensorProto.INT64 if dtype is None else dtype
    return helper.make_node("Constant", [], [name], value=helper.make_tensor(name, dtype, dims, value if dims else [value]))


def _normalise_in_front(graph, pre: dict, input_name: str) -> None:
    """``input_name`` takes 0-255 pixels in the loaded (BGR) order; MMDeploy's graph reads what the preprocessor made."""
    from onnx import TensorProto, helper

    for node in graph.node:
        node.input[:] = [RENAMED.get(n, n) for n in node.input]
        node.output[:] = [RENAMED.get(n, n) for n in node.output]
    graph.input[0].name = input_name
    order = [2, 1, 0] if pre.get("bgr_to_rgb") else [0, 1, 2]
    front = [
        _const("db_channels", order, dims=(3,)),
        _const("db_mean", list(map(float, pre["mean"])), TensorProto.FLOAT, (1, 3, 1, 1)),
        _const("db_std", list(map(float, pre["std"])), TensorProto.FLOAT, (1, 3, 1, 1)),
        helper.make_node("Gather", [input_name, "db_channels"], ["db_rgb"], axis=1),
        helper.make_node("Sub", ["db_rgb", "db_mean"], ["db_centred"]),
        helper.make_node("Div", ["db_centred", "db_std"], ["db_normalised"]),
    ]
    nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend(front + nodes)


def _kept_rows(min_score: float, strict: bool) -> list:
    """Nodes giving ``db_index`` (the kept rows of the first image) and ``scores``."""
    from onnx import TensorProto, helper

    return [
        _const("db_zero", 0), _const("db_four", 4), _const("db_flat", [-1], dims=(1,)),
        _const("db_min_score", min_score, TensorProto.FLOAT),
        helper.make_node("Gather", ["mmdeploy_dets", "db_zero"], ["db_dets"], axis=0),
        helper.make_node("Gather", ["db_dets", "db_four"], ["db_all_scores"], axis=1),
        *([helper.make_node("Greater", ["db_all_scores", "db_min_score"], ["db_keep"])] if strict else
          [helper.make_node("Less", ["db_all_scores", "db_min_score"], ["db_below"]),
           helper.make_node("Not", ["db_below"], ["db_keep"])]),
        helper.make_node("NonZero", ["db_keep"], ["db_kept"]),
        helper.make_node("Reshape", ["db_kept", "db_flat"], ["db_index"]),
        helper.make_node("Gather", ["db_all_scores", "db_index"], ["scores"], axis=0),
        helper.make_node("Gather", ["mmdeploy_labels", "db_zero"], ["db_labels"], axis=0),
        helper.make_node("Gather", ["db_labels", "db_index"], ["db_labels_kept"], axis=0),
        helper.make_node("Cast", ["db_labels_kept"], ["labels"], to=TensorProto.INT64),
    ]


def _boxes() -> list:
    from onnx import helper

    return [_const("db_box_start", [0], dims=(1,)), _const("db_box_end", [4], dims=(1,)), _const("db_box_axis", [1], dims=(1,)),
            helper.make_node("Gather", ["db_dets", "db_index"], ["db_dets_kept"], axis=0),
            helper.make_node("Slice", ["db_dets_kept", "db_box_start", "db_box_end", "db_box_axis"], ["boxes"])]


def _masks(input_name: str, mask_thr: float | None, strict: bool) -> list:
    """Masks of the kept rows, cropped to the input, ``> mask_thr`` (SOLO, CondInst, RTMDet-Ins) or ``>=`` (FCN mask
    heads): each binarised as its MMDetection head does; probabilities when ``mask_thr`` is None."""
    from onnx import TensorProto, helper

    return [
        _const("db_mask_thr", mask_thr if mask_thr is not None else 0.5, TensorProto.FLOAT),
        _const("db_hw_start", [0, 0], dims=(2,)), _const("db_hw_axes", [1, 2], dims=(2,)),
        _const("db_shape_start", [2], dims=(1,)), _const("db_shape_end", [4], dims=(1,)),
        helper.make_node("Gather", ["mmdeploy_masks", "db_zero"], ["db_masks"], axis=0),
        helper.make_node("Gather", ["db_masks", "db_index"], ["db_masks_kept"], axis=0),
        helper.make_node("Shape", [input_name], ["db_input_shape"]),
        helper.make_node("Slice", ["db_input_shape", "db_shape_start", "db_shape_end"], ["db_hw"]),
        helper.make_node("Slice", ["db_masks_kept", "db_hw_start", "db_hw", "db_hw_axes"],
                         ["db_masks_cropped" if mask_thr is not None else "masks"]),
        *([] if mask_thr is None else [helper.make_node("Greater", ["db_masks_cropped", "db_mask_thr"], ["masks"])] if strict else
          [helper.make_node("Less", ["db_masks_cropped", "db_mask_thr"], ["db_masks_below"]),
           helper.make_node("Not", ["db_masks_below"], ["masks"])]),
    ]


def declare_outputs(path: Path, pre: dict, outputs: list[str], input_name: str, min_score: float = 0.0,
                    strict: bool = True, mask_thr: float | None = 0.5, mask_strict: bool = True) -> None:
    """Rewrite the MMDeploy graph at ``path`` to take ``input_name`` (0-255 BGR) and give ``outputs`` (any of boxes,
    scores, labels, masks, in that order of declaration): the rows with score > ``min_score`` (``>=`` when not
    ``strict``); masks over ``mask_thr`` (``>=`` when not ``mask_strict``)."""
    import onnx
    from onnx import TensorProto, helper

    model = onnx.load(str(path))
    graph = model.graph
    given = {o.name: o.type.tensor_type.elem_type for o in graph.output}
    if given.get("masks") == TensorProto.BOOL:  # binarised already (MMDeploy's FCN mask head rewrite, for ONNX Runtime)
        mask_thr = None
    _normalise_in_front(graph, pre, input_name)
    graph.node.extend(_kept_rows(min_score, strict) + (_boxes() if "boxes" in outputs else [])
                      + (_masks(input_name, mask_thr, mask_strict) if "masks" in outputs else []))
    types = {"boxes": (TensorProto.FLOAT, ["instances", 4]), "scores": (TensorProto.FLOAT, ["instances"]),
             "labels": (TensorProto.INT64, ["instances"]), "masks": (TensorProto.BOOL if mask_thr is not None or given.get("masks") == TensorProto.BOOL else TensorProto.FLOAT,
                       ["instances", "height", "width"])}
    del graph.output[:]
    graph.output.extend([helper.make_tensor_value_info(name, *types[name]) for name in outputs])
    onnx.save(model, str(path))


def solo_declared_outputs(path: Path, pre: dict, filter_thr: float, mask_thr: float, input_name: str) -> None:
    """SOLO: masks, scores, labels, the rows with score >= filter_thr (MMDetection's SOLO filter)."""
    declare_outputs(path, pre, ["masks", "scores", "labels"], input_name, filter_thr, strict=False, mask_thr=mask_thr)
