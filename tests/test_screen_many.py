"""What a person sees at a terminal for many sessions at once: the one confirmation of a
bulk clean-up (with the count), a wait on several (each state change with its id, each
closing line) and a stall's one line, on a real (emulated) screen at 80x24 and 120x40."""

from __future__ import annotations

import re
import sys
import time

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pty")

from jules_cli.times import format_time  # noqa: E402
from tests.screen import SIZE_IDS, SIZES, spawn  # noqa: E402

HELLO = "sources/github/jules-demo/hello-world"
sizes = pytest.mark.parametrize(("cols", "rows"), SIZES, ids=SIZE_IDS)


def old_session(number: int, state: str) -> dict:
    at = format_time(time.time() - 10 * 86400)
    return {
        "id": str(number),
        "prompt": f"Old task {number}",
        "state": state,
        "createTime": at,
        "updateTime": at,
        "sourceContext": {"source": HELLO, "githubRepoContext": {"startingBranch": "main"}},
    }


@pytest.fixture
def seeded(emulator_server_factory):
    return emulator_server_factory(
        seed={"sessions": [old_session(n, "COMPLETED") for n in (11, 12, 13)]}
    )


def archived(handle) -> set[str]:
    page = handle.emulator.list_sessions(filter="archived = true")
    return {s["id"] for s in page.get("sessions", [])}


@sizes
def test_bulk_archive_asks_once_with_the_count(seeded, cols, rows) -> None:
    args = ["session", "archive", "--state", "completed", "--older-than", "7d"]
    with spawn(args, env=seeded.env, cols=cols, rows=rows) as term:
        term.expect_prompt("Archive 3 sessions matching --state COMPLETED --older-than 7d? [y/N]: ")
        assert archived(seeded) == set()  # nothing before the answer
        term.send_line("y")
        code = term.wait()
    assert code == 0, term
    for sid in ("11", "12", "13"):
        assert f"Archived {sid}" in term.lines, term
    assert term.text.count("?") == 1  # one question for the batch
    assert archived(seeded) == {"11", "12", "13"}


def test_bulk_delete_declined_changes_nothing(seeded) -> None:
    args = ["session", "delete", "--state", "completed"]
    with spawn(args, env=seeded.env) as term:
        term.expect_prompt("Delete 3 sessions matching --state COMPLETED permanently? [y/N]: ")
        term.send_line("n")
        code = term.wait()
    assert code == 1, term
    assert "nothing was deleted" in term.text
    page = seeded.emulator.list_sessions(filter="archived = true OR archived = false")
    assert len(page["sessions"]) == 3


@sizes
def test_wait_on_several_and_a_stall_read_line_by_line(emulator_server, cols, rows) -> None:
    def create(prompt: str) -> str:
        body = {"prompt": prompt, "sourceContext": {"source": HELLO}}
        return emulator_server.emulator.create_session(body)["id"]

    stuck = create("Work forever [stall]")
    failing = create("Add a greeting [fail:the tests do not run]")
    emulator_server.settle()
    args = ["session", "wait", stuck, failing, "--stall", "1"]
    with spawn(args, env=emulator_server.env, cols=cols, rows=rows) as term:
        code = term.wait()
    assert code == 8, term
    text = "".join(term.lines)  # the terminal's wrapping undone
    assert f"{stuck}: IN_PROGRESS" in text and f"{failing}: FAILED" in text
    assert f"Session {failing} FAILED: the tests do not run" in text
    # Silent since its newest activity, made before the command started (however long
    # the start took on a busy machine): at least the 1 s asked for, in whole seconds.
    silence = rf"Session {stuck} has shown no new activity for (\d+m )?\d+s \(still IN_PROGRESS\)"
    assert re.search(silence, text), text
    assert f'nudge it with `jules session send {stuck} "..."`' in text
    assert "Waiting for" not in term.text  # the spinner is gone at the end


def test_ctrl_c_in_a_wait_on_several_says_each_open_one_goes_on(emulator_server) -> None:
    def create(prompt: str) -> str:
        return emulator_server.emulator.create_session({"prompt": prompt})["id"]

    first, second = create("Work forever [stall]"), create("Work forever too [stall]")
    emulator_server.settle()
    with spawn(["session", "wait", first, second], env=emulator_server.env) as term:
        term.expect(f"{second}: IN_PROGRESS")
        term.interrupt()
        code = term.wait()
    assert code == 130, term
    text = "".join(term.lines)
    for sid in (first, second):
        assert f"Stopped waiting; session {sid} goes on at Jules." in text, term
    assert "Traceback" not in text


def test_tail_stall_in_the_live_view_ends_with_the_one_line(emulator_server) -> None:
    sid = emulator_server.emulator.create_session({"prompt": "Forever [stall]"})["id"]
    emulator_server.settle()
    with spawn(["activities", "tail", sid, "--stall", "1"], env=emulator_server.env) as term:
        code = term.wait()
    assert code == 11, term
    text = "".join(term.lines)
    assert "IN_PROGRESS" in text  # the live panel's last view stays
    assert f"Session {sid} has shown no new activity for" in text
    assert f'nudge it with `jules session send {sid} "..."`' in text


@sizes
def test_retry_parallel_shows_each_new_session_and_one_command_to_wait_on_all(
    seeded, cols, rows
) -> None:
    with spawn(["session", "retry", "11", "-n", "2"], env=seeded.env, cols=cols, rows=rows) as term:
        code = term.wait()
    assert code == 0, term
    text = "".join(term.lines)  # the terminal's wrapping undone
    new_ids = [s["id"] for s in seeded.emulator.list_sessions()["sessions"] if s["id"] != "11"]
    new_ids = [sid for sid in new_ids if sid not in ("12", "13")]
    assert len(new_ids) == 2
    for sid in new_ids:
        assert f"https://jules.google.com/session/{sid}" in text, term
    # Oldest first, as they were started: the one command that waits on both together.
    hint = f"Next: wait on them together with `jules session wait {new_ids[1]} {new_ids[0]}`"
    assert hint in text, term
