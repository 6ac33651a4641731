"""Slow calls on a real screen: a spinner says what jules waits for and for how long, a
retry says so, and neither is left behind (nor shown at all to a script)."""

from __future__ import annotations

import re
import sys

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pty")

from tests.screen import SIZE_IDS, SIZES, spawn  # noqa: E402

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


@pytest.mark.parametrize(("cols", "rows"), SIZES, ids=SIZE_IDS)
def test_a_set_aside_state_note_erases_the_spinner_first(tmp_path, cols, rows):
    # The in-process emulator writes its note mid-request; a slow load (here: a FIFO
    # as the state file, written only once the spinner shows) has the spinner up by then.
    import os
    import stat
    import threading

    state = tmp_path / "s.json"
    os.mkfifo(state)
    env = {"JULES_EMULATOR_STATE": str(state)}
    with spawn(["--emulator", "session", "list"], env=env, cols=cols, rows=rows) as term:
        term.expect(re.compile(r"Waiting for 127\.0\.0\.1: listing sessions"), timeout=10)
        # A daemon: should jules never open the FIFO, the test fails instead of hanging.
        writer = threading.Thread(target=lambda: state.write_text("{ not json"), daemon=True)
        writer.start()
        assert term.wait() == 0, str(term)
        writer.join(5)
        text = " ".join(term.lines)
    assert "Waiting for" not in text, str(term)
    note = (
        f"note: the emulator's state {state} is unusable (it is not JSON: Expecting property "
        "name enclosed in double quotes at line 1); kept it as s.json.corrupt and started a "
        "fresh emulator"
    )
    assert term.lines[-1] == "No sessions.", str(term)
    # One logical line, wrapped by the terminal only (a row's trailing space is not kept):
    # joined back, it is the whole note.
    assert "".join(note.split()) in "".join("".join(term.lines).split()), str(term)
    assert len([line for line in term.lines if line.startswith("note: ")]) == 2, str(term)
    # What was set aside is the FIFO itself; a fresh state file took its place.
    assert stat.S_ISFIFO((tmp_path / "s.json.corrupt").stat().st_mode)
    assert stat.S_ISREG(state.stat().st_mode)
