"""End to end: `session retry ID` with the installed `jules` against the emulator: what
reaches the server (the create body), and that it prints, waits and follows like `new`."""

from __future__ import annotations

import json

import pytest

HELLO = "sources/github/jules-demo/hello-world"
WEBAPP = "sources/github/jules-demo/webapp"


@pytest.fixture
def jules(run_jules, emulator_server, monkeypatch, tmp_path):
    monkeypatch.delenv("CI", raising=False)

    def run(*args: str, **kwargs):
        env = {**emulator_server.env, "JULES_CONFIG_DIR": str(tmp_path / "config")}
        return run_jules(*args, env={**env, **kwargs.pop("env", {})}, **kwargs)

    return run


def created_bodies(server) -> list[dict]:
    return [
        r["body"]
        for r in server.requests()
        if r["method"] == "POST" and r["path"] == "/v1alpha/sessions"
    ]


def original(server, prompt="Fix the login bug", source=WEBAPP, branch="feature/login", **more):
    body = {"prompt": prompt, **more}
    if source:
        body["sourceContext"] = {
            "source": source,
            "githubRepoContext": {"startingBranch": branch},
            "environmentVariablesEnabled": True,
        }
    return server.emulator.create_session(body)


def test_retry_starts_the_same_task_and_prints_like_new(emulator_server, jules) -> None:
    old = original(emulator_server)
    # The real API does not echo the input-only options: retry must not depend on them.
    result = jules("session", "retry", old["id"], "--json")
    assert result.returncode == 0, result.stderr
    new = json.loads(result.stdout)
    assert new["id"] != old["id"] and new["prompt"] == "Fix the login bug"
    [body] = created_bodies(emulator_server)
    assert body == {
        "prompt": "Fix the login bug",
        "sourceContext": {
            "source": WEBAPP,
            "githubRepoContext": {"startingBranch": "feature/login"},
            "environmentVariablesEnabled": True,
        },
    }
    plain = jules("session", "retry", old["id"])
    assert plain.returncode == 0, plain.stderr
    assert "ID" in plain.stdout and "URL" in plain.stdout  # session new's record
    quiet = jules("session", "retry", f"sessions/{old['id']}", "-q")
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout.strip().isdigit() and len(quiet.stdout.splitlines()) == 1


def test_retry_keeps_the_options_the_api_shows_and_flags_override(
    emulator_server, jules, monkeypatch
) -> None:
    """An API version that does echo the input-only options (older answers did): the
    emulator's answers get them back for this test (the server runs in this process)."""
    from jules_cli.emulator.state import SessionRecord

    plain_render = SessionRecord.render

    def render_with_options(record: SessionRecord) -> dict:
        shown = plain_render(record)
        if record.require_plan_approval:
            shown["requirePlanApproval"] = True
        if record.automation_mode:
            shown["automationMode"] = record.automation_mode
        return shown

    monkeypatch.setattr(SessionRecord, "render", render_with_options)
    shown = original(
        emulator_server,
        "Refactor [fail:x]",
        source=HELLO,
        branch="develop",
        requirePlanApproval=True,
        automationMode="AUTO_CREATE_PR",
    )
    same = jules("session", "retry", shown["id"], "-q")
    assert same.returncode == 0, same.stderr
    overridden = jules("session", "retry", shown["id"], "--no-require-approval", "--no-auto-pr")
    assert overridden.returncode == 0, overridden.stderr
    first, second = created_bodies(emulator_server)
    assert first["requirePlanApproval"] is True and first["automationMode"] == "AUTO_CREATE_PR"
    assert first["sourceContext"]["githubRepoContext"] == {"startingBranch": "develop"}
    assert "requirePlanApproval" not in second and "automationMode" not in second


def test_retry_without_the_options_shown_uses_the_profile(emulator_server, jules) -> None:
    shown = original(emulator_server, "Refactor", source=HELLO, branch="main")
    assert jules("config", "set", "auto-pr", "true").returncode == 0
    result = jules("session", "retry", shown["id"], "-q")
    assert result.returncode == 0, result.stderr
    [body] = created_bodies(emulator_server)
    assert body["automationMode"] == "AUTO_CREATE_PR" and "requirePlanApproval" not in body


