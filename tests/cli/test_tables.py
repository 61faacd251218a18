"""The task parity table: segmentation's class IoU is shown (its worst classes), and a fraction just below 1 is not
printed as 1."""
import numpy as np

from deploybridge.records import OutputSpec, Tolerance


def _render(table) -> str:
    from rich.console import Console

    console = Console(record=True, width=220)
    console.print(table)
    return console.export_text()


def test_segmentation_rows_show_min_class_iou_and_the_worst_classes():
    from deploybridge.cli.tables import task_table
    from deploybridge.parity.verification import verify

    classes = np.zeros((64, 64), np.int64)
    classes[:, 40:] = 1
    classes[3, 3] = 2  # one pixel
    scores = np.zeros((1, 3, 64, 64), np.float32)
    np.put_along_axis(scores, classes[None, None], 3.0, axis=1)
    lost = scores.copy()
    lost[0, 2, 3, 3], lost[0, 0, 3, 3] = 0.0, 3.0  # class 2 gone: 1 of 4096 pixels

    v = verify("engine", [OutputSpec("out")], [1], lambda seed: ({"x": np.zeros(1)}, {"out": scores}),
               lambda inputs: {"out": lost}, {"out": Tolerance()}, task="semantic_segmentation")
    text = _render(task_table(v))
    assert "min class iou" in text and "class iou" in text
    assert "2: 0, 0: 0.999609375, 1: 1" in text  # the worst classes first, with their IoU (0: 2559 / 2560)
    assert "0.9997558594" in text  # pixel agreement 1 - 1/4096, not rounded to 1
    assert "FAIL class 2 IoU 0.0000" in text
