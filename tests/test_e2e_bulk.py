"""End to end: `session archive|unarchive|delete` by filter (--state, --repo, --older-than),
--dry-run, --yes, --json and a failure part-way, with the installed `jules` against a
seeded emulator (no terminal: a filter needs --yes)."""

from __future__ import annotations

import json
import time

import pytest

from jules_cli.times import format_time

HELLO = "sources/github/jules-demo/hello-world"
WEBAPP = "sources/github/jules-demo/webapp"
DAY = 86400


def seeded(number: int, state: str, source: str, age_days: float, **fields) -> dict:
    at = format_time(time.time() - age_days * DAY)
    return {
        "id": str(number),
        "prompt": f"Task {number}",
        "state": state,
        "createTime": at,
        "updateTime": at,
        "sourceContext": {"source": source, "githubRepoContext": {"startingBranch": "main"}},
        **fields,
    }


# Newest first in every list: 107 ... 101.
SEED = {
    "sessions": [
        seeded(101, "COMPLETED", HELLO, 13),
        seeded(102, "FAILED", HELLO, 12),
        seeded(103, "COMPLETED", WEBAPP, 11),
        seeded(104, "IN_PROGRESS", HELLO, 10),
        seeded(105, "COMPLETED", HELLO, 0.01),
        seeded(106, "COMPLETED", HELLO, 9, archived=True),
        seeded(107, "QUEUED", HELLO, 8),
    ]
}


@pytest.fixture
def server(emulator_server_factory):
    return emulator_server_factory(seed=SEED)


@pytest.fixture
def jules(run_jules, server, monkeypatch):
    monkeypatch.delenv("CI", raising=False)

    def run(*args: str, **kwargs):
        return run_jules(*args, env=server.env, **kwargs)

    return run


def changes(server) -> list[tuple[str, str]]:
    """The requests that change something: (method, path after /v1alpha/)."""
    return [
        (r["method"], r["path"].removeprefix("/v1alpha/"))
        for r in server.requests()
        if r["method"] in ("POST", "DELETE")
    ]


def remaining(server) -> set[str]:
    page = server.emulator.list_sessions(filter="archived = true OR archived = false")
    return {s["id"] for s in page["sessions"]}


def archived(server) -> set[str]:
    page = server.emulator.list_sessions(filter="archived = true")
    return {s["id"] for s in page.get("sessions", [])}


def test_dry_run_lists_exactly_the_matches_and_changes_nothing(server, jules) -> None:
    result = jules(
        "session", "archive", "--state", "completed", "--older-than", "7d", "--dry-run", "--json"
    )
    assert result.returncode == 0, result.stderr
    assert [s["id"] for s in json.loads(result.stdout)] == ["103", "101"]
    assert "Would archive 2 sessions" in result.stderr
    plain = jules("session", "delete", "--older-than", "7d", "--dry-run")  # needs no --yes
    assert plain.returncode == 0, plain.stderr
    listed = [line.split()[0] for line in plain.stdout.splitlines() if line.strip()]
    assert sorted(listed) == ["101", "102", "103", "106"]  # never the running 104 and 107
    assert changes(server) == []


def test_a_filter_without_yes_and_without_a_terminal_is_exit_2_before_any_request(
    server, jules
) -> None:
    for verb in ("archive", "unarchive", "delete"):
        result = jules("session", verb, "--state", "COMPLETED")
        assert result.returncode == 2, result.stderr
        assert "--yes" in result.stderr and "Traceback" not in result.stderr
    assert server.requests() == []


