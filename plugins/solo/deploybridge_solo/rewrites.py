"""The solo plugin's rewrite, in one file: torch.triu / Tensor.triu below opset 14 (MMDetection's mask_matrix_nms).

Also the worked example of docs/writing-a-rewrite.md, which quotes this file."""
from deploybridge import hookimpl
from deploybridge.records import Rewrite


def triu_symbolic(g, x, diagonal, out=None):
    """ONNX Trilu arrived in opset 14; below it, keep x where column - row >= diagonal."""
    from torch.onnx import symbolic_helper

    diagonal = symbolic_helper._get_const(diagonal, "i", "diagonal")
    shape = g.op("Shape", x)
    zero, one = g.op("Constant", value_t=_long(0)), g.op("Constant", value_t=_long(1))
    rows = g.op("Range", zero, g.op("Gather", shape, g.op("Constant", value_t=_long(-2)), axis_i=0), one)
    cols = g.op("Range", zero, g.op("Gather", shape, g.op("Constant", value_t=_long(-1)), axis_i=0), one)
    # column - row for every element; _unsqueeze_helper writes Unsqueeze as opset 11 or 13 wants it
    offset = g.op("Sub", symbolic_helper._unsqueeze_helper(g, cols, [0]), symbolic_helper._unsqueeze_helper(g, rows, [1]))
    below = g.op("Less", offset, g.op("Constant", value_t=_long(diagonal)))
    if x.type().scalarType() == "Bool":  # mask_matrix_nms takes triu of a bool matrix; Where has no bool kernel in ORT
        return g.op("And", x, g.op("Not", below))
    return g.op("Where", below, g.op("Sub", x, x), x)  # x - x: zeros of x's type and shape


def _long(value):
    import torch

    return torch.tensor(value, dtype=torch.int64)


@hookimpl
def deploy_register_rewrites(register):
    register(Rewrite(name="triu_before_opset_14", kind="symbolic", target="aten::triu", replacement=triu_symbolic,
                     why="Trilu is opset 14; below it triu is a Range mask and Where", exporters=("legacy",),
                     opsets=(11, 13)))
