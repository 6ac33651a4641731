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
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from jules_cli.emulator import Emulator, ServerHandle, start_server
from jules_cli.states import WAITABLE_STATES
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
    process = start(["session", "wait", session_id], server)

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
    args = ["activities", "tail", session_id]
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
    # One whole row, whichever session is newest (the module's server is shared by the
    # tests an xdist worker happens to run before this one).
    rows = result.stdout.splitlines()
    assert len(rows) == 1 and rows[0].split("\t")[1] in WAITABLE_STATES


def test_activities_tail_json_into_head_exits_quietly(server):
    session_id = create_session(server, "Lots of progress [many:1000]")
    jules = shlex.join(jules_command())
    result = pipeline(f"{jules} activities tail {session_id} --json | head -1", server)
    assert result.stderr == "jules-status=0\n"
    assert json.loads(result.stdout)["name"].startswith(f"sessions/{session_id}/activities/")


# -- SIGINT, SIGTERM and SIGHUP at many points of `session apply` -----------------------------
#
# Whatever the moment and the signal, and whether it reaches the whole process group (a
# terminal's Ctrl-C, a job control `kill %1`) or the jules process alone (`kill PID`, a
# CI runner's time-out), an apply either finished (exit 0, the patch committed on its new
# branch) or ended by the signal with the checkout exactly as it was: files byte for byte,
# HEAD, branches, index, stash, and no lock file left behind.

BIG_SESSION = "4242"
BIG_FILES = 100


def _big_patch() -> str:
    parts = []
    for n in range(BIG_FILES):
        lines = [f"line {i} of generated module {n}\n" for i in range(120)]
        header = f"diff --git a/gen/m{n}.py b/gen/m{n}.py\nnew file mode 100644\n"
        parts.append(
            header
            + f"--- /dev/null\n+++ b/gen/m{n}.py\n@@ -0,0 +1,{len(lines)} @@\n"
            + "".join("+" + line for line in lines)
        )
    parts.append(
        "diff --git a/README.md b/README.md\n--- a/README.md\n+++ b/README.md\n"
        "@@ -1 +1,2 @@\n # demo\n+Generated modules live in gen/.\n"
    )
    return "".join(parts)


@pytest.fixture(scope="module")
def big_server() -> Iterator[ServerHandle]:
    change_set = {
        "changeSet": {
            "source": "sources/github/jules-demo/hello-world",
            "gitPatch": {"unidiffPatch": _big_patch(), "suggestedCommitMessage": "Add gen"},
        }
    }
    seed = {
        "sessions": [
            {
                "id": BIG_SESSION,
                "prompt": "Generate modules",
                "title": "Generate modules",
                "state": "COMPLETED",
                "outputs": [change_set],
            }
        ]
    }
    handle = start_server(Emulator(speed=200, seed=seed))
    try:
        yield handle
    finally:
        handle.shutdown()


@pytest.fixture
def busy_checkout(checkout: Path) -> Path:
    """A checkout with a second branch and a stash entry, which must survive too."""

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=checkout, check=True, capture_output=True)

    git("branch", "side")
    (checkout / "README.md").write_text("# demo\nstashed work\n")
    git("stash", "push", "-q", "-m", "keep me")
    (checkout / "notes.txt").write_text("untracked, untouched\n")
    return checkout


def full_state(folder: Path) -> tuple:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=folder, check=True, capture_output=True, text=True
        ).stdout

    files = {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if ".git" not in path.parts and path.is_file()
    }
    dirs = sorted(
        str(p.relative_to(folder))
        for p in folder.rglob("*")
        if p.is_dir() and ".git" not in p.parts
    )
    return (
        git("rev-parse", "HEAD"),
        git("symbolic-ref", "-q", "HEAD"),
        git("for-each-ref", "--format=%(refname) %(objectname)"),
        git("stash", "list"),
        git("ls-files", "--stage"),
        git("status", "--porcelain=v1", "--untracked-files=all"),
        files,
        dirs,
    )


def leftovers(folder: Path) -> list[str]:
    """Lock files and temporary files, in the checkout or its git folder."""
    return sorted(
        str(path.relative_to(folder))
        for path in folder.rglob("*")
        if path.name.endswith((".lock", ".tmp"))
    )


