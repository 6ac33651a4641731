"""End to end in a real pseudo-terminal: `session new --follow` and `activities tail` show
the live view, ask for plan approval or an answer to the agent's question, and send what
the user typed; Ctrl-C leaves with 130 and gives the terminal back.

The installed `jules` runs with the pty's slave as its stdin, stdout, stderr and
controlling terminal, so it sees exactly what an interactive user's shell gives it
(no JULES_TTY, no CI variable). The test plays the user on the master side and checks
what reached the emulator.
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import struct
import subprocess
import sys
import termios
import time

import pytest

from tests.conftest import jules_command
from tests.screen import become_terminal_session

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pty")

SOURCE = "sources/github/jules-demo/hello-world"
# Only a bound for a hung command; no assertion depends on how long anything takes.
HANG_LIMIT = 30.0
# With their trailing space: a test types only once the question is written whole.
PLAN_PROMPT = "Approve this plan? [Y/n, or type feedback] "
REPLY_PROMPT = "Your reply (empty to stop following): "
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


def plain(raw: bytes) -> str:
    return _ANSI.sub("", raw.decode("utf-8", "replace")).replace("\r", "")


class Terminal:
    """`jules ARGS` on a pseudo-terminal; the test reads the screen and types."""

    def __init__(
        self,
        args: list[str],
        env: dict[str, str],
        *,
        stdout_to_pipe: bool = False,
        rows: int = 50,
        cols: int = 120,
    ):
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        # `jules ... | tee log`: stdout a pipe, the user still at the terminal.
        self.pipe = subprocess.PIPE if stdout_to_pipe else slave
        self.process = subprocess.Popen(
            [*jules_command(), *args],
            stdin=slave,
            stdout=self.pipe,
            stderr=slave,
            env=env,
            preexec_fn=become_terminal_session,
            close_fds=True,
        )
        os.close(slave)
        self.master = master
        self.raw = b""
        self._seen = 0  # plain-text offset up to which expect() has matched

    @property
    def text(self) -> str:
        return plain(self.raw)

    def _read(self, wait: float) -> bool:
        """Read what is there; False once the child closed the terminal."""
        ready, _, _ = select.select([self.master], [], [], wait)
        if not ready:
            return True
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # EIO: every slave descriptor is closed
            return False
        self.raw += chunk
        return bool(chunk)

    def expect(self, text: str) -> None:
        """Wait until `text` appears after the previous match."""
        deadline = time.monotonic() + HANG_LIMIT
        while text not in self.text[self._seen :]:
            alive = self._read(0.05)
            if not alive and text not in self.text[self._seen :]:
                raise AssertionError(f"{text!r} never came; the screen:\n{self.text}")
            assert time.monotonic() < deadline, f"{text!r} never came; the screen:\n{self.text}"
        self._seen += self.text[self._seen :].index(text) + len(text)

    def type(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def finish(self) -> int:
        """Read to the end; the exit code."""
        deadline = time.monotonic() + HANG_LIMIT
        while self._read(0.05):
            if self.process.poll() is not None and not select.select([self.master], [], [], 0)[0]:
                break
            assert time.monotonic() < deadline, f"still running; the screen:\n{self.text}"
        return self.process.wait(timeout=HANG_LIMIT)

    def piped_output(self) -> str:
        """What went to stdout when it is a pipe (read after finish())."""
        return self.process.stdout.read().decode()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        os.close(self.master)


@pytest.fixture
def terminal(emulator_server):
    """Start `jules` in a pty against the emulator, as a user at a shell would."""
    opened: list[Terminal] = []
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "JULES_TTY", "NO_COLOR")}
    env.update(emulator_server.env, TERM="xterm-256color", COLUMNS="120", LINES="50")

    def start(
        *args: str, extra_env: dict[str, str] | None = None, stdout_to_pipe: bool = False
    ) -> Terminal:
        term = Terminal(list(args), {**env, **(extra_env or {})}, stdout_to_pipe=stdout_to_pipe)
        opened.append(term)
        return term

    yield start
    for term in opened:
        term.close()


def create(handle, prompt: str, *, approval: bool = False) -> str:
    body: dict = {"prompt": prompt, "sourceContext": {"source": SOURCE}}
    if approval:
        body["requirePlanApproval"] = True
    return handle.emulator.create_session(body)["id"]


def posted(handle, action: str) -> list[dict]:
    return [r for r in handle.requests() if r["method"] == "POST" and r["path"].endswith(action)]


def test_new_follow_shows_the_plan_asks_approval_and_ends_with_the_pr(emulator_server, terminal):
    term = terminal(
        "session", "new", "Add a greeting", "--repo", "jules-demo/hello-world",
        "--require-approval", "--auto-pr", "--follow",
    )  # fmt: skip
    term.expect("Jules proposes this plan")
    for step in ("Explore the repository", "Implement the change", "Submit the change"):
        term.expect(step)
    term.expect(PLAN_PROMPT)
    assert posted(emulator_server, ":approvePlan") == []
    term.type("\r")  # Enter: the default answer, yes
    term.expect("Plan approved.")
    assert term.finish() == 0, term.text
    screen = term.text
    session = emulator_server.emulator.list_sessions()["sessions"][0]
    assert len(posted(emulator_server, ":approvePlan")) == 1
    assert session["state"] == "COMPLETED"
    pr_url = session["outputs"][0]["pullRequest"]["url"]
    assert f"Pull request: {pr_url}" in screen
    # The live view's header and checklist, and the stream of activities.
    assert "elapsed" in screen and "[x] 4. Submit the change" in screen
    assert "session completed" in screen
    assert "Traceback" not in screen
    # The cursor Rich hid for the live view is shown again at the end.
    assert term.raw.rfind(b"\x1b[?25h") > term.raw.rfind(b"\x1b[?25l")


def test_plan_feedback_is_sent_then_the_plan_is_asked_again(emulator_server, terminal):
    sid = create(emulator_server, "Add a greeting", approval=True)
    term = terminal("activities", "tail", sid)
    term.expect(PLAN_PROMPT)
    term.type("Please also update the README\r")
    term.expect("Feedback sent: Please also update the README")
    # The agent acknowledges; the plan still waits, so the question comes back.
    term.expect("Approve the plan above? [Y/n, or type more feedback] ")
    term.type("y\r")
    term.expect("Plan approved.")
    assert term.finish() == 0, term.text
    messages = [r["body"]["prompt"] for r in posted(emulator_server, ":sendMessage")]
    assert messages == ["Please also update the README"]
    assert len(posted(emulator_server, ":approvePlan")) == 1


def test_declining_the_plan_stops_following_with_exit_9(emulator_server, terminal):
    sid = create(emulator_server, "Add a greeting", approval=True)
    term = terminal("activities", "tail", sid)
    term.expect(PLAN_PROMPT)
    term.type("n\r")
    term.expect(f"jules session approve {sid}")
    assert term.finish() == 9, term.text
    assert posted(emulator_server, ":approvePlan") == []
    assert posted(emulator_server, ":sendMessage") == []


def test_question_is_shown_and_the_reply_is_sent(emulator_server, terminal):
    sid = create(emulator_server, "Add a greeting [ask]")
    term = terminal("activities", "tail", sid)
    term.expect("should the new greeting also be covered by a test?")
    term.expect("Jules waits for your answer to the question above.")
    term.expect(REPLY_PROMPT)
    term.type("Yes, with one test.\r")
    term.expect("Reply sent.")
    assert term.finish() == 0, term.text
    assert [r["body"] for r in posted(emulator_server, ":sendMessage")] == [
        {"prompt": "Yes, with one test."}
    ]
    assert emulator_server.emulator.get_session(sid)["state"] == "COMPLETED"


def test_paused_session_takes_a_message_to_resume(emulator_server, terminal):
    sid = create(emulator_server, "Add a greeting [pause]")
    term = terminal("activities", "tail", sid)
    term.expect("The session is paused.")
    term.expect(REPLY_PROMPT)
    term.type("continue\r")
    term.expect("Reply sent.")
    assert term.finish() == 0, term.text
    assert [r["body"]["prompt"] for r in posted(emulator_server, ":sendMessage")] == ["continue"]


@pytest.mark.parametrize("keys", ["\r", "\x04"], ids=["empty-reply", "end-of-input"])
def test_no_reply_stops_following_with_exit_9(emulator_server, terminal, keys):
    sid = create(emulator_server, "Add a greeting [ask]")
    term = terminal("activities", "tail", sid)
    term.expect(REPLY_PROMPT)
    term.type(keys)
    assert term.finish() == 9, term.text
    assert posted(emulator_server, ":sendMessage") == []


@pytest.mark.parametrize(
    ("global_args", "extra_env"),
    [((), {"CI": "true"}), (("--no-input",), {})],
    ids=["CI", "no-input"],
)
def test_never_asks_in_ci_or_with_no_input(emulator_server, terminal, global_args, extra_env):
    term = terminal(
        *global_args, "session", "new", "Add a greeting", "--repo", "jules-demo/hello-world",
        "--require-approval", "--follow", extra_env=extra_env,
    )  # fmt: skip
    assert term.finish() == 9, term.text
    assert PLAN_PROMPT not in term.text
    assert "AWAITING_PLAN_APPROVAL" in term.text
    assert posted(emulator_server, ":approvePlan") == []


def test_session_wait_in_a_terminal_does_not_ask(emulator_server, terminal):
    sid = create(emulator_server, "Add a greeting [ask]")
    term = terminal("session", "wait", sid)
    assert term.finish() == 9, term.text
    assert REPLY_PROMPT not in term.text


def test_ctrl_c_while_following_exits_130_and_restores_the_terminal(emulator_server, terminal):
    sid = create(emulator_server, "Work forever [stall]")
    emulator_server.settle()
    term = terminal("activities", "tail", sid)
    term.expect("IN_PROGRESS")
    term.type("\x03")  # Ctrl-C, turned into SIGINT by the terminal
    assert term.finish() == 130, term.text
    assert "Traceback" not in term.text and "KeyboardInterrupt" not in term.text
    assert term.raw.rfind(b"\x1b[?25h") > term.raw.rfind(b"\x1b[?25l")


def test_ctrl_c_at_the_prompt_exits_130_without_answering(emulator_server, terminal):
    sid = create(emulator_server, "Add a greeting", approval=True)
    term = terminal("activities", "tail", sid)
    term.expect(PLAN_PROMPT)
    term.type("\x03")
    assert term.finish() == 130, term.text
    assert "Traceback" not in term.text
    # What follows starts on a line of its own, and the live view does not come back.
    after = term.text.split(PLAN_PROMPT, 1)[1].replace("^C", "")
    assert after.lstrip(" ").startswith("\n")
    assert b"\x1b[?25l" not in term.raw.split(PLAN_PROMPT.encode(), 1)[1]
    assert posted(emulator_server, ":approvePlan") == []
    assert posted(emulator_server, ":sendMessage") == []


def test_live_view_never_passes_api_control_characters_to_the_terminal(emulator_server, terminal):
    sid = create(emulator_server, "Add a greeting [hostile]")
    term = terminal("activities", "tail", sid)
    assert term.finish() == 0, term.text
    assert "Red alert" in term.text  # the hostile activity was shown...
    for sequence in (b"\x1b]0;", b"\x1b[2J", b"\x1b[1;1H", b"\x07"):
        assert sequence not in term.raw  # ...but none of its escapes reached the terminal


def test_stdout_in_a_pipe_still_asks_at_the_terminal(emulator_server, terminal):
    # `jules activities tail ID | tee log`: plain lines into the pipe, the plan and the
    # question on the terminal (stderr), the answer from the keyboard (stdin).
    sid = create(emulator_server, "Add a greeting", approval=True)
    term = terminal("activities", "tail", sid, stdout_to_pipe=True)
    term.expect("Jules proposes this plan")
    term.expect(PLAN_PROMPT)
    term.type("y\r")
    term.expect("Plan approved.")
    assert term.finish() == 0, term.text
    piped = term.piped_output()
    lines = piped.splitlines()
    assert "planGenerated" in lines[0] and "sessionCompleted" in lines[-1]
    assert "\x1b" not in piped
    assert "planGenerated" not in term.text  # the stream went to the pipe only
    assert len(posted(emulator_server, ":approvePlan")) == 1
