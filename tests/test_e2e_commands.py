"""End to end: the installed `jules` against the emulator over loopback HTTP.

Every test runs the real command as a subprocess (`run_jules`), as a script or a person
would, and checks the exit code, the exact JSON (compared with what the emulator serves),
what reached the server (the emulator's request log), terminal rendering (JULES_TTY=1
forces terminal mode: colour and relative times) and pipe output (no ANSI codes at all).

Sessions run at speed 200, so tests never wait on time: `.settle()` plays every session to
the point where it waits for the user or ends, and `[stall:...]` keeps one where it is.
"""

from __future__ import annotations

import json
import os
import re
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import _AMBIENT, jules_command

TERMINAL = {"JULES_TTY": "1", "COLUMNS": "120"}
ANSI = "\x1b["
RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")
RELATIVE = re.compile(r"just now|\d+(m|h|d|mo|y) ago")
HELLO = "sources/github/jules-demo/hello-world"
WEBAPP = "sources/github/jules-demo/webapp"


# -- helpers ----------------------------------------------------------------------------


def jules(run_jules, server, *args: str, env: dict[str, str] | None = None, **kwargs):
    """Run `jules` pointed at `server`; never a traceback, whatever the outcome."""
    result = run_jules(*args, env={**server.env, **(env or {})}, **kwargs)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, (result.returncode, result.stderr)
    return result


def fails(result: subprocess.CompletedProcess[str], code: int) -> str:
    """The single `Error: ...` line of a failed command."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, result.stderr
    return errors[0]


def served(server, path: str, **params: Any) -> Any:
    """What the emulator serves for GET `path`, fetched with the key."""
    response = httpx.get(
        f"{server.url}/{path}", params=params, headers={"X-Goog-Api-Key": server.api_key}
    )
    response.raise_for_status()
    return response.json()


def served_all(server, path: str, items: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a list endpoint, all pages."""
    found: list[dict[str, Any]] = []
    query: dict[str, Any] = {"pageSize": 100, **params}
    while True:
        page = served(server, path, **query)
        found.extend(page.get(items, []))
        query["pageToken"] = page.get("nextPageToken")
        if not query["pageToken"]:
            return found


def same_json(printed: str, expected: Any) -> None:
    """Exactly the API's objects: same values, same field order, nothing added or lost."""
    assert json.dumps(json.loads(printed)) == json.dumps(expected)


def api_calls(server) -> list[tuple[str, str]]:
    """(method, path below /v1alpha/) of every API request the emulator received."""
    return [(r["method"], r["path"].removeprefix("/v1alpha/")) for r in server.requests()]


def posted(server, path: str = "sessions") -> list[Any]:
    return [
        r["body"]
        for r in server.requests()
        if r["method"] == "POST" and r["path"] == f"/v1alpha/{path}"
    ]


def create(server, prompt: str, **fields: Any) -> dict[str, Any]:
    """A session made directly in the emulator (no subprocess), for tests about reading."""
    return server.emulator.create_session({"prompt": prompt, **fields})


def with_source(source: str, branch: str | None = None) -> dict[str, Any]:
    context: dict[str, Any] = {"source": source}
    if branch:
        context["githubRepoContext"] = {"startingBranch": branch}
    return {"sourceContext": context}


def no_ansi(text: str) -> None:
    assert ANSI not in text and "\x1b" not in text, repr(text[:300])


# -- sources ------------------------------------------------------------------------------


def test_sources_list_every_output_mode(run_jules, emulator_server):
    server = emulator_server
    expected = served_all(server, "sources", "sources")

    result = ok(jules(run_jules, server, "sources", "list", "--json"))
    same_json(result.stdout, expected)

    pipe = ok(jules(run_jules, server, "sources", "list"))
    no_ansi(pipe.stdout)
    assert pipe.stdout.splitlines() == [
        "jules-demo/hello-world\tmain\tpublic\tsources/github/jules-demo/hello-world",
        "jules-demo/webapp\tmain\tprivate\tsources/github/jules-demo/webapp",
        "octo-org/data-pipeline\tmaster\tpublic\tsources/github/octo-org/data-pipeline",
    ]

    terminal = ok(jules(run_jules, server, "sources", "list", env=TERMINAL))
    assert ANSI in terminal.stdout
    assert "REPO" in terminal.stdout and "jules-demo/webapp" in terminal.stdout

    quiet = ok(jules(run_jules, server, "sources", "list", "-q"))
    assert quiet.stdout.split() == [s["name"] for s in expected]

    # --api-url wins over JULES_API_URL (here a port where nothing listens).
    dead = {"JULES_API_URL": f"http://127.0.0.1:{_dead_port()}/v1alpha"}
    flag = ok(jules(run_jules, server, "--api-url", server.url, "sources", "list", "-q", env=dead))
    assert flag.stdout == quiet.stdout


def test_sources_list_pages_filter_and_limit(run_jules, emulator_server):
    server = emulator_server
    for number in range(105):
        server.emulator.add_source({"name": f"sources/github/acme/repo-{number:03d}"})
    everything = served_all(server, "sources", "sources")
    assert len(everything) == 108
    server.clear_requests()

    result = ok(jules(run_jules, server, "sources", "list", "--json"))
    same_json(result.stdout, everything)
    assert api_calls(server) == [("GET", "sources")] * 2  # both pages
    server.clear_requests()

    limited = ok(jules(run_jules, server, "sources", "list", "--limit", "3", "--json"))
    same_json(limited.stdout, everything[:3])
    assert api_calls(server) == [("GET", "sources")]  # stopped after the first page
    server.clear_requests()

    wanted = f"name={WEBAPP}"
    filtered = ok(jules(run_jules, server, "sources", "list", "--filter", wanted, "--json"))
    same_json(filtered.stdout, [s for s in everything if s["name"] == WEBAPP])
    assert server.requests()[0]["query"]["filter"] == wanted


def test_sources_show_accepts_every_name_form(run_jules, emulator_server):
    server = emulator_server
    expected = served(server, WEBAPP)
    for form in (WEBAPP, "github/jules-demo/webapp", "jules-demo/webapp"):
        result = ok(jules(run_jules, server, "sources", "show", form, "--json"))
        same_json(result.stdout, expected)

    pipe = ok(jules(run_jules, server, "sources", "show", "jules-demo/webapp"))
    no_ansi(pipe.stdout)
    assert "Branches\tmain (default), feature/login, release/1.0" in pipe.stdout.splitlines()
    assert "Visibility\tprivate" in pipe.stdout.splitlines()

    terminal = ok(jules(run_jules, server, "sources", "show", "jules-demo/webapp", env=TERMINAL))
    assert ANSI in terminal.stdout and "feature/login" in terminal.stdout