def slow_hook(folder: Path, name: str, marker: Path, seconds: float) -> None:
    hook = folder / ".git" / "hooks" / name
    hook.write_text(f"#!/bin/sh\ntouch {shlex.quote(str(marker))}\nsleep {seconds}\n")
    hook.chmod(0o755)


def signal_exit(code: int, signum: signal.Signals) -> bool:
    return code in (128 + signum, -signum)


def send(process: subprocess.Popen, signum: signal.Signals, to_group: bool) -> None:
    if to_group:
        os.killpg(process.pid, signum)
    else:
        os.kill(process.pid, signum)


APPLY = ["session", "apply", BIG_SESSION, "--auto-branch", "--commit"]


def assert_applied(folder: Path, before: tuple) -> None:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=folder, check=True, capture_output=True, text=True
        ).stdout

    assert git("symbolic-ref", "--short", "HEAD").startswith("jules/generate-modules-")
    assert git("rev-parse", "HEAD~1") == before[0]
    changed = git("diff", "--name-only", "HEAD~1", "HEAD").split()
    assert len(changed) == BIG_FILES + 1
    assert git("status", "--porcelain=v1", "--untracked-files=all") == "?? notes.txt\n"
    assert git("stash", "list") == before[3]


SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]


@pytest.mark.parametrize(
    ("hook", "signum", "to_group"),
    [
        ("post-checkout", signal.SIGINT, True),
        ("post-checkout", signal.SIGINT, False),
        ("post-checkout", signal.SIGTERM, False),
        ("post-checkout", signal.SIGHUP, True),
        ("pre-commit", signal.SIGTERM, True),
        ("pre-commit", signal.SIGHUP, False),
        ("commit-msg", signal.SIGINT, False),
        ("post-commit", signal.SIGTERM, False),
        ("post-commit", signal.SIGINT, True),
    ],
    ids=lambda value: getattr(value, "name", str(value)),
)
def test_a_signal_inside_a_slow_git_hook_leaves_the_checkout_as_it_was(
    big_server, busy_checkout, tmp_path, hook, signum, to_group
):
    before = full_state(busy_checkout)
    marker = tmp_path / "hook-started"
    slow_hook(busy_checkout, hook, marker, 30)
    process = start(APPLY, big_server, cwd=busy_checkout)
    wait_for(marker.exists, process, f"the {hook} hook")
    send(process, signum, to_group)
    stdout, stderr = process.communicate(timeout=30)
    message, code = (
        ("interrupted", 130)
        if signum == signal.SIGINT
        else (f"terminated ({signum.name})", 128 + signum)
    )
    assert process.returncode == code, stderr
    assert stderr.decode().endswith(f"Error: {message}\n"), stderr
    assert b"Traceback" not in stderr
    assert full_state(busy_checkout) == before
    assert leftovers(busy_checkout) == []


def test_a_signal_at_any_moment_of_a_large_apply_is_all_or_nothing(big_server, busy_checkout):
    """SIGINT, SIGTERM and SIGHUP in turn, at moments spread across a whole apply
    (measured first), mostly to the jules process alone: each run either finished or
    changed nothing."""
    before = full_state(busy_checkout)

    def reset() -> None:
        for args in (["checkout", "-q", "-f", "master"], ["checkout", "-q", "-f", "main"]):
            subprocess.run(["git", *args], cwd=busy_checkout, capture_output=True)
        branches = subprocess.run(
            ["git", "branch", "--list", "jules/*", "--format=%(refname:short)"],
            cwd=busy_checkout,
            capture_output=True,
            text=True,
        ).stdout.split()
        for branch in branches:
            subprocess.run(["git", "branch", "-D", branch], cwd=busy_checkout, capture_output=True)
        subprocess.run(["git", "clean", "-fdq", "-e", "notes.txt"], cwd=busy_checkout)
        assert full_state(busy_checkout) == before

    started = time.monotonic()
    finished = start(APPLY, big_server, cwd=busy_checkout)
    assert finished.wait(timeout=60) == 0, finished.stderr.read()
    duration = time.monotonic() - started
    reset()

    outcomes = set()
    steps = 9
    for step in range(steps):
        signum = SIGNALS[step % 3]
        process = start(APPLY, big_server, cwd=busy_checkout)
        time.sleep(duration * (0.2 + 0.9 * step / steps))
        send(process, signum, to_group=step % 4 == 3)
        stdout, stderr = process.communicate(timeout=30)
        assert b"Traceback" not in stderr
        assert leftovers(busy_checkout) == [], step
        if full_state(busy_checkout) != before:
            # All: the new branch with the whole patch committed, nothing else changed,
            # and said so (the signal may still end the process after that).
            outcomes.add("finished")
            assert process.returncode == 0 or signal_exit(process.returncode, signum)
            assert b"Applied the patch" in stderr, (step, stderr)
            assert_applied(busy_checkout, before)
            reset()
            continue
        # Or nothing: ended by the signal.
        outcomes.add("stopped")
        assert signal_exit(process.returncode, signum), (step, stderr)
    assert "stopped" in outcomes


