"""The support page: one row per cell in a fixed order; --check compares everything but the timing columns."""
from deploybridge.matrix.cells import CellResult
from deploybridge.matrix.report import differences, markdown, summary, table_rows

RESULTS = [CellResult("t/m/openvino-fp32", "t/m", "openvino", "fp32", "green", parity="PASSED: 3 inputs", ms=4.2, speedup=1.5),
           CellResult("t/m/onnxruntime-int8", "t/m", "onnxruntime", "int8", "red", "cosine 0.98 < 0.99"),
           CellResult("t/m/onnxruntime-fp32", "t/m", "onnxruntime", "fp32", "green", parity="PASSED: 3 inputs",
                      evaluation={"onnxruntime:box_ap": 0.0}, ms=3.1, speedup=2.0),
           CellResult("t/m/tensorrt-fp32", "t/m", "tensorrt", "fp32", "skipped", "TensorRT is not installed")]


def test_rows_are_ordered_and_timings_are_the_only_free_columns():
    page = markdown(RESULTS, "deploy matrix --models m", [("torch", "2.14.1")])
    rows = table_rows(page)
    assert [r[1:3] for r in rows] == [("onnxruntime", "fp32"), ("onnxruntime", "int8"), ("openvino", "fp32"),
                                      ("tensorrt", "fp32")]
    assert rows[0] == ("t/m", "onnxruntime", "fp32", "green", "PASSED: 3 inputs", "box_ap +0.0000")
    assert "4 cells: 2 green, 1 red, 0 inconclusive, 1 skipped" in page and summary(RESULTS) in page
    retimed = markdown([CellResult(**{**r.to_json(), "ms": (r.ms or 0) * 2}) for r in RESULTS], "x", [])
    assert differences(page, retimed) == []
    planted = [CellResult(**{**r.to_json(), "status": "red"}) if r.backend == "openvino" else r for r in RESULTS]
    assert differences(page, markdown(planted, "x", [])) == ["- t/m | openvino | fp32 | green | PASSED: 3 inputs | ",
                                                             "+ t/m | openvino | fp32 | red |  | "]