def test_archive_by_repo_and_age_acts_on_each_and_prints_the_array(server, jules) -> None:
    result = jules(
        "session",
        "archive",
        "--repo",
        "jules-demo/hello-world",
        "--older-than",
        "7d",
        "--yes",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    done = json.loads(result.stdout)
    assert [s["id"] for s in done] == ["107", "104", "102", "101"]  # archiving spares none
    assert all(s["archived"] is True for s in done)
    assert changes(server) == [
        ("POST", f"sessions/{sid}:archive") for sid in ["107", "104", "102", "101"]
    ]
    assert archived(server) == {"101", "102", "104", "106", "107"}


def test_each_result_is_printed(server, jules) -> None:
    result = jules("session", "unarchive", "--state", "COMPLETED", "--yes")
    assert result.returncode == 0, result.stderr
    assert "Unarchived 106" in result.stderr
    assert archived(server) == set()


def test_delete_by_filter_never_takes_a_running_session_unless_its_state_is_named(
    server, jules
) -> None:
    result = jules("session", "delete", "--older-than", "7d", "--yes", "--json")
    assert result.returncode == 0, result.stderr
    assert [s["id"] for s in json.loads(result.stdout)] == ["106", "103", "102", "101"]
    assert remaining(server) == {"104", "105", "107"}
    running = jules("session", "delete", "--state", "IN_PROGRESS", "--yes")
    assert running.returncode == 0, running.stderr
    assert "Deleted 104" in running.stderr
    assert remaining(server) == {"105", "107"}


def test_no_match_is_success_with_nothing_done(server, jules) -> None:
    result = jules("session", "archive", "--state", "PAUSED", "--yes", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []
    assert "No sessions match --state PAUSED" in result.stderr
    assert changes(server) == []


def test_a_failure_part_way_says_what_was_done_and_not_with_its_exit_code(server, jules):
    server.fault(
        status=400, statusName="FAILED_PRECONDITION", times=None, path="sessions/102:archive"
    )
    result = jules(
        "session", "archive", "--state", "COMPLETED,FAILED", "--older-than", "7d", "--yes", "--json"
    )
    assert result.returncode == 5, result.stderr
    assert [s["id"] for s in json.loads(result.stdout)] == ["103"]  # what was done
    error = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(error) == 1
    assert "archived 1 of 3 sessions" in error[0] and "102" in error[0] and "1 not done" in error[0]
    assert "Not done: 101" in result.stderr
    assert changes(server) == [("POST", "sessions/103:archive"), ("POST", "sessions/102:archive")]
    assert archived(server) == {"103", "106"}


@pytest.mark.parametrize(
    "args",
    [
        ("session", "archive"),  # neither ids nor filters
        ("session", "archive", "101", "--state", "COMPLETED"),  # both
        ("session", "delete", "--state", "BOGUS", "--yes"),
        ("session", "delete", "--older-than", "soon", "--yes"),
    ],
)
def test_bad_bulk_input_is_exit_2_before_any_request(server, jules, args) -> None:
    result = jules(*args)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("Error:") and "Traceback" not in result.stderr
    assert server.requests() == []


def test_delete_by_id_with_json_prints_what_was_deleted(server, jules) -> None:
    result = jules("session", "delete", "101", "102", "--yes", "--json")
    assert result.returncode == 0, result.stderr
    assert [s["id"] for s in json.loads(result.stdout)] == ["101", "102"]
    assert remaining(server) == {"103", "104", "105", "106", "107"}


def test_a_server_error_part_way_reports_done_and_not_done(server, run_jules) -> None:
    server.fault(status=503, times=None, path="sessions/103:archive")
    env = {**server.env, "JULES_RETRY_DELAY_SCALE": "0.001"}
    result = run_jules(
        "session",
        "archive",
        "--older-than",
        "7d",
        "--state",
        "COMPLETED,FAILED",
        "--yes",
        env=env,
    )
    assert result.returncode == 7, result.stderr  # the failure's own exit code
    error = [line for line in result.stderr.splitlines() if line.startswith("Error:")][0]
    assert "archived 0 of 3 sessions" in error and "103" in error and "2 not done" in error
    assert "Not done: 102 101" in result.stderr
    assert archived(server) == {"106"}
