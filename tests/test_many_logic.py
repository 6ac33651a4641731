"""Logic behind the many-sessions commands, without a server: the bulk filter, what a
retry sends, and how checkout reads a session (its pull request, its repository) and
finds the remote for it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from jules_cli.errors import JulesError, NotFound, UsageError
from jules_cli.gitapply import pull_request_of, remote_for, session_repo
from jules_cli.sessions import SessionFilter, act_on_each, retry_session, shown_options

NOW = 1_800_000_000.0
DAY = 86400


def session(state: str, age_days: float = 10, source: str = "sources/github/octo/hello", **more):
    from jules_cli.times import format_time

    return {
        "id": "1",
        "state": state,
        "updateTime": format_time(NOW - age_days * DAY),
        "sourceContext": {"source": source, "githubRepoContext": {"startingBranch": "dev"}},
        **more,
    }


@pytest.mark.parametrize(
    ("flt", "candidate", "matches"),
    [
        (SessionFilter(states=frozenset({"COMPLETED"})), session("COMPLETED"), True),
        (SessionFilter(states=frozenset({"COMPLETED"})), session("FAILED"), False),
        (SessionFilter(repo="octo/hello"), session("FAILED"), True),
        (SessionFilter(repo="OCTO/Hello"), session("FAILED"), True),
        (SessionFilter(repo="octo/other"), session("FAILED"), False),
        (SessionFilter(older_than=7 * DAY), session("FAILED", age_days=8), True),
        (SessionFilter(older_than=7 * DAY), session("FAILED", age_days=6), False),
        (SessionFilter(older_than=7 * DAY), {"state": "FAILED"}, False),  # age unknown
        # delete's filter: a running session only when its state is named
        (SessionFilter(older_than=DAY, protect_running=True), session("IN_PROGRESS"), False),
        (SessionFilter(older_than=DAY, protect_running=True), session("QUEUED"), False),
        (SessionFilter(older_than=DAY, protect_running=True), session("PAUSED"), True),
        (
            SessionFilter(states=frozenset({"QUEUED"}), protect_running=True),
            session("QUEUED"),
            True,
        ),
    ],
)
def test_session_filter(flt: SessionFilter, candidate: dict, matches: bool) -> None:
    assert flt.matches(candidate, NOW) is matches


def test_session_filter_describes_itself_as_options() -> None:
    flt = SessionFilter(
        states=frozenset({"FAILED", "COMPLETED"}), repo="octo/hello", older_than=7 * DAY
    )
    assert flt.given
    assert flt.describe() == "--state COMPLETED --state FAILED --repo octo/hello --older-than 7d"
    assert not SessionFilter().given
    assert SessionFilter(older_than=90).describe() == "--older-than 90s"


def test_act_on_each_stops_at_the_first_failure_and_says_what_is_left() -> None:
    items = [{"id": str(n)} for n in range(4)]
    done_ids = []

    def act(item):
        if item["id"] == "2":
            raise NotFound("gone")
        return item

    outcome = act_on_each(items, act, lambda item, result: done_ids.append(item["id"]))
    assert [r["id"] for r in outcome.done] == ["0", "1"] and done_ids == ["0", "1"]
    assert outcome.failed == {"id": "2"} and isinstance(outcome.error, JulesError)
    assert outcome.not_done == [{"id": "3"}]
    assert act_on_each(items, lambda item: item).error is None


def test_retry_takes_prompt_source_branch_and_env_switch_but_not_the_title() -> None:
    original = session("FAILED", prompt="Fix it", title="Fix it, first try")
    original["sourceContext"]["environmentVariablesEnabled"] = True
    body = retry_session(original).to_request()
    assert body == {
        "prompt": "Fix it",
        "sourceContext": {
            "source": "sources/github/octo/hello",
            "githubRepoContext": {"startingBranch": "dev"},
            "environmentVariablesEnabled": True,
        },
    }
    again = retry_session(original, prompt="Another way", require_approval=True, auto_pr=True)
    assert again.to_request()["prompt"] == "Another way"
    assert again.to_request()["requirePlanApproval"] is True
    assert again.to_request()["automationMode"] == "AUTO_CREATE_PR"
    assert retry_session({"id": "9", "prompt": "Poem"}).to_request() == {"prompt": "Poem"}
    with pytest.raises(UsageError, match="no prompt"):
        retry_session({"id": "9"})


def test_shown_options_are_none_when_the_api_leaves_them_out() -> None:
    assert shown_options({}) == (None, None)
    assert shown_options({"requirePlanApproval": True, "automationMode": "AUTO_CREATE_PR"}) == (
        True,
        True,
    )
    assert shown_options({"automationMode": "AUTOMATION_MODE_UNSPECIFIED"}) == (None, False)


def test_pull_request_and_repository_of_a_session() -> None:
    pull = {"pullRequest": {"url": "https://github.com/octo/hello/pull/35", "headRef": "jules/x"}}
    found = pull_request_of({"outputs": [{"changeSet": {}}, pull]})
    assert found is not None
    assert (found.repo, found.number, found.head_ref) == ("octo/hello", 35, "jules/x")
    assert (
        pull_request_of({"outputs": [{"pullRequest": {"url": "https://evil.example/1"}}]}) is None
    )
    assert pull_request_of({}) is None
    assert session_repo(session("COMPLETED")) == "octo/hello"
    assert session_repo({"prompt": "repoless"}) is None


def test_remote_for_reads_the_configured_url_not_the_rewritten_one(tmp_path: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    git("remote", "add", "fork", "git@github.com:me/hello.git")
    git("remote", "add", "upstream", "https://github.com/Octo/Hello.git")
    git("config", "url./somewhere/else.insteadOf", "https://github.com/Octo/Hello.git")
    assert remote_for(tmp_path, "octo/hello") == "upstream"
    assert remote_for(tmp_path, "me/hello") == "fork"
    assert remote_for(tmp_path, "nobody/there") is None
    assert remote_for(tmp_path, None) is None