def test_sources_show_unknown_lists_the_connected_ones(run_jules, emulator_server):
    error = fails(jules(run_jules, emulator_server, "sources", "show", "nobody/nothing"), 3)
    assert "nobody/nothing" in error
    assert "jules-demo/hello-world" in error and "octo-org/data-pipeline" in error


def test_a_source_with_an_unusual_name_is_found_through_the_list(run_jules, emulator_server):
    server = emulator_server
    odd = server.emulator.add_source(
        {"name": "sources/gh-4242", "githubRepo": {"owner": "acme", "repo": "odd"}}
    )
    server.clear_requests()
    result = ok(jules(run_jules, server, "sources", "show", "acme/odd", "--json"))
    same_json(result.stdout, odd)
    # Asked by name first (404), then found in the list: never a name built and trusted.
    assert api_calls(server) == [("GET", "sources/github/acme/odd"), ("GET", "sources")]
    assert server.requests()[0]["status"] == 404


# -- session new ------------------------------------------------------------------------


def test_session_new_prints_id_title_url_and_the_next_step(run_jules, emulator_server):
    server = emulator_server
    result = ok(
        jules(
            run_jules,
            server,
            "session",
            "new",
            "Add a greeting",
            "--repo",
            "jules-demo/hello-world",
        )
    )
    no_ansi(result.stdout + result.stderr)
    lines = dict(line.split("\t", 1) for line in result.stdout.splitlines())
    sid = lines["ID"]
    assert lines["Title"] == "Add a greeting"
    assert lines["URL"] == f"https://jules.google.com/session/{sid}"
    assert f"jules activities tail {sid}" in result.stderr  # the next step
    # The source was asked for by name, and its default branch used.
    assert api_calls(server) == [("GET", HELLO), ("POST", "sessions")]
    assert posted(server) == [
        {
            "prompt": "Add a greeting",
            "sourceContext": {"source": HELLO, "githubRepoContext": {"startingBranch": "main"}},
        }
    ]


def test_session_new_json_is_the_created_session(run_jules, emulator_server):
    server = emulator_server
    result = ok(
        jules(
            run_jules,
            server,
            "session",
            "new",
            "Hold still [stall:queued]",
            "--repo",
            "octo-org/data-pipeline",
            "--json",
        )
    )
    created = json.loads(result.stdout)
    same_json(result.stdout, served(server, f"sessions/{created['id']}"))
    # The data-pipeline default branch is `master`, not a guessed `main`.
    assert created["sourceContext"]["githubRepoContext"]["startingBranch"] == "master"

    terminal = ok(
        jules(
            run_jules, server, "session", "new", "Again [stall:queued]", "--no-repo", env=TERMINAL
        )
    )
    assert ANSI in terminal.stdout and "https://jules.google.com/session/" in terminal.stdout


def test_session_new_quiet_prints_only_the_id(run_jules, emulator_server):
    server = emulator_server
    result = ok(jules(run_jules, server, "session", "new", "-q", "Quiet one", "--no-repo"))
    sid = result.stdout.strip()
    assert re.fullmatch(r"\d+", sid)
    assert served(server, f"sessions/{sid}")["prompt"] == "Quiet one"


def test_session_new_reads_the_prompt_from_stdin_dash_and_a_file(
    run_jules, emulator_server, tmp_path
):
    server = emulator_server
    ok(jules(run_jules, server, "session", "new", "-", "--no-repo", "-q", input="From dash\n"))
    ok(jules(run_jules, server, "session", "new", "--no-repo", "-q", input="Piped in\n\n"))
    prompt_file = tmp_path / "task.md"
    prompt_file.write_text("From a file\nwith two lines\n", encoding="utf-8")
    ok(jules(run_jules, server, "session", "new", "--prompt-file", str(prompt_file), "--no-repo"))
    assert [body["prompt"] for body in posted(server)] == [
        "From dash",
        "Piped in",
        "From a file\nwith two lines",
    ]
    server.clear_requests()

    # Nothing to send: a usage error before any request, saying how to give a prompt.
    error = fails(jules(run_jules, server, "session", "new", "--no-repo", input=""), 2)
    assert "standard input is empty" in error and "--prompt-file" in error
    fails(
        jules(run_jules, server, "session", "new", "x", "--prompt-file", str(prompt_file)),
        2,
    )
    assert server.requests() == []


