"""deploybridge.errors.first_line: the one way an exception is quoted in a one-line error."""
from deploybridge.errors import first_line


def test_type_and_first_non_empty_line():
    assert first_line(ValueError("\n   bad shape  \nsecond line")) == "ValueError: bad shape"
    assert first_line(KeyError()) == "KeyError"
    assert first_line("already a message") == "already a message"


def test_terminal_colours_are_dropped():
    """torch colours some exporter errors; the exporter's one-line error quotes them through first_line."""
    assert first_line(RuntimeError("\x1b[1m\x1b[31mboom\x1b[0m\nwhere")) == "RuntimeError: boom"
    assert first_line("\x1b[33mwarned\x1b[0m") == "warned"


def test_limit():
    text = first_line(RuntimeError("x" * 500), limit=40)
    assert len(text) == 40 and text.endswith("…") and text.startswith("RuntimeError: xxx")
