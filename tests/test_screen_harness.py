"""The screen-test harness itself (tests/screen.py): the child sees a real terminal of
the size asked for, and what it draws is rendered, not just recorded."""

from __future__ import annotations

import sys

import pytest

from jules_cli import __version__

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pty")

from tests.screen import SIZE_IDS, SIZES, spawn  # noqa: E402


def test_version_is_on_the_screen():
    with spawn(["--version"]) as term:
        assert term.wait() == 0
        assert term.lines == [f"jules {__version__}"]
        assert term.scrollback == []


@pytest.mark.parametrize(("cols", "rows"), SIZES, ids=SIZE_IDS)
def test_help_fits_the_terminal_and_long_output_scrolls_into_the_scrollback(cols, rows):
    with spawn(["session", "new", "--help"], cols=cols, rows=rows) as term:
        assert term.wait() == 0
        assert all(len(line) <= cols for line in term.lines), term
        assert "Usage: jules session new" in term.text
        assert len(term.display) == rows
        if len(term.lines) > rows:  # longer than the screen: its top scrolled off, kept
            assert any("Usage:" in line for line in term.scrollback), term
        else:
            assert term.scrollback == []


def _screen(data: bytes, cols: int = 40, rows: int = 5):
    from tests.screen import _Screen, pyte

    screen = _Screen(cols, rows, history=100)
    pyte.ByteStream(screen).feed(data)
    return screen


def test_a_prompt_counts_as_asked_only_once_written_whole():
    from tests.screen import asks

    assert not asks(_screen(b"Approve? [y/N]:"), "Approve? [y/N]: ")  # the space is late
    assert asks(_screen(b"Approve? [y/N]: "), "Approve? [y/N]: ")
    assert not asks(_screen(b"Approve? [y/N]: y"), "Approve? [y/N]: ")  # answered already
    # A prompt wrapped over two rows of a narrow terminal.
    wrapped = "a" * 30 + " Your reply: "
    assert asks(_screen(b"x\r\n" + wrapped.encode(), cols=20), wrapped)


def test_extended_colours_are_not_read_as_dim_or_blink():
    from tests.screen import _Screen

    def first(data: bytes) -> object:
        screen = _screen(data)
        assert isinstance(screen, _Screen)
        return screen.buffer[0][0]

    char = first(b"\x1b[38;5;208mX")  # 256 colours: the 5 is not blink (= dim here)
    assert not char.blink and char.fg != "default"
    char = first(b"\x1b[38;2;10;20;30mX")  # true colour: the 2 is not faint
    assert not char.blink and char.fg == "0a141e"
    char = first(b"\x1b[2;31mX")  # plain dim red still reads as dim
    assert char.blink and char.fg == "red"