def test_a_git_step_that_ignores_the_signal_is_killed_and_rolled_back(tmp_path, monkeypatch):
    """A hook that traps every signal: passed on, then killed after KILL_AFTER."""
    from jules_cli import signals

    monkeypatch.setattr(signals, "KILL_AFTER", 0.3)
    script = "trap '' INT TERM HUP; sleep 30"
    # Whatever this process had before (an earlier test in the same worker may have run
    # main(), which installs jules's own handlers) is what the held section puts back.
    before = signal.getsignal(signal.SIGTERM)
    started = time.monotonic()
    with pytest.raises(signals.Terminated), signals.held() as section:
        # Once the child's trap is set (the signal is held, then passed on to it).
        threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGTERM)).start()
        section.run(["sh", "-c", script], input=b"")
    assert time.monotonic() - started < 5
    assert section.child_killed
    assert signal.getsignal(signal.SIGTERM) == before


# -- SIGTERM while `session artifacts -o` writes ---------------------------------------------

MEDIA_SESSION = "5151"
MEDIA_COUNT = 8
MEDIA_BYTES = 1_500_000


@pytest.fixture(scope="module")
def media_server() -> Iterator[ServerHandle]:
    import base64

    activities = [
        {
            "id": f"m{n}",
            "originator": "agent",
            "progressUpdated": {"title": f"screenshot {n}"},
            "artifacts": [
                {
                    "media": {
                        "mimeType": "image/png",
                        "data": base64.b64encode(bytes([n]) * MEDIA_BYTES).decode(),
                    }
                }
            ],
        }
        for n in range(MEDIA_COUNT)
    ]
    seed = {
        "sessions": [
            {
                "id": MEDIA_SESSION,
                "prompt": "Take screenshots",
                "state": "COMPLETED",
                "activities": activities,
            }
        ]
    }
    handle = start_server(Emulator(speed=200, seed=seed))
    try:
        yield handle
    finally:
        handle.shutdown()


def test_a_signal_while_saving_artifacts_leaves_no_temporary_files(media_server, tmp_path):
    """The signal lands while a file is being written (its temporary file is seen): every
    file there afterwards is whole, and no `.tmp` is left."""
    target = tmp_path / "measure"
    measured = start(["session", "artifacts", MEDIA_SESSION, "-o", str(target)], media_server)
    assert measured.wait(timeout=120) == 0, measured.stderr.read()
    whole = {path.name: path.read_bytes() for path in target.iterdir()}
    assert len(whole) == MEDIA_COUNT

    caught = 0
    for step, signum in enumerate([signal.SIGTERM, signal.SIGHUP, signal.SIGTERM]):
        folder = tmp_path / f"run{step}"
        process = start(["session", "artifacts", MEDIA_SESSION, "-o", str(folder)], media_server)
        deadline = time.monotonic() + 60
        while process.poll() is None and time.monotonic() < deadline:
            try:
                writing = any(entry.name.endswith(".tmp") for entry in os.scandir(folder))
            except FileNotFoundError:
                writing = False
            if writing:
                os.kill(process.pid, signum)
                caught += 1
                break
        stdout, stderr = process.communicate(timeout=60)
        assert b"Traceback" not in stderr
        assert process.returncode == 0 or signal_exit(process.returncode, signum), stderr
        saved = list(folder.iterdir()) if folder.exists() else []
        assert [p.name for p in saved if p.name.startswith(".") or p.suffix == ".tmp"] == []
        for path in saved:
            assert path.read_bytes() == whole[path.name], path.name  # never half a file
    assert caught
