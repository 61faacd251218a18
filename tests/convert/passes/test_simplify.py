"""simplify (onnxslim): fewer nodes, same numbers (verification runs on the simplified graph)."""
import json

import onnx


def test_simplify_shrinks_the_graph_and_verifies(cli, tmp_path):
    plain, slim = tmp_path / "plain", tmp_path / "slim"
    assert cli("convert", "--plugin", "torchvision", "--model", "shapes_retinanet", "--out", plain).code == 0
    result = cli("convert", "--plugin", "torchvision", "--model", "shapes_retinanet", "--pass", "simplify", "--out", slim)
    assert result.code == 0, result.err
    count = lambda d: len(onnx.load(str(d / "model.onnx")).graph.node)  # noqa: E731
    assert count(slim) < count(plain), (count(slim), count(plain))
    manifest = json.loads((slim / "manifest.json").read_text())
    assert "simplify" in manifest["passes"] and manifest["verification"]["passed"]