def _run_in_a_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """Run jules with stdin and stderr on a pseudo-terminal (stdout captured)."""
    import pty

    main_fd, child_fd = pty.openpty()
    full_env = {**os.environ, **env}
    try:
        result = subprocess.run(
            [*jules_command(), *args],
            stdin=child_fd,
            stdout=subprocess.PIPE,
            stderr=child_fd,
            env=full_env,
            timeout=60,
        )
    finally:
        os.close(child_fd)
    terminal = b""
    while True:
        try:
            chunk = os.read(main_fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        terminal += chunk
    os.close(main_fd)
    return result.returncode, result.stdout.decode(), terminal.decode(errors="replace")


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_session_new_composes_the_prompt_in_the_editor_in_a_terminal(emulator_server, tmp_path):
    server = emulator_server
    editor = tmp_path / "editor.py"
    editor.write_text(
        "import sys, pathlib\n"
        "path = pathlib.Path(sys.argv[1])\n"
        "path.write_text('Composed in the editor\\n' + path.read_text())\n",
        encoding="utf-8",
    )
    env = {**server.env, "VISUAL": f"{sys.executable} {editor}"}
    code, stdout, terminal = _run_in_a_terminal(["session", "new", "--no-repo", "-q"], env)
    assert code == 0, terminal
    # The template (below its scissors line) is dropped.
    assert posted(server) == [{"prompt": "Composed in the editor"}]
    assert served(server, f"sessions/{stdout.strip()}")["prompt"] == "Composed in the editor"
    server.clear_requests()

    # In CI there is no one to type: no editor, a usage error naming the other ways.
    code, _, terminal = _run_in_a_terminal(["session", "new", "--no-repo"], {**env, "CI": "true"})
    assert code == 2 and "--prompt-file" in terminal
    assert server.requests() == []


def _git_checkout(path: Path, remotes: dict[str, str]) -> Path:
    path.mkdir()
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    for name, url in remotes.items():
        subprocess.run(["git", "-C", str(path), "remote", "add", name, url], check=True)
    return path


def test_session_new_repo_dot_uses_the_git_remote(run_jules, emulator_server, tmp_path):
    server = emulator_server
    checkouts = {
        "https": {"origin": "https://github.com/jules-demo/webapp.git"},
        "ssh": {"origin": "git@github.com:jules-demo/hello-world.git"},
        # origin is not on GitHub: upstream is the one.
        "upstream": {
            "origin": "https://gitlab.com/someone/fork.git",
            "upstream": "ssh://git@github.com/octo-org/data-pipeline",
        },
    }
    for name, remotes in checkouts.items():
        cwd = _git_checkout(tmp_path / name, remotes)
        ok(jules(run_jules, server, "session", "new", "x", "--repo", ".", "-q", cwd=cwd))
    assert [body["sourceContext"] for body in posted(server)] == [
        {"source": WEBAPP, "githubRepoContext": {"startingBranch": "main"}},
        {"source": HELLO, "githubRepoContext": {"startingBranch": "main"}},
        {
            "source": "sources/github/octo-org/data-pipeline",
            "githubRepoContext": {"startingBranch": "master"},
        },
    ]
    server.clear_requests()

    no_github = _git_checkout(tmp_path / "nogithub", {"origin": "https://gitlab.com/a/b.git"})
    error = fails(jules(run_jules, server, "session", "new", "x", "--repo", ".", cwd=no_github), 2)
    assert "--repo OWNER/REPO" in error and "origin=https://gitlab.com/a/b.git" in error
    not_git = tmp_path / "plain"
    not_git.mkdir()
    fails(jules(run_jules, server, "session", "new", "x", "--repo", ".", cwd=not_git), 2)
    assert server.requests() == []


def test_session_new_branch_not_listed_is_sent_with_a_warning(run_jules, emulator_server):
    server = emulator_server
    ok(
        jules(
            run_jules,
            server,
            "session",
            "new",
            "x",
            "-r",
            "jules-demo/hello-world",
            "-b",
            "develop",
        )
    )
    assert posted(server)[0]["sourceContext"]["githubRepoContext"] == {"startingBranch": "develop"}
    server.clear_requests()

    result = jules(
        run_jules,
        server,
        "session",
        "new",
        "x",
        "--repo",
        "jules-demo/hello-world",
        "--branch",
        "nope",
    )
    # The API lists active branches only: the branch is sent anyway, and the API's refusal
    # is exit 5 with its own message.
    error = fails(result, 5)
    assert "Branch 'nope' does not exist in sources/github/jules-demo/hello-world" in error
    assert "Warning: jules-demo/hello-world does not list branch 'nope'" in result.stderr
    assert [body["sourceContext"] for body in posted(server)] == [
        {"source": HELLO, "githubRepoContext": {"startingBranch": "nope"}}
    ]


def test_session_new_unconnected_repo_is_not_found_and_lists_the_connected(
    run_jules, emulator_server
):
    server = emulator_server
    error = fails(jules(run_jules, server, "session", "new", "x", "--repo", "acme/missing"), 3)
    assert "acme/missing" in error and "jules-demo/webapp" in error
    # Asked by name, then looked for in the list; nothing created.
    assert api_calls(server) == [("GET", "sources/github/acme/missing"), ("GET", "sources")]


def test_session_new_options_reach_the_server(run_jules, emulator_server):
    server = emulator_server
    ok(
        jules(
            run_jules,
            server,
            "session",
            "new",
            "Everything",
            "--repo",
            "jules-demo/webapp",
            "--branch",
            "release/1.0",
            "--title",
            "My title",
            "--require-approval",
            "--auto-pr",
            "--env-vars",
        )
    )
    ok(jules(run_jules, server, "session", "new", "Repoless", "--no-repo"))
    assert posted(server) == [
        {
            "prompt": "Everything",
            "title": "My title",
            "sourceContext": {
                "source": WEBAPP,
                "githubRepoContext": {"startingBranch": "release/1.0"},
                "environmentVariablesEnabled": True,
            },
            "requirePlanApproval": True,
            "automationMode": "AUTO_CREATE_PR",
        },
        {"prompt": "Repoless"},
    ]
    server.clear_requests()
    fails(jules(run_jules, server, "session", "new", "x", "--no-repo", "--repo", "a/b"), 2)
    # An empty --repo (say, an unset shell variable) never starts a repoless session.
    error = fails(jules(run_jules, server, "session", "new", "x", "--repo", ""), 2)
    assert "--repo is empty" in error
    assert server.requests() == []


def test_session_new_parallel(run_jules, emulator_server):
    server = emulator_server
    result = ok(
        jules(
            run_jules,
            server,
            "session",
            "new",
            "Three [stall:queued]",
            "--no-repo",
            "-n",
            "3",
            "--json",
        )
    )
    created = json.loads(result.stdout)
    assert len(created) == 3 and len({s["id"] for s in created}) == 3
    for session in created:
        assert session == served(server, f"sessions/{session['id']}")
    assert len(posted(server)) == 3
    server.clear_requests()

    quiet = ok(
        jules(run_jules, server, "session", "new", "Two", "--no-repo", "--parallel", "2", "-q")
    )
    assert len(quiet.stdout.split()) == 2
    # In a pipe: one `key<TAB>value` record per session, separated by a blank line.
    pipe = ok(jules(run_jules, server, "session", "new", "Pair", "--no-repo", "-n", "2"))
    records = [
        dict(line.split("\t", 1) for line in block.splitlines())
        for block in pipe.stdout.split("\n\n")
    ]
    assert [r["Title"] for r in records] == ["Pair", "Pair"]
    assert records[0]["ID"] != records[1]["ID"]
    # The next step waits on both together (one command), not on a placeholder ID.
    assert f"`jules session wait {records[0]['ID']} {records[1]['ID']}`" in pipe.stderr
    server.clear_requests()
    for bad in ("0", "6"):
        error = fails(jules(run_jules, server, "session", "new", "x", "--no-repo", "-n", bad), 2)
        assert "1 and 5" in error
    assert server.requests() == []


def test_session_new_uses_the_profile_defaults(run_jules, emulator_server):
    server = emulator_server
    for key, value in (
        ("repo", "jules-demo/webapp"),
        ("branch", "feature/login"),
        ("require-approval", "true"),
        ("auto-pr", "true"),
    ):
        ok(jules(run_jules, server, "config", "set", key, value))
    ok(jules(run_jules, server, "session", "new", "Defaults"))
    ok(
        jules(
            run_jules,
            server,
            "session",
            "new",
            "Overridden",
            "--repo",
            "jules-demo/hello-world",
            "--branch",
            "develop",
            "--no-require-approval",
            "--no-auto-pr",
        )
    )
    assert posted(server) == [
        {
            "prompt": "Defaults",
            "sourceContext": {
                "source": WEBAPP,
                "githubRepoContext": {"startingBranch": "feature/login"},
            },
            "requirePlanApproval": True,
            "automationMode": "AUTO_CREATE_PR",
        },
        {
            "prompt": "Overridden",
            "sourceContext": {"source": HELLO, "githubRepoContext": {"startingBranch": "develop"}},
        },
    ]
    server.clear_requests()

    # Another profile, chosen with --profile or JULES_PROFILE, has its own defaults.
    ok(
        jules(
            run_jules,
            server,
            "--profile",
            "work",
            "config",
            "set",
            "repo",
            "octo-org/data-pipeline",
        )
    )
    ok(jules(run_jules, server, "session", "new", "Work", env={"JULES_PROFILE": "work"}))
    assert posted(server) == [
        {
            "prompt": "Work",
            "sourceContext": {
                "source": "sources/github/octo-org/data-pipeline",
                "githubRepoContext": {"startingBranch": "master"},
            },
        }
    ]


# -- session list -----------------------------------------------------------------------


def _many_sessions(server, count: int) -> None:
    """`count` sessions in several states and repositories, all settled."""
    for number in range(count):
        kind = number % 4
        prompt = [
            f"Task {number}",
            f"Task {number} [ask]",
            f"Task {number} [fail]",
            f"Task {number}",
        ][kind]
        fields = with_source([HELLO, WEBAPP][number % 2]) if kind != 3 else {}
        create(server, prompt, **fields)
    server.settle()


def test_session_list_is_newest_first_over_every_page(run_jules, emulator_server):
    server = emulator_server
    _many_sessions(server, 130)
    expected = served_all(server, "sessions", "sessions")
    assert len(expected) == 130
    server.clear_requests()

    result = ok(jules(run_jules, server, "session", "list", "--json"))
    same_json(result.stdout, expected)
    times = [s["createTime"] for s in json.loads(result.stdout)]
    assert times == sorted(times, reverse=True)
    assert api_calls(server) == [("GET", "sessions")] * 2
    server.clear_requests()

    limited = ok(jules(run_jules, server, "session", "list", "--limit", "7", "--json"))
    same_json(limited.stdout, expected[:7])
    assert api_calls(server) == [("GET", "sessions")]  # one page, not two
    server.clear_requests()

    quiet = ok(jules(run_jules, server, "session", "list", "-q", "-L", "3"))
    assert quiet.stdout.split() == [s["id"] for s in expected[:3]]

    pipe = ok(jules(run_jules, server, "session", "list", "--limit", "4"))
    no_ansi(pipe.stdout)
    rows = [line.split("\t") for line in pipe.stdout.splitlines()]
    assert [row[0] for row in rows] == [s["id"] for s in expected[:4]]
    assert [row[1] for row in rows] == [s["state"] for s in expected[:4]]
    assert [row[4] for row in rows] == [s["createTime"] for s in expected[:4]]  # RFC 3339

    terminal = ok(jules(run_jules, server, "session", "list", "--limit", "4", env=TERMINAL))
    assert ANSI in terminal.stdout
    assert RELATIVE.search(terminal.stdout) and not RFC3339.search(terminal.stdout)
    assert "\x1b[32mCOMPLETED" in terminal.stdout or "\x1b[1;31mFAILED" in terminal.stdout


def test_session_list_filters_by_state_repo_and_archived(run_jules, emulator_server):
    server = emulator_server
    _many_sessions(server, 16)
    everything = served_all(server, "sessions", "sessions")
    archived_one = everything[0]["id"]
    server.emulator.archive_session(archived_one)
    visible = [s for s in everything if s["id"] != archived_one]

    def listed(*args: str) -> list[str]:
        return ok(jules(run_jules, server, "session", "list", "-q", *args)).stdout.split()

    assert listed("--state", "failed") == [s["id"] for s in visible if s["state"] == "FAILED"]
    assert listed("--state", "completed,awaiting_user_feedback") == [
        s["id"] for s in visible if s["state"] in ("COMPLETED", "AWAITING_USER_FEEDBACK")
    ]
    webapp = [s["id"] for s in visible if (s.get("sourceContext") or {}).get("source") == WEBAPP]
    assert listed("--repo", "jules-demo/webapp") == webapp
    assert listed("--repo", "jules-demo/webapp", "--state", "FAILED", "--state", "COMPLETED") == [
        s["id"] for s in visible if s["id"] in webapp and s["state"] in ("FAILED", "COMPLETED")
    ]
    assert listed("--archived") == [archived_one]
    assert listed("--all") == [s["id"] for s in everything]
    filters = [r["query"].get("filter") for r in server.requests()]
    assert "archived = true" in filters

    fails(jules(run_jules, server, "session", "list", "--state", "sleeping"), 2)


def test_session_list_relative_times_in_a_terminal(run_jules, emulator_server_factory):
    three_hours_ago = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3 * 3600))
    server = emulator_server_factory(
        seed={
            "sessions": [
                {
                    "id": "1001",
                    "prompt": "An old one",
                    "state": "COMPLETED",
                    "createTime": three_hours_ago,
                    "sourceContext": {"source": HELLO},
                }
            ]
        }
    )
    created = served(server, "sessions/1001")["createTime"]
    terminal = ok(jules(run_jules, server, "session", "list", env=TERMINAL))
    assert "3h ago" in terminal.stdout and not RFC3339.search(terminal.stdout)
    pipe = ok(jules(run_jules, server, "session", "list"))
    assert pipe.stdout == f"1001\tCOMPLETED\tAn old one\tjules-demo/hello-world\t{created}\n"


