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
