"""parity/debug/report.py: debug.json has the fields docs/debugging.md lists under its stable format name,
model-explorer.json is Model Explorer's node data, errors.png is a PNG of the stated size."""
import json
import re
from pathlib import Path

from PIL import Image

from deploybridge.parity.debug import report
from deploybridge.parity.debug.divergence import FirstDivergence, TensorError
from deploybridge.parity.debug.search import DebugResult

DOC = Path(__file__).parents[3] / "docs" / "debugging.md"


def _error(tensor, node, depth, max_rel, diverged=False, module="backbone.conv"):
    return TensorError(tensor, node, "Conv", module, "torch.nn.modules.conv.Conv2d", "conv.py:10", depth, [1, 4],
                       max_rel * 10, max_rel, 0.99, 1e-2, diverged)


def _result() -> DebugResult:
    # two outputs of one node, the worse one first
    errors = [_error("a", "/backbone/conv/Conv", 0, 1e-6), _error("c", "/head/Split", 3, 0.5, True),
              _error("b", "/head/Split", 3, 2e-6, module=None), _error("d", "/head/Mul", 5, float("inf"), True)]
    result = DebugResult("/tmp/art", "onnxruntime", "pytorch", "fp32", "1000", errors, nodes=6,
                         seconds={"load": 1.0, "compare": 2.0}, unmapped_nodes=1)
    result.first = FirstDivergence(errors[1], 1e-6, ["a"], [{"node": "/head/Relu", "op": "Relu"}], True)
    return result


def _section(title: str) -> str:
    text = DOC.read_text()
    start = text.index(title)
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else None]


def _fields(sentence: str) -> list[str]:
    """The backticked names in a 'Tensor fields: `a`, `b` (...)' sentence, what is in parentheses left out."""
    return re.findall(r"`(\w+)`", re.sub(r"\([^()]*\)", "", sentence))


def test_debug_json_has_the_documented_fields_under_its_format_name():
    section = _section("## `--json` fields")
    top = re.findall(r"^\| `(\w+)` \|", section, flags=re.M)
    tensor = _fields(section[section.index("Tensor fields:"):section.index("`first_divergence`:")])
    first = _fields(section[section.index("`first_divergence`:") + len("`first_divergence`:"):])
    assert len(top) >= 14 and len(tensor) >= 15 and len(first) >= 7, (top, tensor, first)  # the doc was read
    data = json.loads(json.dumps(report.to_json(_result()), allow_nan=False))  # standard JSON: no Infinity
    assert data["tensors"][-1]["max_rel"] is None and data["tensors"][-1]["max_abs"] is None
    assert data["format"] == report.FORMAT == "deploybridge-debug/1"
    assert f'"format": "{report.FORMAT}"' in section
    assert list(data) == top
    assert all(list(t) == tensor for t in data["tensors"])
    assert list(data["first_divergence"]) == first
    assert list(data["first_divergence"]["error"]) == tensor
    assert data["diverged"] is True and data["compared"] == 4 and data["unmapped_nodes"] == 1
    assert data["first_divergence"]["error"]["tensor"] == "c"
    nothing = report.to_json(DebugResult("/tmp/art", "onnxruntime", "pytorch", "fp32", "1000"))
    assert nothing["first_divergence"] is None and nothing["diverged"] is False and list(nothing) == top


def test_model_explorer_node_data_is_the_worst_error_of_each_node():
    data = report.node_data(_result(), "main_graph")
    assert list(data) == ["main_graph"]
    graph = data["main_graph"]
    assert set(graph) == {"results", "gradient"}
    # one entry per node, its worst tensor's max_rel; an overflow as a finite 1e30 (Model Explorer needs a number)
    assert graph["results"] == {"/backbone/conv/Conv": {"value": 1e-6}, "/head/Split": {"value": 0.5},
                                "/head/Mul": {"value": 1e30}}
    stops = [g["stop"] for g in graph["gradient"]]
    assert stops == sorted(stops) and stops[0] == 0 and stops[-1] == 1
    assert all(re.fullmatch(r"#[0-9a-f]{6}", g["bgColor"]) for g in graph["gradient"])


def test_write_gives_the_three_files_and_a_png_of_the_stated_size(tmp_path):
    out = tmp_path / "art.debug"
    names = report.write(_result(), out, "main_graph", 1e-3)
    assert sorted(names) == sorted(p.name for p in out.iterdir()) == ["debug.json", "errors.png", "model-explorer.json"]
    assert json.loads((out / "debug.json").read_text())["format"] == report.FORMAT
    assert "main_graph" in json.loads((out / "model-explorer.json").read_text())
    raw = (out / "errors.png").read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(out / "errors.png") as image:
        image.verify()
    with Image.open(out / "errors.png") as image:
        assert image.format == "PNG" and image.size == (900, 420) and image.mode == "RGB"
        colours = {c for _, c in image.getcolors(1 << 20)}
    assert (0x25, 0x63, 0xEB) in colours and (0xEF, 0x44, 0x44) in colours  # agreeing (blue) and diverging (red) points
