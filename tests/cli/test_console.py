"""Progress output: a live bar on a terminal, plain lines elsewhere (logs, CI), always on stderr."""
from deploybridge.cli import console


def _finish_two(capsys):
    with console.counted(2, "cells") as finished:
        finished("[1/2] a green (3 s)", "1 cells: 1 green")
        finished("[2/2] b red: why (4 s)", "2 cells: 1 green, 1 red")
    return capsys.readouterr()


def test_counted_prints_one_line_per_item_off_a_terminal(capsys, monkeypatch):
    monkeypatch.setenv("TTY_COMPATIBLE", "0")
    captured = _finish_two(capsys)
    assert captured.out == "" and captured.err.splitlines() == ["[1/2] a green (3 s)", "[2/2] b red: why (4 s)"]


def test_counted_draws_a_live_bar_on_a_terminal(capsys, monkeypatch):
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    captured = _finish_two(capsys)
    # the bar (count of finished items, the tally) is redrawn live; the finished lines stay above it
    assert "[1/2] a green (3 s)" in captured.err and "[2/2] b red: why (4 s)" in captured.err
    assert "1 green, 1 red" in captured.err and captured.out == ""  # the tally: only the bar shows it