def test_no_color_in_a_terminal_is_plain_text(run_jules, emulator_server):
    server = emulator_server
    create(server, "Colourless", **with_source(HELLO))
    server.settle()
    for extra_args, extra_env in ((["--no-color"], {}), ([], {"NO_COLOR": "1"})):
        env = {**TERMINAL, **extra_env}
        result = ok(jules(run_jules, server, *extra_args, "session", "list", env=env))
        no_ansi(result.stdout)
        # Still the terminal layout: a table with relative times.
        assert "COMPLETED" in result.stdout and "just now" in result.stdout


def test_session_list_empty(run_jules, emulator_server):
    result = ok(jules(run_jules, emulator_server, "session", "list"))
    assert result.stdout == "" and "No sessions" in result.stderr
    same_json(ok(jules(run_jules, emulator_server, "session", "list", "--json")).stdout, [])


# -- session show -----------------------------------------------------------------------


def test_session_show_a_completed_session_with_its_pull_request(run_jules, emulator_server):
    server = emulator_server
    sid = create(server, "Add a greeting", automationMode="AUTO_CREATE_PR", **with_source(WEBAPP))[
        "id"
    ]
    server.settle()
    session = served(server, f"sessions/{sid}")
    pr_url = session["outputs"][0]["pullRequest"]["url"]

    for form in (sid, f"sessions/{sid}"):
        same_json(ok(jules(run_jules, server, "session", "show", form, "--json")).stdout, session)

    pipe = ok(jules(run_jules, server, "session", "show", sid))
    no_ansi(pipe.stdout + pipe.stderr)
    fields = dict(line.split("\t", 1) for line in pipe.stdout.splitlines())
    assert fields["ID"] == sid
    assert fields["State"] == "COMPLETED"
    assert fields["Title"] == "Add a greeting"
    assert fields["Prompt"] == "Add a greeting"
    assert fields["Repo"] == "jules-demo/webapp"
    assert fields["Branch"] == "main"
    assert fields["Created"] == session["createTime"]
    assert fields["Updated"] == session["updateTime"]
    assert fields["URL"] == session["url"]
    assert fields["Pull request"] == pr_url

    terminal = ok(jules(run_jules, server, "session", "show", sid, env=TERMINAL))
    assert "\x1b[32mCOMPLETED" in terminal.stdout  # green
    assert "finished" in terminal.stdout  # the state in plain words
    assert pr_url in terminal.stdout and RELATIVE.search(terminal.stdout)
    assert not RFC3339.search(terminal.stdout)


