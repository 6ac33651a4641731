"""`jules status` end to end: the installed command against the emulator over HTTP.

Exact JSON groups (compared with what the emulator serves), what reached the server (how
many list pages, which activities), terminal and pipe output.
"""

from __future__ import annotations

import json
import re
import time

import pytest

from jules_cli.times import format_time

HELLO = "sources/github/jules-demo/hello-world"
TERMINAL = {"JULES_TTY": "1", "COLUMNS": "100"}


def ago(hours: float) -> str:
    return format_time(time.time() - hours * 3600)


def seeded(sid: str, state: str, hours: float, updated: float | None = None, **extra):
    body = {
        "id": sid,
        "prompt": f"task {sid}",
        "title": f"Task {sid}",
        "state": state,
        "createTime": ago(hours),
        "updateTime": ago(hours if updated is None else updated),
        "sourceContext": {"source": HELLO, "githubRepoContext": {"startingBranch": "main"}},
    }
    body.update(extra)
    return body


PLAN = {
    "planGenerated": {
        "plan": {"id": "p1", "steps": [{"title": "Explore"}, {"title": "Edit", "index": 1}]}
    }
}
QUESTION = {"agentMessaged": {"agentMessage": "Which port should it use?\nDetails follow."}}
FAILURE = {"sessionFailed": {"reason": "The tests do not run."}}
PR = {"pullRequest": {"url": "https://github.com/jules-demo/hello-world/pull/7", "title": "t"}}


def small_seed():
    return [
        seeded("101", "AWAITING_PLAN_APPROVAL", 1, activities=[PLAN]),
        seeded("102", "IN_PROGRESS", 2),
        seeded("103", "AWAITING_USER_FEEDBACK", 3, activities=[PLAN, QUESTION]),
        seeded("104", "COMPLETED", 4, outputs=[PR]),
        seeded("105", "FAILED", 5, activities=[FAILURE]),
        seeded("106", "PAUSED", 6, archived=True),  # archived: never shown
        seeded("107", "COMPLETED", 30),  # ended before --since
        seeded("108", "QUEUED", 31),
    ]


@pytest.fixture
def server(emulator_server_factory):
    return emulator_server_factory(seed={"sessions": small_seed()})


def api_sessions(server):
    """What the API itself answers, for comparing --json with."""
    every = server.emulator.list_sessions(page_size=100)["sessions"]
    return {s["id"]: s for s in every}


def calls(server):
    return [(r["method"], r["path"].removeprefix("/v1alpha/")) for r in server.requests()]


def test_json_is_the_three_groups_of_unchanged_sessions(run_jules, server):
    server.clear_requests()
    result = run_jules("status", "--json", env=server.env)
    assert result.returncode == 0, result.stderr
    by_id = api_sessions(server)
    got = json.loads(result.stdout)
    assert list(got) == ["needsYou", "running", "ended"]
    assert got == {
        "needsYou": [by_id["101"], by_id["103"]],
        "running": [by_id["102"], by_id["108"]],
        "ended": [by_id["104"], by_id["105"]],
    }
    # One page held everything; --json needs no activities.
    assert calls(server) == [("GET", "sessions")]
    assert server.requests()[0]["query"]["pageSize"] == "100"


def test_since_widens_the_ended_group(run_jules, server):
    result = run_jules("status", "--json", "--since", "48h", env=server.env)
    ended = [s["id"] for s in json.loads(result.stdout)["ended"]]
    assert ended == ["104", "105", "107"]


def test_pipe_lines_and_activities_only_for_what_needs_you_and_failed(run_jules, server):
    server.clear_requests()
    result = run_jules("status", env=server.env)
    assert result.returncode == 0, result.stderr
    lines = [line.split("\t") for line in result.stdout.splitlines()]
    assert [(row[0], row[1], row[2]) for row in lines] == [
        ("needs-you", "101", "AWAITING_PLAN_APPROVAL"),
        ("needs-you", "103", "AWAITING_USER_FEEDBACK"),
        ("running", "102", "IN_PROGRESS"),
        ("running", "108", "QUEUED"),
        ("ended", "104", "COMPLETED"),
        ("ended", "105", "FAILED"),
    ]
    assert all(len(row) == 9 for row in lines)
    assert lines[0][3:5] == ["jules-demo/hello-world", "Task 101"]
    assert lines[0][7:] == ["plan with 2 steps", "jules session approve 101"]
    assert lines[1][7:] == ["Which port should it use?", 'jules session send 103 "your reply"']
    assert lines[4][7] == "https://github.com/jules-demo/hello-world/pull/7"
    assert lines[5][7] == "The tests do not run."
    assert "\x1b[" not in result.stdout
    assert sorted(calls(server)) == [
        ("GET", "sessions"),
        ("GET", "sessions/101/activities"),
        ("GET", "sessions/103/activities"),
        ("GET", "sessions/105/activities"),
    ]


def test_terminal_shows_groups_with_the_command_to_act(run_jules, server):
    result = run_jules("status", env={**server.env, **TERMINAL})
    assert result.returncode == 0, result.stderr
    assert "\x1b[" in result.stdout  # colour in a terminal
    text = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout)
    assert not [line for line in text.splitlines() if line != line.rstrip()]
    assert "Needs you (2)" in text and "Running (2)" in text
    assert "Ended in the last 24h (2)" in text
    assert "    jules session approve 101\n" in text
    assert "Which port should it use?" in text and "Details follow" not in text
    assert "running for 2h, last activity 2h ago" in text
    assert "Task 106" not in text and "Task 107" not in text


def test_paging_stops_at_the_first_page_created_before_since(run_jules, emulator_server_factory):
    sessions = [seeded(str(1000 + n), "COMPLETED", 0.5 + n / 1000) for n in range(150)]
    sessions += [seeded(str(2000 + n), "COMPLETED", 40 + n / 1000) for n in range(150)]
    sessions += [seeded("3000", "AWAITING_USER_FEEDBACK", 80, activities=[QUESTION])]
    server = emulator_server_factory(seed={"sessions": sessions})
    server.clear_requests()
    result = run_jules("status", "--json", env=server.env)
    assert result.returncode == 0, result.stderr
    # Page 1: new, page 2: half new, page 3: all old (read, then stop), page 4 never.
    assert calls(server) == [("GET", "sessions")] * 3
    got = json.loads(result.stdout)
    assert len(got["ended"]) == 150 and got["needsYou"] == []


def test_jq_filters_the_groups(run_jules, server):
    result = run_jules("status", "--jq", ".needsYou[].id", env=server.env)
    assert (result.returncode, result.stdout) == (0, "101\n103\n")


def test_a_bad_since_is_a_usage_error_before_any_request(run_jules, server):
    server.clear_requests()
    result = run_jules("status", "--since", "yesterday", env=server.env)
    assert result.returncode == 2
    assert result.stderr.startswith("Error: invalid duration 'yesterday'")
    assert server.requests() == []


def test_an_activities_failure_still_shows_the_overview(run_jules, server):
    server.fault(status=500, times=10, path="sessions/105/activities")
    result = run_jules("status", env={**server.env, "JULES_RETRY_DELAY_SCALE": "0"})
    assert result.returncode == 0
    assert "ended\t105\tFAILED" in result.stdout
    assert "(reason not read yet)" in result.stdout
    assert "could not read the activities of 105" in result.stderr


def test_a_failing_list_is_the_usual_error(run_jules, server):
    server.fault(status=429, times=10, path="sessions")
    result = run_jules("status", env={**server.env, "JULES_RETRY_DELAY_SCALE": "0"})
    assert result.returncode == 6
    assert result.stderr.startswith("Error: ")
