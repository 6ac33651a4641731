"""Ctrl-C and closed pipes, as a user or a shell pipeline delivers them to the installed
`jules`.

Ctrl-C is SIGINT to the whole foreground process group (so a `git` that jules runs gets it
too): each command starts in a session of its own and the test signals that group, once
the command has provably reached its blocking part (a delayed request taken by the
emulator, a poll in the request log, a first line of output, a git hook running). The
command must then exit 130 with one short line on stderr and leave nothing half done.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from jules_cli.emulator import Emulator, ServerHandle, start_server
from tests.conftest import jules_command

INTERRUPTED = "Error: interrupted\n"
LONG_TITLE = "Rename the configuration loader and document every option it reads " * 3
PIPE_SESSIONS = 600  # rows with a 200-character title: ~160 KB, far beyond a pipe buffer


@pytest.fixture(scope="module")
def server() -> Iterator[ServerHandle]:
    seed = {
        "sessions": [
            {"prompt": f"task {n}", "title": f"{n} {LONG_TITLE}", "state": "COMPLETED"}
            for n in range(PIPE_SESSIONS)
        ]
    }
    handle = start_server(Emulator(speed=200, seed=seed))
    try:
        yield handle
    finally:
        handle.app.clear_faults()
        handle.shutdown()


@pytest.fixture(autouse=True)
def no_faults_left(server: ServerHandle) -> Iterator[None]:
    yield
    server.app.clear_faults()


def create_session(server: ServerHandle, prompt: str) -> str:
    body = {
        "prompt": prompt,
        "sourceContext": {"source": "sources/github/jules-demo/hello-world"},
    }
    with httpx.Client(base_url=server.url + "/", headers={"X-Goog-Api-Key": "k"}) as http:
        session_id = http.post("sessions", json=body).raise_for_status().json()["id"]
    server.settle()
    return session_id


def _like_a_foreground_job() -> None:
    # Its own process group, so that the test's SIGINT reaches it and its git children
    # the way a terminal's Ctrl-C does; and SIGINT handled by default even when the tests
    # run in the background (where a shell starts jobs with SIGINT ignored, and Python
    # then installs no KeyboardInterrupt handler).
    os.setsid()
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(args: list[str], server: ServerHandle, cwd: Path | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [*jules_command(), *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **server.env},
        cwd=cwd,
        preexec_fn=_like_a_foreground_job,
    )


def wait_for(condition: Callable[[], bool], process: subprocess.Popen, what: str) -> None:
    """Poll until `condition` holds; fail early if the command ended first."""
    deadline = time.monotonic() + 30
    while not condition():
        if process.poll() is not None:
            stdout, stderr = process.communicate()
            pytest.fail(f"ended ({process.returncode}) before {what}: {stderr!r} {stdout!r}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def interrupt(process: subprocess.Popen) -> tuple[int, str, str]:
    """Ctrl-C: SIGINT to the process group; returns (exit code, stdout, stderr)."""
    os.killpg(process.pid, signal.SIGINT)
    try:
        stdout, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    return process.returncode, stdout.decode(), stderr.decode()


def assert_clean_interrupt(code: int, stderr: str) -> None:
    """Exit 130 and one line saying so, after whatever progress was shown before."""
    assert code == 130, stderr
    assert stderr.endswith(INTERRUPTED), stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    assert stderr.count("Error") == 1


def delayed_request_taken(server: ServerHandle) -> Callable[[], bool]:
    """True once the queued delay fault was taken: the request is in, awaiting its answer."""
    return lambda: not server.app.faults()


def test_ctrl_c_during_session_list(server):
    server.fault(delay=15, method="GET", path="sessions")
    process = start(["session", "list"], server)
    wait_for(delayed_request_taken(server), process, "the list request")
    code, stdout, stderr = interrupt(process)
    assert_clean_interrupt(code, stderr)
    assert stdout == ""


def test_ctrl_c_during_session_wait(server):
    session_id = create_session(server, "Stay busy [stall]")
    server.clear_requests()
    process = start(["session", "wait", session_id, "--interval", "0.05"], server)

    def polled_twice() -> bool:
        paths = [entry["path"] for entry in server.requests()]
        return paths.count(f"/v1alpha/sessions/{session_id}") >= 2

    wait_for(polled_twice, process, "the wait to poll")
    code, stdout, stderr = interrupt(process)
    assert_clean_interrupt(code, stderr)
    assert stdout == ""


@pytest.mark.parametrize("json_lines", [False, True], ids=["lines", "json"])
def test_ctrl_c_during_activities_tail(server, json_lines):
    session_id = create_session(server, "Stay busy [stall]")
    args = ["activities", "tail", session_id, "--interval", "0.05"]
    process = start([*args, "--json"] if json_lines else args, server)
    first = process.stdout.readline().decode()  # the activities so far are being shown
    assert first.endswith("\n")
    code, rest, stderr = interrupt(process)
    assert_clean_interrupt(code, stderr)
    lines = (first + rest).splitlines(keepends=True)
    assert all(line.endswith("\n") for line in lines)  # nothing half-written
    if json_lines:
        assert all(json.loads(line)["name"] for line in lines)


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    folder = tmp_path / "checkout"
    folder.mkdir()

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=folder, check=True, capture_output=True)

    git("init", "-q")
    git("config", "user.name", "Test")
    git("config", "user.email", "test@example.com")
    (folder / "README.md").write_text("# demo\n")
    git("add", "README.md")
    git("commit", "-q", "-m", "start")
    return folder


def checkout_state(folder: Path) -> tuple[str, str, list[str]]:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=folder, check=True, capture_output=True, text=True
        ).stdout

    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if ".git" not in p.parts)
    return git("rev-parse", "HEAD"), git("status", "--porcelain", "--untracked-files=all"), files


def test_ctrl_c_while_apply_downloads_the_patch_changes_nothing(server, checkout):
    session_id = create_session(server, "Add a greeting")
    before = checkout_state(checkout)
    server.fault(delay=15, method="GET", path="sessions/*")
    process = start(["session", "apply", session_id], server, cwd=checkout)
    wait_for(delayed_request_taken(server), process, "the session request")
    code, stdout, stderr = interrupt(process)
    assert_clean_interrupt(code, stderr)
    assert checkout_state(checkout) == before


def test_ctrl_c_while_apply_commits_rolls_the_checkout_back(server, checkout):
    """The interrupt lands while git itself runs (a slow pre-commit hook): the patch is
    already in the working tree and the index, and must be taken out again."""
    session_id = create_session(server, "Add a greeting")
    before = checkout_state(checkout)
    marker = checkout.parent / "hook-started"
    hook = checkout / ".git" / "hooks" / "pre-commit"
    hook.write_text(f"#!/bin/sh\ntouch {shlex.quote(str(marker))}\nsleep 30\n")
    hook.chmod(0o755)
    process = start(["session", "apply", session_id, "--commit"], server, cwd=checkout)
    wait_for(marker.exists, process, "the pre-commit hook")
    assert (checkout / "hello.py").exists()  # the patch is applied at this point
    code, stdout, stderr = interrupt(process)
    assert_clean_interrupt(code, stderr)
    assert checkout_state(checkout) == before
    assert not (checkout / ".git" / "index.lock").exists()


# -- pipes --------------------------------------------------------------------------


def pipeline(command: str, server: ServerHandle) -> subprocess.CompletedProcess[str]:
    """`command` in bash; jules's own exit status is reported on stderr's last line."""
    script = f'{command}; echo "jules-status=${{PIPESTATUS[0]}}" >&2'
    return subprocess.run(
        ["bash", "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, **server.env},
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def test_session_list_into_head_exits_quietly(server):
    jules = shlex.join(jules_command())
    result = pipeline(f"{jules} session list | head -1", server)
    assert result.stderr == "jules-status=0\n"
    assert len(result.stdout.splitlines()) == 1 and "\tCOMPLETED\t" in result.stdout


def test_activities_tail_json_into_head_exits_quietly(server):
    session_id = create_session(server, "Lots of progress [many:1000]")
    jules = shlex.join(jules_command())
    result = pipeline(f"{jules} activities tail {session_id} --json | head -1", server)
    assert result.stderr == "jules-status=0\n"
    assert json.loads(result.stdout)["name"].startswith(f"sessions/{session_id}/activities/")
