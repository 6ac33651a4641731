"""End to end: following sessions (`session wait`, `activities tail`, `session new --wait /
--follow`, `session send --wait-reply`) with the installed `jules` against the emulator
over loopback, the way a script or a CI job runs it (no terminal: never a prompt).

The emulator runs at the fixture's speed (a default session takes about 0.3 s of real
time) and the commands poll a hundred times faster than the real quota allows
(JULES_POLL_SCALE, set by conftest.py), so each test takes well under a second. The
interactive prompts, which need a real terminal, are in test_e2e_pty.py.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import time

import pytest

from jules_cli.emulator import Emulator, start_server
from jules_cli.follow import activity_kind
from tests.conftest import jules_command

SOURCE = "sources/github/jules-demo/hello-world"
# Only a bound for a hung command; no assertion depends on how long anything takes.
HANG_LIMIT = 30.0


def create(handle, prompt: str, *, approval: bool = False, auto_pr: bool = False) -> str:
    """Start a session straight in the emulator (setup, not what is tested)."""
    body: dict = {
        "prompt": prompt,
        "sourceContext": {"source": SOURCE, "githubRepoContext": {"startingBranch": "main"}},
    }
    if approval:
        body["requirePlanApproval"] = True
    if auto_pr:
        body["automationMode"] = "AUTO_CREATE_PR"
    return handle.emulator.create_session(body)["id"]


def api_calls(handle, suffix: str) -> list[dict]:
    return [r for r in handle.requests() if r["method"] == "POST" and r["path"].endswith(suffix)]


def served_activities(handle, sid: str) -> list[dict]:
    """Every activity the emulator serves, all pages, oldest first."""
    found, token = [], None
    while True:
        page = handle.emulator.list_activities(sid, page_size=100, page_token=token)
        found += page.get("activities", [])
        token = page.get("nextPageToken")
        if not token:
            return found


@pytest.fixture
def jules(run_jules, emulator_server, monkeypatch):
    """run_jules pointed at the emulator server, with no CI variable and no forced TTY
    (so that a test adding CI=true, or --no-input, shows what that alone does)."""
    monkeypatch.delenv("CI", raising=False)

    def run(*args: str, env: dict[str, str] | None = None, **kwargs):
        return run_jules(*args, env={**emulator_server.env, **(env or {})}, **kwargs)

    return run


# -- session wait: every exit code ----------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "approval", "code", "final_state"),
    [
        ("Add a greeting", False, 0, "COMPLETED"),
        ("Add a greeting [fail:tests do not run]", False, 8, "FAILED"),
        ("Add a greeting [ask]", False, 9, "AWAITING_USER_FEEDBACK"),
        ("Add a greeting [pause]", False, 9, "PAUSED"),
        ("Add a greeting", True, 9, "AWAITING_PLAN_APPROVAL"),
    ],
)
def test_session_wait_exit_codes(
    emulator_server, jules, prompt, approval, code, final_state
) -> None:
    sid = create(emulator_server, prompt, approval=approval)
    result = jules("session", "wait", sid, "--json")
    assert result.returncode == code, result.stderr
    final = json.loads(result.stdout)
    assert final["id"] == sid and final["state"] == final_state
    # State changes are reported on stderr, never mixed into the JSON on stdout. (How many
    # there were depends on how far the session got before the command started.)
    assert f"{sid}: " in result.stderr and final_state in result.stderr
    assert "Traceback" not in result.stderr
    if code == 9:  # waiting for the user: the closing lines say what to run
        command = "approve" if final_state == "AWAITING_PLAN_APPROVAL" else "send"
        assert "Next: " in result.stderr and f"`jules session {command} {sid}" in result.stderr


def test_session_wait_timeout_exits_10_with_the_session_as_it_was(emulator_server, jules):
    sid = create(emulator_server, "Work forever [stall]")
    result = jules("session", "wait", sid, "--timeout", "0.4", "--json")
    assert result.returncode == 10, result.stderr
    assert json.loads(result.stdout)["state"] == "IN_PROGRESS"
    assert "timed out" in result.stderr


def test_session_wait_until_a_state_or_settled(emulator_server, jules):
    sid = create(emulator_server, "Ask first [ask]")
    reached = jules("session", "wait", sid, "--until", "awaiting_user_feedback")
    assert reached.returncode == 0, reached.stderr
    # `settled` stops at a session waiting for the user; the code still says where it is.
    settled = jules("session", "wait", f"sessions/{sid}", "--until", "settled")
    assert settled.returncode == 9, settled.stderr
    assert "AWAITING_USER_FEEDBACK" in settled.stderr


def test_session_wait_plain_prints_nothing_on_stdout(emulator_server, jules):
    sid = create(emulator_server, "Add a greeting")
    result = jules("session", "wait", sid)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert "COMPLETED" in result.stderr


@pytest.mark.parametrize(
    "args",
    [("--until", "soon"), ("--timeout", "ten minutes"), ("--timeout", "-5"), ("--interval", "0"),
     ("--interval", "0.5"), ("--interval", "0.999")],
)
def test_session_wait_usage_errors_send_no_request(emulator_server, jules, args):
    sid = create(emulator_server, "Add a greeting")
    emulator_server.clear_requests()
    result = jules("session", "wait", sid, *args)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("Error: ") and "Traceback" not in result.stderr
    assert emulator_server.requests() == []


def test_session_wait_unknown_session_exits_3(jules):
    result = jules("session", "wait", "424242")
    assert result.returncode == 3
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("Error: ")


# -- session new --wait / --follow, as in CI --------------------------------------------------


def test_ci_flow_new_wait_json_then_approve_then_wait(emulator_server, jules):
    ci = {"CI": "true"}
    started = jules(
        "session", "new", "Add a greeting", "--repo", "jules-demo/hello-world",
        "--require-approval", "--auto-pr", "--wait", "--json", env=ci,
    )  # fmt: skip
    assert started.returncode == 9, started.stderr
    session = json.loads(started.stdout)
    assert session["state"] == "AWAITING_PLAN_APPROVAL"
    assert "Approve this plan" not in started.stderr
    assert api_calls(emulator_server, ":approvePlan") == []

    sid = session["id"]
    approved = jules("session", "approve", sid, "--json", env=ci)
    assert approved.returncode == 0, approved.stderr
    done = jules("session", "wait", sid, "--json", env=ci)
    assert done.returncode == 0, done.stderr
    final = json.loads(done.stdout)
    assert final["state"] == "COMPLETED"
    pr_urls = [o["pullRequest"]["url"] for o in final["outputs"] if "pullRequest" in o]
    assert pr_urls and pr_urls[0].startswith("https://github.com/jules-demo/hello-world/pull/")
    assert f"Pull request: {pr_urls[0]}" in done.stderr


@pytest.mark.parametrize(
    ("prompt", "code", "state"),
    [("Add a greeting", 0, "COMPLETED"), ("Add a greeting [fail]", 8, "FAILED")],
)
def test_new_wait_json_prints_the_final_session(emulator_server, jules, prompt, code, state):
    result = jules(
        "session", "new", prompt, "--repo", "jules-demo/hello-world", "--wait", "--json"
    )
    assert result.returncode == code, result.stderr
    final = json.loads(result.stdout)
    assert final["state"] == state
    assert final["prompt"] == prompt


def test_new_wait_timeout_exits_10(jules):
    result = jules(
        "session", "new", "Never ends [stall]", "--no-repo", "--wait", "--timeout", "0.3",
        "--json",
    )  # fmt: skip
    assert result.returncode == 10, result.stderr
    assert json.loads(result.stdout)["state"] in ("QUEUED", "PLANNING", "IN_PROGRESS")


def test_new_parallel_wait_json_prints_every_final_session(jules):
    result = jules(
        "session", "new", "Add a greeting", "--no-repo", "--parallel", "2", "--wait", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    finals = json.loads(result.stdout)
    assert [s["state"] for s in finals] == ["COMPLETED", "COMPLETED"]
    assert len({s["id"] for s in finals}) == 2


def test_new_follow_json_streams_every_activity(emulator_server, jules):
    result = jules(
        "session", "new", "Add a greeting", "--repo", "jules-demo/hello-world", "--follow",
        "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    activities = [json.loads(line) for line in lines]
    kinds = [activity_kind(a) for a in activities]
    assert kinds[0] == "planGenerated" and kinds[-1] == "sessionCompleted"
    sid = activities[0]["name"].split("/")[1]
    served = served_activities(emulator_server, sid)
    assert activities == served  # unchanged, all fields, each once, oldest first


def test_new_follow_in_a_pipe_never_asks_and_exits_9(emulator_server, jules):
    # stdin has an answer ready, but no terminal means no prompt: the plan stays pending.
    result = jules(
        "session", "new", "Add a greeting", "--repo", "jules-demo/hello-world",
        "--require-approval", "--follow", input="y\n",
    )  # fmt: skip
    assert result.returncode == 9, result.stderr
    assert "Approve this plan" not in result.stderr + result.stdout
    assert "planGenerated" in result.stdout
    assert api_calls(emulator_server, ":approvePlan") == []


@pytest.mark.parametrize(
    ("env", "global_args"),
    [({"CI": "true"}, ()), ({}, ("--no-input",)), ({"JULES_NO_INPUT": "1"}, ())],
)
def test_forced_terminal_still_never_asks_in_ci_or_with_no_input(
    emulator_server, jules, env, global_args
):
    sid = create(emulator_server, "Ask me [ask]")
    result = jules(
        *global_args, "activities", "tail", sid,
        env={"JULES_TTY": "1", **env}, input="an answer\n",
    )  # fmt: skip
    assert result.returncode == 9, result.stderr
    assert "Your reply" not in result.stderr + result.stdout
    assert api_calls(emulator_server, ":sendMessage") == []


# -- activities tail ----------------------------------------------------------------------


# The live API may no longer send bashOutput artifacts (jules-api.md 13): following must
# work with and without them.
BOTH_BASH_MODES = pytest.mark.parametrize(
    "emulator_bash_output", [True, False], ids=["bash-output", "no-bash-output"], indirect=True
)


@BOTH_BASH_MODES
def test_tail_plain_lines_until_done(emulator_server, jules, emulator_bash_output):
    sid = create(emulator_server, "Add a greeting [bash-fail]")
    result = jules("activities", "tail", sid)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    served = served_activities(emulator_server, sid)
    assert len(lines) == len(served)
    assert "planGenerated" in lines[0] and "sessionCompleted" in lines[-1]
    assert all("\x1b" not in line for line in lines)  # a pipe gets no colour
    ran = [line for line in lines if "Ran bash command" in line]
    assert len(ran) == 2  # the install, then the failing test run
    if emulator_bash_output:
        assert "exit 1" in ran[1]  # the failing test run is visible in the stream


@BOTH_BASH_MODES
def test_tail_json_lines_are_the_api_objects(emulator_server, jules):
    sid = create(emulator_server, "Add a greeting [media]")
    result = jules("activities", "tail", sid, "--json")
    assert result.returncode == 0, result.stderr
    streamed = [json.loads(line) for line in result.stdout.splitlines()]
    assert streamed == served_activities(emulator_server, sid)


@pytest.mark.parametrize(
    ("prompt", "args", "code"),
    [
        ("Fails [fail]", (), 8),
        ("Asks [ask]", (), 9),
        ("Asks [ask]", ("--until", "settled"), 9),
        ("Asks [ask]", ("--until", "AWAITING_USER_FEEDBACK"), 0),
        ("Stalls [stall]", ("--timeout", "0.3"), 10),
    ],
)
def test_tail_exit_codes(emulator_server, jules, prompt, args, code):
    sid = create(emulator_server, prompt)
    result = jules("activities", "tail", sid, "--json", *args)
    assert result.returncode == code, result.stderr
    for line in result.stdout.splitlines():
        json.loads(line)


def test_tail_until_plan_approval_stops_after_the_plan(emulator_server, jules):
    sid = create(emulator_server, "Plan first", approval=True)
    result = jules("activities", "tail", sid, "--until", "AWAITING_PLAN_APPROVAL", "--json")
    assert result.returncode == 0, result.stderr
    streamed = [json.loads(line) for line in result.stdout.splitlines()]
    assert "planGenerated" in streamed[-1]


def test_tail_no_follow_prints_what_exists_and_returns(emulator_server, jules):
    sid = create(emulator_server, "Work forever [stall]")
    emulator_server.settle()
    existing = served_activities(emulator_server, sid)
    result = jules("activities", "tail", sid, "--no-follow", "--json")
    assert result.returncode == 0, result.stderr
    assert [json.loads(line) for line in result.stdout.splitlines()] == existing


def _read_lines(stream, count: int, process: subprocess.Popen) -> list[str]:
    """Read `count` lines from a pipe without blocking past HANG_LIMIT."""
    buffer = b""
    deadline = time.monotonic() + HANG_LIMIT
    while buffer.count(b"\n") < count:
        assert time.monotonic() < deadline, f"only got {buffer!r}"
        ready, _, _ = select.select([stream], [], [], 0.1)
        if ready:
            chunk = os.read(stream.fileno(), 65536)
            assert chunk, f"the stream ended early (exit {process.poll()}): {buffer!r}"
            buffer += chunk
    return buffer.decode().splitlines()


def _default_sigint() -> None:
    # A shell that starts jobs in the background ignores SIGINT for them, and the child
    # would inherit that; Python installs its KeyboardInterrupt handler only when SIGINT
    # is not ignored at start.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("json_mode", [True, False])
def test_tail_streams_each_line_at_once_and_ctrl_c_exits_130(emulator_server, json_mode):
    sid = create(emulator_server, "Work forever [stall]")
    emulator_server.settle()  # plan, approval, one command; then it stalls IN_PROGRESS
    existing = len(served_activities(emulator_server, sid))
    args = ["activities", "tail", sid] + (["--json"] if json_mode else [])
    env = {**os.environ, **emulator_server.env}
    process = subprocess.Popen(
        [*jules_command(), *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        preexec_fn=_default_sigint,
    )
    try:
        lines = _read_lines(process.stdout, existing, process)
        # The lines arrived while the command still runs: each was flushed at once.
        assert process.poll() is None
        if json_mode:
            assert "planGenerated" in json.loads(lines[0])
        else:
            assert "planGenerated" in lines[0]
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=HANG_LIMIT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130
    assert "Traceback" not in stderr.decode()
    assert "KeyboardInterrupt" not in stderr.decode()


# -- session send --wait-reply --------------------------------------------------------------


def test_send_wait_reply_prints_the_agents_answer(emulator_server, jules):
    sid = create(emulator_server, "Ask me [ask]")
    emulator_server.settle()
    result = jules(
        "session",
        "send",
        sid,
        "Yes, add a test.",
        "--wait-reply",
        "--timeout",
        "20",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Thanks! Carrying on with the task."
    sent = api_calls(emulator_server, ":sendMessage")
    assert [r["body"] for r in sent] == [{"prompt": "Yes, add a test."}]


def test_send_wait_reply_json_reads_the_message_from_stdin(emulator_server, jules):
    sid = create(emulator_server, "Ask me [ask]")
    emulator_server.settle()
    result = jules(
        "session", "send", sid, "-", "--wait-reply", "--json", "--timeout", "20",
        input="Piped answer\n",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    reply = json.loads(result.stdout)
    assert reply["agentMessaged"]["agentMessage"] == "Thanks! Carrying on with the task."
    assert api_calls(emulator_server, ":sendMessage")[0]["body"]["prompt"].strip() == (
        "Piped answer"
    )


def test_send_wait_reply_timeout_exits_10(emulator_server, jules):
    sid = create(emulator_server, "Ask me [ask]")
    emulator_server.settle()
    # [slow:10000] makes the emulated agent take minutes to answer.
    result = jules(
        "session",
        "send",
        sid,
        "later [slow:10000]",
        "--wait-reply",
        "--timeout",
        "0.5",
    )
    assert result.returncode == 10, result.stderr
    assert result.stdout == ""
    assert "no answer" in result.stderr


@pytest.mark.parametrize(
    "prompt",
    ["Busy [many:120]", "Busy [many:60] [same-time]", "Odd [unknown-kind]"],
    ids=["pages", "same-time", "unknown-kind"],
)
@BOTH_BASH_MODES
def test_tail_json_reports_every_activity_exactly_once(emulator_server, jules, prompt):
    # Several pages per poll, many activities sharing one createTime at the cursor, and
    # kinds this version does not know: each activity comes out once, unchanged.
    sid = create(emulator_server, prompt)
    result = jules("activities", "tail", sid, "--json")
    assert result.returncode == 0, result.stderr
    streamed = [json.loads(line) for line in result.stdout.splitlines()]
    assert streamed == served_activities(emulator_server, sid)


def test_a_message_reopens_a_completed_session_and_wait_follows_the_new_work(
    emulator_server, jules
):
    sid = create(emulator_server, "Add a greeting")
    emulator_server.settle()
    sent = jules("session", "send", sid, "Also add a changelog entry")
    assert sent.returncode == 0, sent.stderr
    waited = jules("session", "wait", sid, "--json")
    assert waited.returncode == 0, waited.stderr
    assert json.loads(waited.stdout)["state"] == "COMPLETED"
    diff = jules("session", "diff", sid, "--stat")
    assert "notes/follow-up-1.md" in diff.stdout  # the follow-up's work is in the patch


def test_tail_rides_out_rate_limits_and_dropped_connections(emulator_server, jules):
    sid = create(emulator_server, "Add a greeting [many:20]")
    emulator_server.fault(status=429, retryAfter=0, times=3, path=f"sessions/{sid}/activities")
    emulator_server.fault(drop=True, times=1, method="GET", path=f"sessions/{sid}")
    result = jules("activities", "tail", sid, "--json")
    assert result.returncode == 0, result.stderr
    streamed = [json.loads(line) for line in result.stdout.splitlines()]
    assert streamed == served_activities(emulator_server, sid)
    statuses = [r["status"] for r in emulator_server.requests()]
    assert statuses.count(429) == 3 and None in statuses  # the faults did happen


def test_send_wait_reply_right_after_create_waits_out_the_activities_404(run_jules):
    # The live API answers 404 for a new session's activities for a few seconds; here
    # that window is 100 simulated seconds, half a second of real time.
    handle = start_server(Emulator(speed=200, activities_404_seconds=100))
    try:
        sid = handle.emulator.create_session({"prompt": "Plan first", "requirePlanApproval": True})[
            "id"
        ]
        result = run_jules(
            "session", "send", sid, "Also update the README",
            "--wait-reply", "--timeout", "20",
            env=handle.env,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert (
            result.stdout.strip() == "Noted. Approve the plan when you are ready and I will start."
        )
        sent = [r for r in handle.requests() if r["path"].endswith(":sendMessage")]
        assert len(sent) == 1
    finally:
        handle.shutdown()


def test_send_wait_reply_to_an_unknown_session_sends_nothing(emulator_server, jules):
    result = jules("session", "send", "424242", "hello", "--wait-reply")
    assert result.returncode == 3, result.stderr
    assert api_calls(emulator_server, ":sendMessage") == []