def test_session_show_says_what_to_do_when_the_session_waits(run_jules, emulator_server):
    server = emulator_server
    asking = create(server, "Ask me [ask]", **with_source(HELLO))["id"]
    planned = create(server, "Plan first", requirePlanApproval=True, **with_source(HELLO))["id"]
    server.settle()

    terminal = ok(jules(run_jules, server, "session", "show", asking, env=TERMINAL))
    assert "AWAITING_USER_FEEDBACK" in terminal.stdout and "\x1b[1;33m" in terminal.stdout
    assert "asked a question" in terminal.stdout
    assert f"jules session send {asking}" in terminal.stdout

    pipe = ok(jules(run_jules, server, "session", "show", planned))
    no_ansi(pipe.stdout + pipe.stderr)
    assert "State\tAWAITING_PLAN_APPROVAL" in pipe.stdout.splitlines()
    # The next step is a diagnostic: on stderr, so stdout stays parseable.
    assert f"jules session approve {planned}" in pipe.stderr


def test_session_show_unknown_is_exit_3(run_jules, emulator_server):
    error = fails(jules(run_jules, emulator_server, "session", "show", "123456"), 3)
    assert "123456" in error or "not found" in error.lower()
    fails(jules(run_jules, emulator_server, "session", "show", "not an id"), 2)


# -- approve, send, archive, unarchive, delete -------------------------------------------


def test_session_approve_prints_the_session_after_the_call(run_jules, emulator_server):
    server = emulator_server
    sid = create(server, "Plan first", requirePlanApproval=True, **with_source(HELLO))["id"]
    server.settle()
    server.clear_requests()
    result = ok(jules(run_jules, server, "session", "approve", sid, "--json"))
    assert ("POST", f"sessions/{sid}:approvePlan") in api_calls(server)
    printed = json.loads(result.stdout)
    assert printed["state"] == "IN_PROGRESS"
    assert printed["id"] == sid and set(printed) >= {"name", "title", "createTime", "prompt"}

    # Nothing waits for approval any more: the API refuses, exit 5.
    error = fails(jules(run_jules, server, "session", "approve", sid), 5)
    assert "FAILED_PRECONDITION" in error


def test_session_send_from_the_argument_dash_and_a_pipe(run_jules, emulator_server):
    server = emulator_server
    sid = create(server, "Ask me [ask]", **with_source(HELLO))["id"]
    server.settle()
    result = ok(jules(run_jules, server, "session", "send", sid, "Yes, add a test", "--json"))
    assert json.loads(result.stdout)["state"] == "IN_PROGRESS"
    pipe = ok(jules(run_jules, server, "session", "send", sid, "-", input="From dash\n"))
    no_ansi(pipe.stdout + pipe.stderr)
    ok(jules(run_jules, server, "session", "send", sid, input="Piped\n"))
    assert posted(server, f"sessions/{sid}:sendMessage") == [
        {"prompt": "Yes, add a test"},
        {"prompt": "From dash"},
        {"prompt": "Piped"},
    ]
    server.clear_requests()
    fails(jules(run_jules, server, "session", "send", sid, input=""), 2)
    assert server.requests() == []


def test_archive_unarchive_and_list(run_jules, emulator_server):
    server = emulator_server
    first = create(server, "One", **with_source(HELLO))["id"]
    second = create(server, "Two", **with_source(HELLO))["id"]
    server.settle()

    result = ok(jules(run_jules, server, "session", "archive", first, "--json"))
    same_json(result.stdout, served(server, f"sessions/{first}"))
    assert json.loads(result.stdout)["archived"] is True
    listed = ok(jules(run_jules, server, "session", "list", "-q")).stdout.split()
    assert listed == [second]

    both = ok(jules(run_jules, server, "session", "unarchive", first, f"sessions/{second}"))
    assert f"Unarchived {first}" in both.stderr
    assert posted(server, f"sessions/{first}:unarchive") == [{}]
    listed = ok(jules(run_jules, server, "session", "list", "-q")).stdout.split()
    assert listed == [second, first]

    fails(jules(run_jules, server, "session", "archive", "999"), 3)


def test_delete_needs_yes_without_a_terminal(run_jules, emulator_server):
    server = emulator_server
    sid = create(server, "Doomed", **with_source(HELLO))["id"]
    server.clear_requests()
    error = fails(jules(run_jules, server, "session", "delete", sid), 2)
    assert "--yes" in error
    assert server.requests() == []  # nothing sent

    result = ok(jules(run_jules, server, "session", "delete", sid, "--yes"))
    assert api_calls(server) == [("DELETE", f"sessions/{sid}")]
    assert f"Deleted {sid}" in result.stderr
    fails(jules(run_jules, server, "session", "show", sid), 3)


