"""End to end: `session wait` on several sessions, `--any`, `--stall` (also on `activities
tail`) and `session new --parallel N --wait`, with the installed `jules` against the
emulator over loopback (no terminal).

A COMPLETED session costs one ListActivities call (the API's COMPLETED is not final), and
the shared pacer spaces those calls (2 s apart, at JULES_POLL_SCALE's pace in tests), so
these tests mix in FAILED and waiting sessions, which need none, to stay quick.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.test_e2e_follow import create


@pytest.fixture
def jules(run_jules, emulator_server, monkeypatch):
    monkeypatch.delenv("CI", raising=False)

    def run(*args: str, **kwargs):
        return run_jules(*args, env=emulator_server.env, **kwargs)

    return run


def test_wait_on_several_exits_with_the_most_severe_and_prints_an_array_in_order(
    emulator_server, jules
) -> None:
    ok = create(emulator_server, "Add a greeting")
    asking = create(emulator_server, "Ask first [ask]")
    failing = create(emulator_server, "Add a greeting [fail:tests do not run]")
    result = jules("session", "wait", asking, f"sessions/{failing}", ok, "--json")
    assert result.returncode == 8, result.stderr  # FAILED beats waiting-for-you beats OK
    sessions = json.loads(result.stdout)
    assert [s["id"] for s in sessions] == [asking, failing, ok]
    assert [s["state"] for s in sessions] == ["AWAITING_USER_FEEDBACK", "FAILED", "COMPLETED"]
    # Each one's state changes on stderr, with its id; and each one's closing line.
    for sid, final in ((ok, "COMPLETED"), (asking, "AWAITING_USER_FEEDBACK"), (failing, "FAILED")):
        assert re.search(rf"^{sid}: .*{final}$", result.stderr, re.M), result.stderr
        closing = f"Session {sid} FAILED" if final == "FAILED" else f"Session {sid} is {final}"
        assert closing in result.stderr
    assert "Traceback" not in result.stderr


def test_wait_on_several_without_a_failure_is_9_then_0(emulator_server, jules) -> None:
    ok = create(emulator_server, "Add a greeting")
    paused = create(emulator_server, "Stop for a while [pause]")
    mixed = jules("session", "wait", ok, paused)
    assert mixed.returncode == 9, mixed.stderr
    assert mixed.stdout == ""
    again = jules("session", "wait", ok, ok, "--json")  # an id twice: both places
    assert again.returncode == 0, again.stderr
    assert [s["id"] for s in json.loads(again.stdout)] == [ok, ok]


def test_any_ends_with_the_first_and_prints_that_one_session(emulator_server, jules) -> None:
    forever = create(emulator_server, "Work forever [stall]")
    failing = create(emulator_server, "Add a greeting [fail:boom]")
    result = jules("session", "wait", forever, failing, "--any", "--json")
    assert result.returncode == 8, result.stderr
    session = json.loads(result.stdout)
    assert session["id"] == failing and session["state"] == "FAILED"
    assert f"Session {forever} is" not in result.stderr  # the other one was left as it was


def test_timeout_with_several_is_10_when_nothing_worse_happened(emulator_server, jules) -> None:
    forever = create(emulator_server, "Work forever [stall]")
    asking = create(emulator_server, "Ask first [ask]")
    emulator_server.settle()  # it asks before the wait starts, however slow the start
    result = jules("session", "wait", forever, asking, "--timeout", "0.5")
    assert result.returncode == 9, result.stderr  # waiting-for-you is more severe than 10
    alone = jules("session", "wait", forever, "--timeout", "0.3", "--json")
    assert alone.returncode == 10, alone.stderr
    assert json.loads(alone.stdout)["id"] == forever  # one id: one object, as before


def test_stall_ends_that_sessions_wait_with_11_and_says_what_to_do(emulator_server, jules):
    forever = create(emulator_server, "Work forever [stall]")
    emulator_server.settle()  # it has said all it will say
    failing = create(emulator_server, "Add a greeting [fail:boom]")
    result = jules("session", "wait", forever, failing, "--stall", "0.6", "--json")
    assert result.returncode == 8, result.stderr  # the failure is more severe than the stall
    assert [s["state"] for s in json.loads(result.stdout)] == ["IN_PROGRESS", "FAILED"]
    line = next(line for line in result.stderr.splitlines() if "no new activity" in line)
    assert forever in line and f'jules session send {forever} "..."' in line
    # How long it has been silent: since its newest activity, so at least the 0.6 s.
    assert re.search(r"for (\d+h )?(\d+m )?\d+s \(still IN_PROGRESS\)", line), line

    alone = jules("session", "wait", forever, "--stall", "0.5")
    assert alone.returncode == 11, alone.stderr
    assert "Traceback" not in alone.stderr


def test_activities_tail_stall_exits_11_after_the_activities(emulator_server, jules) -> None:
    forever = create(emulator_server, "Work forever [stall]")
    emulator_server.settle()
    result = jules("activities", "tail", forever, "--stall", "0.5", "--json")
    assert result.returncode == 11, result.stderr
    activities = [json.loads(line) for line in result.stdout.splitlines()]
    assert activities and all("id" in a for a in activities)
    assert "no new activity" in result.stderr and f"jules session send {forever}" in result.stderr


@pytest.mark.parametrize("value", ["0", "soon", "-1m"])
def test_a_bad_stall_is_a_usage_error_before_any_request(emulator_server, jules, value) -> None:
    emulator_server.clear_requests()
    result = jules("session", "wait", "123", "--stall", value)
    assert result.returncode == 2, result.stderr
    assert "Error:" in result.stderr and "Traceback" not in result.stderr
    assert emulator_server.requests() == []


def test_new_parallel_wait_waits_on_all_together(emulator_server, jules) -> None:
    result = jules(
        "session",
        "new",
        "--repo",
        "jules-demo/hello-world",
        "--parallel",
        "3",
        "--wait",
        "--json",
        "Add a greeting [fail:nope]",
    )
    assert result.returncode == 8, result.stderr
    sessions = json.loads(result.stdout)
    assert len(sessions) == 3 and {s["state"] for s in sessions} == {"FAILED"}
    # Together: one list page a cycle served all three states, not three GETs.
    gets = [
        r
        for r in emulator_server.requests()
        if r["method"] == "GET" and r["path"].removeprefix("/v1alpha/").count("/") == 1
    ]
    pages = [r for r in emulator_server.requests() if r["path"] == "/v1alpha/sessions"]
    assert pages and len(gets) <= 3
