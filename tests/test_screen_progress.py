"""Slow calls on a real screen: a spinner says what jules waits for and for how long, a
retry says so, and neither is left behind (nor shown at all to a script)."""

from __future__ import annotations

import re
import sys

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pty")

from tests.screen import spawn  # noqa: E402

SLOW = {"delay": 1.2, "path": "/v1alpha/sessions", "times": 1}
SPINNER = re.compile(r"Waiting for 127\.0\.0\.1: listing sessions \(\d\.\d s\)")


def test_a_slow_request_shows_a_spinner_that_goes_away(emulator_server):
    emulator_server.fault(**SLOW)
    with spawn(["session", "list"], env=emulator_server.env) as term:
        term.expect(SPINNER, timeout=10)
        assert term.wait() == 0, str(term)
        assert term.lines == ["No sessions."], str(term)  # the spinner's line is erased


def test_a_retry_says_why_and_which_try_comes_next(emulator_server):
    emulator_server.fault(status=503, path="/v1alpha/sources", times=1)
    with spawn(["sources", "list"], env=emulator_server.env) as term:
        term.expect(re.compile(r"retrying in \d s \(2/5\): 503 Service Unavailable"), timeout=10)
        assert term.wait() == 0, str(term)
        assert "retrying" not in term.text and "jules-demo/webapp" in term.text, str(term)


@pytest.mark.parametrize(
    ("args", "env", "to_pipe"),
    [
        (["session", "list"], {}, True),  # stdout is a pipe
        (["session", "list", "--json"], {}, False),
        (["--no-input", "session", "list"], {}, False),
        (["session", "list"], {"CI": "true"}, False),
    ],
    ids=["pipe", "json", "no-input", "CI"],
)
def test_no_spinner_for_scripts(emulator_server, args, env, to_pipe):
    emulator_server.fault(**SLOW)
    with spawn(args, env={**emulator_server.env, **env}, stdout_to_pipe=to_pipe) as term:
        assert term.wait() == 0, str(term)
        assert b"Waiting for" not in term.raw and b"\x1b[2K" not in term.raw, term.raw


def test_a_wait_says_what_it_waits_for_and_since_when(emulator_server):
    server = emulator_server
    sid = server.emulator.create_session({"prompt": "Take your time [stall]"})["id"]
    server.settle()
    args = ["session", "wait", sid, "--timeout", "3"]
    with spawn(args, env=server.env) as term:
        term.expect(re.compile(rf"Waiting for session {sid}(: IN_PROGRESS)? \(\d\.\d s\)"))
        assert term.wait() == 10, str(term)  # --timeout passed
        assert "Waiting for session" not in term.text, str(term)
        assert "timed out" in term.text, str(term)


def test_a_retry_during_a_live_view_shows_in_its_panel(emulator_server):
    # The spinner keeps off the screen a live view owns, so the panel says it instead.
    server = emulator_server
    sid = server.emulator.create_session({"prompt": "Take your time [stall]"})["id"]
    server.settle()
    with spawn(["activities", "tail", sid], env=server.env) as term:
        term.expect("╰")  # the panel is drawn
        server.fault(status=503, retryAfter=1, path="/v1alpha/sessions/*/activities*", times=1)
        retry = re.compile(r"│ retrying in 1 s \(2/5\): 503 Service Unavailable +│")
        term.expect(retry, timeout=10)
        term.expect_gone("retrying")
        term.interrupt()
        assert term.wait() == 130, str(term)
    assert "retrying" not in term.text, str(term)  # nothing of it left behind
