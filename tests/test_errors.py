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


def _raise_assertion():
    raise AssertionError()  # what a bare `assert` raises (pytest would give one here a message)


def test_where_names_the_raising_module_and_line():
    """An exception from inside a framework says which module raised it (the innermost frame), even with no
    message: the verification's one-line error quotes it this way."""
    import inspect

    from deploybridge.errors import raised_in

    try:
        _raise_assertion()
    except AssertionError as exc:
        caught = exc
    line = inspect.getsourcelines(_raise_assertion)[1] + 1
    assert raised_in(caught) == f"{__name__} line {line}"
    assert first_line(caught, where=True) == f"AssertionError raised in {__name__} line {line}"
    assert first_line(caught) == "AssertionError"  # without where=True: as before
    try:
        int("x")
    except ValueError as exc:
        assert first_line(exc, where=True).startswith(f"ValueError raised in {__name__} line ")
        assert first_line(exc, where=True).endswith(": invalid literal for int() with base 10: 'x'")
    assert raised_in(ValueError("never raised")) == "" and first_line(ValueError("m"), where=True) == "ValueError: m"
