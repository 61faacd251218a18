"""``simplify``: constant folding and dead-node cleanup with onnxslim (pure Python, maintained, installs here).

Opt-in (``deploy convert --pass simplify``): verification runs on the simplified
graph, so a simplification that changes the numbers fails the conversion.
"""
from __future__ import annotations

from deploybridge.errors import DeployError


def simplify(graph, ctx=None):
    import onnx_graphsurgeon as gs

    try:
        import onnxslim
    except ImportError:
        raise DeployError("graph pass 'simplify' needs onnxslim: pip install onnxslim") from None
    model = gs.export_onnx(graph)
    return gs.import_onnx(onnxslim.slim(model))
