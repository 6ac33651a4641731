"""The yes/no question of bulk archive/delete: answers, the default, end of input."""

from __future__ import annotations

import io
import sys

import pytest

from jules_cli.cli.prompts import confirm


def answering(monkeypatch, typed: str) -> io.StringIO:
    monkeypatch.setattr(sys, "stdin", io.StringIO(typed))
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    return err


@pytest.mark.parametrize(
    ("typed", "default", "expected"),
    [
        ("y\n", False, True),
        ("YES\n", False, True),
        ("n\n", True, False),
        ("no\n", True, False),
        ("\n", False, False),
        ("\n", True, True),
        ("", True, False),  # end of input is never a yes
    ],
)
def test_answers(monkeypatch, typed, default, expected) -> None:
    answering(monkeypatch, typed)
    assert confirm("Archive 3 sessions?", default=default) is expected


def test_the_question_is_written_whole_with_its_trailing_space(monkeypatch) -> None:
    err = answering(monkeypatch, "y\n")
    confirm("Delete session 7 permanently?")
    assert err.getvalue() == "Delete session 7 permanently? [y/N]: "


def test_anything_else_asks_again(monkeypatch) -> None:
    err = answering(monkeypatch, "maybe\ny\n")
    assert confirm("Archive 3 sessions?") is True
    assert err.getvalue().count("Archive 3 sessions? [y/N]: ") == 2
    assert "Please answer y or n." in err.getvalue()