# -- activities -------------------------------------------------------------------------


def _busy_session(server) -> str:
    sid = create(
        server,
        "Everything [ask] [bash-fail] [media] [unknown-kind]",
        **with_source(HELLO),
    )["id"]
    server.settle()
    server.emulator.send_message(sid, {"prompt": "Yes please"})
    server.settle()
    return sid


# It renders bashOutput artifacts, so the emulator must send them whatever the run's
# --emulator-bash-output (the live API may not, jules-api.md 13).
@pytest.mark.parametrize("emulator_bash_output", [True], ids=["bash-output"], indirect=True)
def test_activities_list_every_output_mode(run_jules, emulator_server):
    server = emulator_server
    sid = _busy_session(server)
    expected = served_all(server, f"sessions/{sid}/activities", "activities")
    times = [a["createTime"] for a in expected]
    assert times == sorted(times)

    same_json(ok(jules(run_jules, server, "activities", "list", sid, "--json")).stdout, expected)
    limited = ok(jules(run_jules, server, "activities", "list", sid, "--limit", "2", "--json"))
    same_json(limited.stdout, expected[:2])
    quiet = ok(jules(run_jules, server, "activities", "list", f"sessions/{sid}", "-q"))
    assert quiet.stdout.split() == [a["id"] for a in expected]

    pipe = ok(jules(run_jules, server, "activities", "list", sid))
    no_ansi(pipe.stdout)
    rows = [line.split("\t") for line in pipe.stdout.splitlines()]
    assert [row[0] for row in rows] == times
    assert [row[3] for row in rows] == [a["id"] for a in expected]
    kinds = [row[1] for row in rows]
    assert kinds[:2] == ["planGenerated", "planApproved"]
    assert {"agentMessaged", "userMessaged", "environmentSnapshotted", "sessionCompleted"} <= set(
        kinds
    )
    summaries = "\n".join(row[2] for row in rows)
    assert "plan with 4 steps" in summaries
    assert "(exit 1)" in summaries and "media: image/png" in summaries

    terminal = ok(jules(run_jules, server, "activities", "list", sid, env=TERMINAL))
    assert ANSI in terminal.stdout and "just now" in terminal.stdout

    # --since: only what came after that moment, and the filter reached the server.
    middle = expected[len(expected) // 2]["createTime"]
    server.clear_requests()
    since = ok(jules(run_jules, server, "activities", "list", sid, "--since", middle, "--json"))
    same_json(since.stdout, [a for a in expected if a["createTime"] > middle])
    assert server.requests()[-1]["query"]["filter"] == f'create_time>"{middle}"'


def _shown(run_jules, server, sid: str, activity: dict[str, Any], **kwargs) -> str:
    return ok(jules(run_jules, server, "activities", "show", sid, activity["id"], **kwargs)).stdout


# It renders bashOutput artifacts, so the emulator must send them whatever the run's
# --emulator-bash-output (the live API may not, jules-api.md 13).
@pytest.mark.parametrize("emulator_bash_output", [True], ids=["bash-output"], indirect=True)
def test_activities_show_renders_each_kind(run_jules, emulator_server):
    server = emulator_server
    sid = _busy_session(server)
    activities = served_all(server, f"sessions/{sid}/activities", "activities")

    def first(predicate) -> dict[str, Any]:
        return next(a for a in activities if predicate(a))

    def bash_with(code: int) -> dict[str, Any]:
        return first(
            lambda a: any(
                art.get("bashOutput", {}).get("exitCode", 0) == code
                for art in a.get("artifacts", [])
                if "bashOutput" in art
            )
        )

    plan = first(lambda a: "planGenerated" in a)
    printed = ok(jules(run_jules, server, "activities", "show", sid, plan["id"], "--json"))
    same_json(printed.stdout, plan)
    text = _shown(run_jules, server, sid, plan)
    no_ansi(text)
    assert "  1. Explore the repository" in text and "  4. Submit the change" in text

    question = first(lambda a: "agentMessaged" in a)
    assert question["agentMessaged"]["agentMessage"] in _shown(run_jules, server, sid, question)
    answer = first(lambda a: "userMessaged" in a)
    assert "Yes please" in _shown(run_jules, server, sid, answer)

    failing = _shown(run_jules, server, sid, bash_with(1))
    assert "$ python -m pytest -q" in failing and "exit code 1" in failing
    assert "ModuleNotFoundError" in failing  # the command's output

    media = _shown(run_jules, server, sid, first(lambda a: "media" in str(a.get("artifacts"))))
    assert "image/png" in media and "74 B" in media

    edited = first(lambda a: a.get("progressUpdated", {}).get("title") == "Edited files")
    text = _shown(run_jules, server, sid, edited)
    assert "Edited files" in text and "Changed hello.py." in text  # title and description
    assert "hello.py | 5 +++++" in text and "1 file changed, 5 insertions(+)" in text

    completed = first(lambda a: "sessionCompleted" in a)
    assert "2 files changed" in _shown(run_jules, server, sid, completed)

    unknown = first(lambda a: "environmentSnapshotted" in a)
    text = _shown(run_jules, server, sid, unknown)
    assert "environmentSnapshotted" in text and "snap-0001" in text
    assert "The environment was snapshotted." in text
    untitled = first(lambda a: "progressUpdated" in a and "title" not in a["progressUpdated"])
    assert "A progress update that has no title." in _shown(run_jules, server, sid, untitled)

    terminal = _shown(run_jules, server, sid, plan, env=TERMINAL)
    assert ANSI in terminal and "1. Explore the repository" in terminal

    fails(jules(run_jules, server, "activities", "show", sid, "0" * 32), 3)


def test_failed_session_renders_its_reason(run_jules, emulator_server):
    server = emulator_server
    sid = create(server, "Doomed [fail:the tests do not run]", **with_source(HELLO))["id"]
    server.settle()
    failed = [
        a
        for a in served_all(server, f"sessions/{sid}/activities", "activities")
        if "sessionFailed" in a
    ][0]
    assert "Reason: the tests do not run" in _shown(run_jules, server, sid, failed)
    terminal = ok(jules(run_jules, server, "session", "show", sid, env=TERMINAL))
    assert "\x1b[1;31mFAILED" in terminal.stdout


ODD_ACTIVITIES = [
    {"originator": "agent", "planGenerated": {"plan": {"steps": [{"title": "Only"}, "junk"]}}},
    {"originator": "agent", "planGenerated": {}},
    {"originator": "agent", "progressUpdated": None},
    {"originator": "agent", "agentMessaged": {}},
    {"originator": "user", "userMessaged": {"userMessage": ""}},
    {"originator": "agent", "sessionFailed": {}},
    {"originator": "system", "futureKind": {"nested": {"deep": [1, 2, 3]}}},
    {"originator": "system"},
    {
        "originator": "agent",
        "progressUpdated": {"title": "Odd artifacts"},
        "artifacts": [
            {"changeSet": {}},
            {"changeSet": {"gitPatch": {"unidiffPatch": "not a diff at all"}}},
            {"bashOutput": {}},
            {"media": {"data": "!!! not base64 !!!"}},
            {"media": {}},
            {"futureArtifact": {"x": 1}},
            "junk",
        ],
    },
]


def test_odd_and_unknown_shapes_are_shown_never_a_crash(run_jules, emulator_server_factory):
    server = emulator_server_factory(
        seed={
            "sessions": [
                {
                    "id": "2002",
                    "prompt": "Odd",
                    "state": "COMPLETED",
                    "outputs": [
                        {"futureOutput": {"x": 1}},
                        {"pullRequest": {"url": "https://github.com/o/r/pull/7"}},
                        {"changeSet": {"gitPatch": {}}},
                    ],
                    "activities": ODD_ACTIVITIES,
                }
            ]
        }
    )
    activities = served_all(server, "sessions/2002/activities", "activities")
    assert len(activities) == len(ODD_ACTIVITIES)
    listed = ok(jules(run_jules, server, "activities", "list", "2002", "--json"))
    same_json(listed.stdout, activities)
    listed_pipe = ok(jules(run_jules, server, "activities", "list", "2002")).stdout
    ok(jules(run_jules, server, "activities", "list", "2002", env=TERMINAL))
    for env in ({}, TERMINAL):
        shown = ok(jules(run_jules, server, "session", "show", "2002", env=env))
        assert "https://github.com/o/r/pull/7" in shown.stdout
    for activity in (activities[0], activities[2], activities[7]):  # one step, null, no kind
        assert activity["id"] in _shown(run_jules, server, "2002", activity)
    unknown = next(a for a in activities if "futureKind" in a)
    text = _shown(run_jules, server, "2002", unknown, env=TERMINAL)
    assert "futureKind" in text and "deep" in text
    odd_artifacts = _shown(run_jules, server, "2002", activities[-1])
    assert "futureArtifact" in odd_artifacts and '"x": 1' in odd_artifacts
    summaries = [row.split("\t")[2] for row in listed_pipe.splitlines()]
    assert summaries[:2] == ["plan with 1 step: Only", "plan with no steps"]
    assert summaries[7] == "activity of no known kind"


def test_hostile_content_never_reaches_the_terminal_raw(run_jules, emulator_server):
    server = emulator_server
    sid = create(server, "Trouble [hostile]", **with_source(HELLO))["id"]
    server.settle()
    hostile = [
        a
        for a in served_all(server, f"sessions/{sid}/activities", "activities")
        if "Red alert" in a.get("progressUpdated", {}).get("title", "")
    ][0]
    raw = ("\x1b]0;", "\x1b[2J", "\x1b[1;1H", "\x1b[31mRed", "\x07", "\r")
    for extra in ({}, TERMINAL):
        listing = ok(jules(run_jules, server, "activities", "list", sid, env=extra)).stdout
        shown = ok(
            jules(run_jules, server, "activities", "show", sid, hostile["id"], env=extra)
        ).stdout
        for output in (listing, shown):
            assert "Red alert" in output
            assert not any(sequence in output for sequence in raw), repr(output)
            if not extra:
                no_ansi(output)
    # --json keeps the API's text exactly (escaped by JSON).
    printed = ok(jules(run_jules, server, "activities", "show", sid, hostile["id"], "--json"))
    same_json(printed.stdout, hostile)


# -- jules api ----------------------------------------------------------------------------


def test_jules_api_raw_calls(run_jules, emulator_server):
    server = emulator_server
    for number in range(3):
        create(server, f"Session {number} [stall:queued]")
    sessions = served_all(server, "sessions", "sessions")
    sid = sessions[0]["id"]

    one = ok(jules(run_jules, server, "api", f"sessions/{sid}"))
    same_json(one.stdout, served(server, f"sessions/{sid}"))
    paged = ok(jules(run_jules, server, "api", "/sessions", "--paginate", "--param", "pageSize=1"))
    same_json(paged.stdout, {"sessions": sessions})
    server.clear_requests()

    archived = ok(
        jules(run_jules, server, "api", "-X", "POST", f"sessions/{sid}:archive", "-d", "{}")
    )
    same_json(archived.stdout, served(server, f"sessions/{sid}"))
    assert posted(server, f"sessions/{sid}:archive") == [{}]
    server.clear_requests()

    created = ok(
        jules(run_jules, server, "api", "sessions", "--data", "-", input='{"prompt": "Raw"}')
    )
    assert json.loads(created.stdout)["prompt"] == "Raw"
    assert posted(server) == [{"prompt": "Raw"}]
    server.clear_requests()

    fails(jules(run_jules, server, "api", "sessions", "-d", "{not json"), 2)
    assert server.requests() == []
    fails(jules(run_jules, server, "api", "sessions/1"), 3)
    fails(jules(run_jules, server, "api", "sessions", "--param", "bogus=1"), 5)


# -- auth and config ----------------------------------------------------------------------

RIGHT_KEY = "emulator-right-key-0123456789"
WRONG_KEY = "emulator-wrong-key-9876543210"


def test_auth_login_status_logout_against_a_key_checking_emulator(
    run_jules, emulator_server_factory, isolated_config
):
    server = emulator_server_factory(api_key=RIGHT_KEY)
    url = {"JULES_API_URL": server.url}
    config_file = isolated_config / "config.toml"
    outputs = []

    def run(*args: str, env: dict[str, str] | None = None, **kwargs):
        result = run_jules(*args, env={**url, **(env or {})}, **kwargs)
        assert "Traceback" not in result.stderr
        outputs.append(result.stdout + result.stderr)
        return result

    error = fails(run("auth", "login", "--with-key", input=WRONG_KEY + "\n"), 4)
    assert "nothing was stored" in error
    assert not config_file.exists()
    assert server.requests()[-1]["apiKey"] == WRONG_KEY  # it was checked with the API

    ok(run("auth", "login", "--with-key", input=RIGHT_KEY + "\n"))
    assert stat.S_IMODE(config_file.stat().st_mode) == 0o600
    assert RIGHT_KEY in config_file.read_text()

    status = ok(run("auth", "status", "--json"))
    assert json.loads(status.stdout) == {
        "profile": "default",
        "apiUrl": server.url,
        "source": "profile",
        "key": "emul...6789",
        "valid": True,
    }
    pipe = ok(run("auth", "status"))
    assert "Accepted\tyes" in pipe.stdout.splitlines()
    # The stored key is the one in force: other commands use it.
    ok(run("sources", "list"))
    assert server.requests()[-1]["apiKey"] == RIGHT_KEY

    fails(run("auth", "status", env={"JULES_API_KEY": WRONG_KEY}), 4)
    fails(run("auth", "login"), 2)  # no terminal to ask in

    ok(run("auth", "logout"))
    assert RIGHT_KEY not in config_file.read_text()
    server.clear_requests()
    fails(run("sessions", "list"), 4)  # no key: before any request
    assert server.requests() == []

    for text in outputs:
        assert RIGHT_KEY not in text and WRONG_KEY not in text


def test_config_commands(run_jules, emulator_server, isolated_config):
    server = emulator_server
    path = ok(jules(run_jules, server, "config", "path")).stdout.strip()
    assert path == str(isolated_config / "config.toml")
    ok(jules(run_jules, server, "config", "set", "repo", "jules-demo/webapp"))
    ok(jules(run_jules, server, "config", "set", "auto-pr", "yes"))
    assert ok(jules(run_jules, server, "config", "get", "auto-pr")).stdout == "true\n"
    same_json(
        ok(jules(run_jules, server, "config", "list", "--json")).stdout,
        {"repo": "jules-demo/webapp", "auto-pr": True},
    )
    pipe = ok(jules(run_jules, server, "config", "list"))
    assert pipe.stdout == "repo\tjules-demo/webapp\nauto-pr\ttrue\n"
    terminal = ok(jules(run_jules, server, "config", "list", env=TERMINAL))
    assert ANSI in terminal.stdout
    ok(jules(run_jules, server, "config", "unset", "repo"))
    fails(jules(run_jules, server, "config", "get", "repo"), 3)
    fails(jules(run_jules, server, "config", "set", "auto-pr", "maybe"), 2)
    fails(jules(run_jules, server, "config", "set", "api_key", "x"), 2)
    assert server.requests() == []


# -- exit codes, --debug, no tracebacks ------------------------------------------------------


def _dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def unreachable_run(tmp_path_factory):
    """`session show` against a port nobody listens on. The client retries a refused
    connection with backoff for several seconds, so it starts once, in the background,
    while the other tests of this module run."""
    env = {k: v for k, v in os.environ.items() if k not in _AMBIENT}
    env.update(
        JULES_CONFIG_DIR=str(tmp_path_factory.mktemp("unreachable")),
        JULES_API_URL=f"http://127.0.0.1:{_dead_port()}/v1alpha",
        JULES_API_KEY="key-for-a-dead-port",
    )
    process = subprocess.Popen(
        [*jules_command(), "--debug", "session", "show", "1234"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    yield process
    if process.poll() is None:
        process.kill()
    process.communicate()


@pytest.fixture(autouse=True)
def _start_the_unreachable_run_early(request):
    # Start the slow background run with the module's first test.
    if "unreachable_run" not in request.fixturenames:
        request.getfixturevalue("unreachable_run")


def test_connection_refused_is_exit_7_after_retries(unreachable_run):
    stdout, stderr = unreachable_run.communicate(timeout=60)
    assert unreachable_run.returncode == 7, stderr
    assert stdout == ""
    errors = [line for line in stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and "cannot connect" in errors[0]
    assert stderr.count("retrying in") == 4  # five tries in all
    assert "key-for-a-dead-port" not in stderr


def test_exit_codes_from_the_emulator(run_jules, emulator_server):
    server = emulator_server
    fails(jules(run_jules, server, "session", "show", "4040404"), 3)

    # No key: exit 4 before any request.
    server.clear_requests()
    error = fails(jules(run_jules, server, "session", "list", env={"JULES_API_KEY": ""}), 4)
    assert "JULES_API_KEY" in error and "jules auth login" in error
    assert server.requests() == []

    # The API refuses a request: exit 5.
    fails(jules(run_jules, server, "session", "new", "Bad [many:99999]", "--no-repo"), 5)

    # Rate limited on every try: exit 6 after the retries (Retry-After 0 keeps them fast).
    server.clear_requests()
    server.fault(status=429, retryAfter=0, times=20, method="GET", path="sessions")
    error = fails(jules(run_jules, server, "session", "list"), 6)
    assert "RESOURCE_EXHAUSTED" in error
    assert [r["status"] for r in server.requests()] == [429] * 5

    # A failing service: exit 7 after the same retries; permission denied: exit 4 at once.
    server.clear_requests()
    server.fault(status=503, retryAfter=0, times=5, path="sessions/*")
    fails(jules(run_jules, server, "session", "show", "1"), 7)
    assert [r["status"] for r in server.requests()] == [503] * 5
    server.fault(status=403, times=1)
    fails(jules(run_jules, server, "sources", "list"), 4)


def test_debug_traces_http_on_stderr_and_never_shows_the_key(run_jules, emulator_server):
    server = emulator_server
    secret = "AIza-very-secret-emulator-key-42"
    env = {"JULES_API_KEY": secret}
    sid = create(server, "Debug me [stall:queued]")["id"]

    result = ok(jules(run_jules, server, "--debug", "session", "show", sid, "--json", env=env))
    assert server.requests()[-1]["apiKey"] == secret  # sent, only as the header
    same_json(result.stdout, served(server, f"sessions/{sid}"))
    trace = [line for line in result.stderr.splitlines() if line.startswith("debug: ")]
    assert re.search(rf"GET {re.escape(server.url)}/sessions/{sid} -> 200 \(\d+ ms\)", trace[0])

    server.fault(status=503, times=1)
    retried = ok(jules(run_jules, server, "session", "list", env={**env, "JULES_DEBUG": "1"}))
    assert "-> 503" in retried.stderr and "retrying in" in retried.stderr

    # With --debug a traceback is allowed (CLI.md); still no key.
    failed = run_jules("--debug", "session", "show", "999", env={**server.env, **env})
    assert failed.returncode == 3
    assert "-> 404" in failed.stderr
    for output in (result, retried, failed):
        assert secret not in output.stdout + output.stderr