def test_retry_with_a_new_prompt_from_stdin_or_a_file(emulator_server, jules, tmp_path) -> None:
    old = original(emulator_server)
    piped = jules("session", "retry", old["id"], "-", "-q", input="Try it another way\n")
    assert piped.returncode == 0, piped.stderr
    prompt_file = tmp_path / "prompt.txt"
    prompt_file.write_text("From a file\n")
    filed = jules("session", "retry", old["id"], "--prompt-file", str(prompt_file), "-q")
    assert filed.returncode == 0, filed.stderr
    # Piped stdin alone does not replace it: only `-` or --prompt-file say so.
    kept = jules("session", "retry", old["id"], "-q", input="ignored")
    assert kept.returncode == 0, kept.stderr
    prompts = [body["prompt"] for body in created_bodies(emulator_server)]
    assert prompts == ["Try it another way", "From a file", "Fix the login bug"]


def test_retry_of_a_repoless_session_is_repoless(emulator_server, jules) -> None:
    old = original(emulator_server, "Write a poem", source=None)
    result = jules("session", "retry", old["id"], "-q")
    assert result.returncode == 0, result.stderr
    assert created_bodies(emulator_server) == [{"prompt": "Write a poem"}]
    on_branch = jules("session", "retry", old["id"], "--branch", "main")
    assert on_branch.returncode == 2 and "no repository" in on_branch.stderr
    assert len(created_bodies(emulator_server)) == 1


def test_retry_on_another_branch_with_a_title(emulator_server, jules) -> None:
    old = original(emulator_server)
    result = jules("session", "retry", old["id"], "-b", "main", "--title", "Login, take 2", "-q")
    assert result.returncode == 0, result.stderr
    [body] = created_bodies(emulator_server)
    assert body["sourceContext"]["githubRepoContext"] == {"startingBranch": "main"}
    assert body["sourceContext"]["source"] == WEBAPP and body["title"] == "Login, take 2"
    assert body["prompt"] == "Fix the login bug"


def test_retry_waits_and_follows_like_new(emulator_server, jules) -> None:
    old = original(emulator_server, "Add a greeting [fail:no]", source=HELLO, branch="main")
    waited = jules("session", "retry", old["id"], "--wait", "--json")
    assert waited.returncode == 8, waited.stderr
    assert json.loads(waited.stdout)["state"] == "FAILED"
    followed = jules("session", "retry", old["id"], "--follow", "--json")
    assert followed.returncode == 8, followed.stderr
    lines = [json.loads(line) for line in followed.stdout.splitlines()]
    assert any("sessionFailed" in a for a in lines)


def test_retry_of_an_unknown_session_is_3_and_creates_nothing(emulator_server, jules) -> None:
    result = jules("session", "retry", "424242")
    assert result.returncode == 3, result.stderr
    assert created_bodies(emulator_server) == []
    emulator_server.clear_requests()
    both = jules("session", "retry", "424242", "--wait", "--follow")
    assert both.returncode == 2 and emulator_server.requests() == []  # before any request


def test_retry_parallel_starts_n_like_new_and_waits_on_them_together(
    emulator_server, jules
) -> None:
    old = original(emulator_server, "Add a greeting [fail:no]", source=HELLO, branch="main")
    emulator_server.clear_requests()
    started = jules("session", "retry", old["id"], "--parallel", "2", "--json")
    assert started.returncode == 0, started.stderr
    sessions = json.loads(started.stdout)
    assert isinstance(sessions, list) and len(sessions) == 2
    assert len({s["id"] for s in sessions} | {old["id"]}) == 3
    first, second = created_bodies(emulator_server)
    assert first == second and first["prompt"] == "Add a greeting [fail:no]"
    # -n 1 is still an array, as for `session new --parallel 1`.
    one = jules("session", "retry", old["id"], "-n", "1", "--json")
    assert one.returncode == 0 and len(json.loads(one.stdout)) == 1
    waited = jules("session", "retry", old["id"], "-n", "2", "--wait", "--json")
    assert waited.returncode == 8, waited.stderr
    assert [s["state"] for s in json.loads(waited.stdout)] == ["FAILED", "FAILED"]


@pytest.mark.parametrize("args", [("--parallel", "6"), ("-n", "2", "--follow")])
def test_bad_retry_parallel_is_exit_2_before_any_request(emulator_server, jules, args) -> None:
    emulator_server.clear_requests()
    result = jules("session", "retry", "1234", *args)
    assert result.returncode == 2, result.stderr
    assert "Error" in result.stderr and "Traceback" not in result.stderr
    assert emulator_server.requests() == []
