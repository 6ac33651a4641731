"""Session logic: the create body, client-side filters, prompt sources."""

from __future__ import annotations

import io

import pytest

from jules_cli import prompt
from jules_cli.errors import UsageError
from jules_cli.sessions import NewSession, check_parallel, filter_sessions, parse_states
from jules_cli.target import FROM_OPTION, RepoChoice, choose_branch

SOURCE = {
    "name": "sources/github/octo/hello",
    "id": "github/octo/hello",
    "githubRepo": {
        "owner": "octo",
        "repo": "hello",
        "defaultBranch": {"displayName": "main"},
        "branches": [{"displayName": "main"}, {"displayName": "dev"}],
    },
}


def test_create_body_has_only_what_was_asked():
    assert NewSession(prompt="p").to_request() == {"prompt": "p"}
    body = NewSession(
        prompt="p",
        source=SOURCE,
        branch="dev",
        title="T",
        require_approval=True,
        auto_pr=True,
        env_vars=True,
    ).to_request()
    assert body == {
        "prompt": "p",
        "title": "T",
        "sourceContext": {
            "source": "sources/github/octo/hello",
            "githubRepoContext": {"startingBranch": "dev"},
            "environmentVariablesEnabled": True,
        },
        "requirePlanApproval": True,
        "automationMode": "AUTO_CREATE_PR",
    }


def test_branch_defaults_to_the_source_default_and_an_unlisted_one_is_still_sent():
    def branch(wanted):
        choice = RepoChoice("octo/hello", FROM_OPTION)
        return choose_branch(choice, SOURCE, branch=wanted, push=False, setting=lambda _: None)

    assert (branch(None).branch, branch(None).warnings) == ("main", [])
    assert (branch("dev").branch, branch("dev").warnings) == ("dev", [])
    # The API lists active branches only: the API, not the list, says if it exists.
    assert branch("nope").branch == "nope" and "sending it anyway" in branch("nope").warnings[0]


@pytest.mark.parametrize("count", [0, 6, -1])
def test_parallel_is_one_to_five(count):
    with pytest.raises(UsageError):
        check_parallel(count)


def test_parse_states_accepts_repeats_commas_and_case():
    assert parse_states(["completed", "FAILED,in-progress"]) == {
        "COMPLETED",
        "FAILED",
        "IN_PROGRESS",
    }
    with pytest.raises(UsageError, match="known states"):
        parse_states(["DONE"])


def sessions():
    for i in range(1000):
        yield {
            "id": str(i),
            "state": "COMPLETED" if i % 2 else "FAILED",
            "sourceContext": {"source": f"sources/github/octo/{'a' if i % 3 else 'b'}"},
        }


def test_filters_and_limit_stop_early():
    consumed = []

    def tracking():
        for s in sessions():
            consumed.append(s)
            yield s

    found = list(filter_sessions(tracking(), states={"FAILED"}, repo="OCTO/b", limit=2))
    assert [s["id"] for s in found] == ["0", "6"]
    assert len(consumed) == 7


def test_prompt_from_argument_stdin_and_file(monkeypatch, tmp_path):
    assert prompt.read_text("  do it  ", interactive=False, stdin_is_terminal=True) == "do it"
    monkeypatch.setattr("sys.stdin", io.StringIO("from stdin\n"))
    assert prompt.read_text("-", interactive=False, stdin_is_terminal=True) == "from stdin"
    monkeypatch.setattr("sys.stdin", io.StringIO("piped\n"))
    assert prompt.read_text(None, interactive=False, stdin_is_terminal=False) == "piped"
    path = tmp_path / "p.md"
    path.write_text("from file")
    assert prompt.read_text(None, file=path, interactive=False, stdin_is_terminal=True) == (
        "from file"
    )


def test_prompt_errors(monkeypatch, tmp_path):
    with pytest.raises(UsageError, match="no prompt"):
        prompt.read_text(None, interactive=False, stdin_is_terminal=True)
    monkeypatch.setattr("sys.stdin", io.StringIO("   \n"))
    with pytest.raises(UsageError, match="empty"):
        prompt.read_text("-", interactive=False, stdin_is_terminal=True)
    with pytest.raises(UsageError, match="cannot read"):
        prompt.read_text(None, file=tmp_path / "missing", interactive=False)


def test_prompt_composed_in_the_editor(monkeypatch, tmp_path):
    script = tmp_path / "editor.sh"
    # An editor that writes above the template, as a person does.
    script.write_text(
        '#!/bin/sh\n{ printf "# Tests\\nWrite tests\\n"; cat "$1"; } > "$1.new"\nmv "$1.new" "$1"\n'
    )
    script.chmod(0o755)
    monkeypatch.setenv("EDITOR", str(script))
    # A `#` line of the text stays (a Markdown heading); the template below the scissors goes.
    assert prompt.read_text(None, interactive=True, stdin_is_terminal=True) == (
        "# Tests\nWrite tests"
    )


def test_editor_that_fails_sends_nothing(monkeypatch):
    monkeypatch.setenv("VISUAL", "false")
    with pytest.raises(UsageError, match="exited"):
        prompt.read_text(None, interactive=True, stdin_is_terminal=True)
