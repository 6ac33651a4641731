"""List tables on a real screen: one line per row at 60, 80 and 120 columns, titles cut
with an ellipsis, ids, states, repositories and branches never split."""

from __future__ import annotations

import sys

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pty")

from tests.screen import spawn  # noqa: E402

WIDTHS = [(60, 24), (80, 24), (120, 40)]
WIDTH_IDS = ["60x24", "80x24", "120x40"]

LONG_TITLE = (
    "Refactor the ingestion pipeline so that every stage reports its own metrics and "
    "retries transient failures with exponential backoff"
)
SESSIONS = [
    {
        "id": "11413719004378428992",
        "prompt": LONG_TITLE,
        "title": LONG_TITLE,
        "state": "AWAITING_USER_FEEDBACK",
        "createTime": "2026-01-10T09:00:00Z",
        "sourceContext": {"source": "sources/github/octo-org/data-pipeline"},
    },
    {
        "id": "11413719004378428993",
        "prompt": "Short",
        "title": "Short",
        "state": "COMPLETED",
        "createTime": "2026-01-11T09:00:00Z",
        "sourceContext": {"source": "sources/github/jules-demo/hello-world"},
    },
    {
        "id": "11413719004378428994",
        "prompt": "[Bracketed] title that is long enough to be cut at eighty columns, surely",
        "title": "[Bracketed] title that is long enough to be cut at eighty columns, surely",
        "state": "FAILED",
        "createTime": "2026-01-12T09:00:00Z",
    },
]


def _rows(term, first_word: str) -> list[str]:
    """The table's data lines: every line after the header rule."""
    lines = term.lines
    start = next(i for i, line in enumerate(lines) if line.startswith(first_word))
    assert set(lines[start + 1]) == {"\u2500"}, str(term)
    return [line for line in lines[start + 2 :] if line.strip()]


@pytest.mark.parametrize(("cols", "rows"), WIDTHS, ids=WIDTH_IDS)
def test_session_list_has_one_line_per_session_at_any_width(emulator_server_factory, cols, rows):
    server = emulator_server_factory(seed={"sessions": SESSIONS})
    with spawn(["session", "list"], env=server.env, cols=cols, rows=rows) as term:
        assert term.wait() == 0, str(term)
        table = _rows(term, "ID")
        assert len(table) == len(SESSIONS), str(term)
        newest_first = sorted(SESSIONS, key=lambda s: s["createTime"], reverse=True)
        for line, session in zip(table, newest_first, strict=True):
            words = line.split()
            assert words[0] == session["id"], str(term)  # whole, never folded
            assert words[1] == session["state"], str(term)
            assert len(line) <= cols
        long_row = next(line for line in table if "AWAITING_USER_FEEDBACK" in line)
        assert "Refactor the" in long_row and "\u2026" in long_row, str(term)
        if cols >= 120:  # room for the repository, whole
            assert "octo-org/data-pipeline" in long_row, str(term)
        if cols >= 120:
            assert "[Bracketed] title" in term.text, str(term)


@pytest.mark.parametrize(("cols", "rows"), WIDTHS, ids=WIDTH_IDS)
def test_sources_list_shows_each_repository_once_on_one_line(emulator_server_factory, cols, rows):
    server = emulator_server_factory()
    with spawn(["sources", "list"], env=server.env, cols=cols, rows=rows) as term:
        assert term.wait() == 0, str(term)
        header = next(line for line in term.lines if line.startswith("REPO"))
        assert header.split() == ["REPO", "DEFAULT", "BRANCH", "VISIBILITY"], str(term)
        table = _rows(term, "REPO")
        assert [line.split() for line in table] == [
            ["jules-demo/hello-world", "main", "public"],
            ["jules-demo/webapp", "main", "private"],
            ["octo-org/data-pipeline", "master", "public"],
        ], str(term)
        assert "sources/github" not in term.text  # the NAME column repeated REPO


def test_activities_list_keeps_summaries_on_one_line_at_60_columns(emulator_server_factory):
    activity = {
        "createTime": "2026-01-10T09:01:00Z",
        "originator": "agent",
        "agentMessaged": {"agentMessage": "Should I also " + "rename the old helpers " * 8},
    }
    seeded = [{**SESSIONS[0], "activities": [activity] * 3}]
    server = emulator_server_factory(seed={"sessions": seeded})
    with spawn(["activities", "list", SESSIONS[0]["id"]], env=server.env, cols=60) as term:
        assert term.wait() == 0, str(term)
        table = _rows(term, "TIME")
        assert len(table) == 3, str(term)
        assert all(line.endswith("\u2026") and len(line) <= 60 for line in table), str(term)
