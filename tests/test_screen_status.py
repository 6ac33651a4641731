"""`jules status` on a real screen (a pseudo-terminal read through pyte) at 80x24 and
120x40: nothing wider than the screen, wrapped lines keep their indent, and the command
to act is one unbroken row, so that it copies and pastes whole."""

from __future__ import annotations

import sys

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pty")

from tests.screen import SIZE_IDS, SIZES, spawn  # noqa: E402
from tests.test_e2e_status import PLAN, seeded  # noqa: E402

LONG = "Rewrite the date parser so that every locale round-trips cleanly, and dates never drift"
FAILURE = {"sessionFailed": {"reason": "The tests do not run."}}
LONG_QUESTION = {
    "agentMessaged": {
        "agentMessage": "Should the parser also accept two-digit years, as the old one "
        "silently did, or reject them with a clear error?\nMore detail."
    }
}


@pytest.fixture
def server(emulator_server_factory):
    return emulator_server_factory(
        seed={
            "sessions": [
                seeded("12345678901234567890", "AWAITING_USER_FEEDBACK", 1, title=LONG,
                       activities=[PLAN, LONG_QUESTION]),  # fmt: skip
                seeded("12345678901234567891", "AWAITING_PLAN_APPROVAL", 2, activities=[PLAN]),
                seeded("12345678901234567892", "IN_PROGRESS", 3),
                seeded("12345678901234567893", "FAILED", 4, activities=[FAILURE]),
            ]
        }
    )


@pytest.mark.parametrize(("cols", "rows"), SIZES, ids=SIZE_IDS)
def test_status_fits_the_screen_and_the_commands_copy_whole(server, cols, rows):
    with spawn(["status"], env=server.env, cols=cols, rows=rows) as term:
        assert term.wait() == 0
        lines = term.lines
    assert max(len(line) for line in lines) <= cols
    text = "\n".join(lines)
    for heading in ("Needs you (2)", "Running (1)", "Ended in the last 24h (1)"):
        assert heading in lines
    # Each command on a row of its own, whole.
    assert '    jules session send 12345678901234567890 "your reply"' in lines
    assert "    jules session approve 12345678901234567891" in lines
    # A long question wraps with its indent; its first line only ("More detail" is not).
    start = next(n for n, line in enumerate(lines) if "AWAITING_USER_FEEDBACK" in line)
    said = " ".join(line.strip() for line in lines[start : start + 3])
    assert "Should the parser also accept two-digit years" in said
    assert all(line.startswith("    ") for line in lines[start : start + 2])
    assert "More detail" not in text
    assert "FAILED  The tests do not run." in text
    assert "running for 3h, last activity 3h ago" in text
