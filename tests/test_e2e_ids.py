"""End to end: every command that takes a session takes it as `ID`, `sessions/ID` or the
session's web URL (what `session new` and `session show` print), and refuses anything
outside the id alphabet before any request."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.conftest import jules_command


def run(server, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*jules_command(), *args],
        env={**os.environ, **server.env},
        capture_output=True,
        text=True,
        input="",
        timeout=60,
    )


def session_paths(server) -> list[str]:
    return [r["path"] for r in server.requests() if r["path"].startswith("/v1alpha/sessions/")]


@pytest.fixture
def sid(emulator_server) -> str:
    created = emulator_server.emulator.create_session(
        {"prompt": "Add a greeting", "sourceContext": {
            "source": "sources/github/jules-demo/hello-world",
            "githubRepoContext": {"startingBranch": "main"}}}
    )  # fmt: skip
    emulator_server.clear_requests()
    return created["id"]


@pytest.mark.parametrize(
    "form",
    [
        "{id}",
        "sessions/{id}",
        "https://jules.google.com/session/{id}",
        "https://jules.google.com/session/{id}/",
        "https://jules.google.com/session/{id}?tab=plan#activity",
        "https://jules.google.com/task/{id}",
    ],
)
def test_every_form_of_a_session_id_names_the_same_session(emulator_server, sid, form):
    result = run(emulator_server, "session", "show", form.format(id=sid), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["id"] == sid
    assert session_paths(emulator_server) == [f"/v1alpha/sessions/{sid}"]


def test_the_url_that_session_show_prints_is_accepted_by_the_other_commands(
    emulator_server, sid
):
    url = json.loads(run(emulator_server, "session", "show", sid, "--json").stdout)["url"]
    emulator_server.clear_requests()
    listed = run(emulator_server, "activities", "list", url, "--json")
    assert listed.returncode == 0, listed.stderr
    assert session_paths(emulator_server) == [f"/v1alpha/sessions/{sid}/activities"]


def test_ids_with_letters_dashes_and_underscores_are_sent_as_they_are(emulator_server):
    result = run(emulator_server, "session", "show", "AbC-9_z")
    assert result.returncode == 3, result.stderr  # the emulator has no such session
    assert session_paths(emulator_server) == ["/v1alpha/sessions/AbC-9_z"]


@pytest.mark.parametrize(
    "bad",
    ["../x", "1/2", "1?x=y", "a b", "1%2F2", "https://example.com/session/1", "ünï"],
)
def test_anything_else_is_a_usage_error_before_any_request(emulator_server, bad):
    result = run(emulator_server, "session", "show", bad)
    assert result.returncode == 2, result.stderr
    assert "not a session id" in result.stderr
    assert emulator_server.requests() == []
