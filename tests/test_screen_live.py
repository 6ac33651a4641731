"""What a person sees of a live view (`session new --follow`, `activities tail`), rendered
by a VT100 emulator from what the installed `jules` wrote to a pseudo-terminal.

Nothing printed above the live panel is ever erased: after an answer at a prompt, the
scrollback holds the plan or question, the answer typed and one confirmation line, and the
view goes on below. Ctrl-C leaves no half-erased panel, and says what goes on at Jules.
"""

from __future__ import annotations

import sys

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pty")

from tests.screen import SIZE_IDS, SIZES, spawn  # noqa: E402

REPO = ("--repo", "jules-demo/hello-world")
SOURCE = "sources/github/jules-demo/hello-world"
PLAN_PROMPT = "Approve this plan? [Y/n, or type feedback]"
QUESTION = "should the new greeting also be covered by a test?"
STEPS = ("Explore the repository", "Implement the change", "Run the tests", "Submit the change")

sizes = pytest.mark.parametrize(("cols", "rows"), SIZES, ids=SIZE_IDS)


def create(handle, prompt: str, *, approval: bool = False) -> str:
    body: dict = {"prompt": prompt, "sourceContext": {"source": SOURCE}}
    if approval:
        body["requirePlanApproval"] = True
    return handle.emulator.create_session(body)["id"]


def index_of(lines: list[str], text: str, start: int = 0) -> int:
    """The index of the first line at or after `start` that contains `text`."""
    for index in range(start, len(lines)):
        if text in lines[index]:
            return index
    raise AssertionError(f"{text!r} not seen after line {start}:\n" + "\n".join(lines))


def in_order(lines: list[str], *texts: str) -> list[int]:
    """Each text is on a line below the previous one; their line indexes."""
    found, at = [], 0
    for text in texts:
        at = index_of(lines, text, at)
        found.append(at)
        at += 1
    return found


def no_panel_left_over(lines: list[str], panels: int) -> None:
    """Exactly `panels` whole panels are drawn (the final one): no stray border."""
    tops = [line for line in lines if line.startswith("╭")]
    bottoms = [line for line in lines if line.startswith("╰")]
    assert len(tops) == len(bottoms) == panels, "\n".join(lines)


@sizes
def test_after_approving_the_plan_everything_above_stays(emulator_server, cols, rows):
    args = ["session", "new", "Add a greeting module", *REPO, "--require-approval", "--follow"]
    with spawn(list(args), env=emulator_server.env, cols=cols, rows=rows) as term:
        term.expect_prompt(PLAN_PROMPT + " ")
        term.send_line("y")
        assert term.wait() == 0, term
        lines = term.lines
    sid = emulator_server.emulator.list_sessions()["sessions"][0]["id"]
    # The block `session new` printed, the plan with every step, the prompt with the
    # answer, the confirmation, then the activities and the final panel below them.
    in_order(
        lines,
        f"ID     {sid}",
        "URL    https://jules.google.com/session/",
        "Jules proposes this plan:",
        *(f"{n}. {step}" for n, step in enumerate(STEPS, 1)),
        f"{PLAN_PROMPT} y",
        "Plan approved.",
        "progress  Ran bash command",
        "completed session completed",
        "COMPLETED",
        "[x] 4. Submit the change",
        f"Session {sid} is COMPLETED.",
    )
    assert sum("Plan approved." in line for line in lines) == 1
    # The state at creation is not left standing above the live state (it went stale).
    assert not any(line.startswith("State") and "QUEUED" in line for line in lines), term
    no_panel_left_over(lines, 1)


@sizes
def test_feedback_is_confirmed_then_jules_answers_then_it_asks_again(emulator_server, cols, rows):
    sid = create(emulator_server, "Add a greeting", approval=True)
    with spawn(
        ["activities", "tail", sid], env=emulator_server.env, cols=cols, rows=rows
    ) as term:
        term.expect_prompt(PLAN_PROMPT + " ")
        term.send_line("Please also update the README")
        term.expect("Feedback sent: Please also update the README")
        # The view waits for Jules's answer, shows it, and only then asks again, about
        # the plan already shown above (it is not printed twice).
        term.expect_prompt("Approve the plan above? [Y/n, or type more feedback] ")
        term.send_line("y")
        assert term.wait() == 0, term
        lines = term.lines
    in_order(
        lines,
        "Jules proposes this plan:",
        f"{PLAN_PROMPT} Please also update the README",
        "Feedback sent: Please also update the README",
        "jules     Noted. Approve the plan when you are ready",
        "Approve the plan above? [Y/n, or type more feedback] y",
        "Plan approved.",
        "completed session completed",
    )
    assert sum("Jules proposes" in line for line in lines) == 1
    # The confirmation said it; the session's echo of the message is not repeated.
    assert not any("you       Please also update the README" in line for line in lines)
    no_panel_left_over(lines, 1)
    messages = [
        r["body"]["prompt"]
        for r in emulator_server.requests()
        if r["method"] == "POST" and r["path"].endswith(":sendMessage")
    ]
    assert messages == ["Please also update the README"]


@sizes
def test_feedback_answered_with_a_new_plan_shows_it_in_full_and_asks_about_it(
    emulator_server, cols, rows
):
    sid = create(emulator_server, "Add a greeting", approval=True)
    with spawn(
        ["activities", "tail", sid], env=emulator_server.env, cols=cols, rows=rows
    ) as term:
        term.expect_prompt(PLAN_PROMPT + " ")
        # [replan]: the emulated agent answers the feedback with a revised plan.
        term.send_line("Cover it with a test too [replan]")
        term.expect_prompt(PLAN_PROMPT + " ")  # asked again: about the new plan
        term.send_line("y")
        assert term.wait() == 0, term
        lines = term.lines
    in_order(
        lines,
        "Jules proposes this plan:",
        f"{PLAN_PROMPT} Cover it with a test too [replan]",
        "Feedback sent: Cover it with a test too [replan]",
        "plan      plan with 5 steps",
        "Jules proposes a new plan:",
        "4. Address your feedback",
        "Cover it with a test too",
        "5. Submit the change",
        f"{PLAN_PROMPT} y",
        "Plan approved.",
        "completed session completed",
    )
    assert sum("Jules proposes" in line for line in lines) == 2
    assert "Approve the plan above?" not in term.text  # the new plan is asked about as new
    no_panel_left_over(lines, 1)
    approved = [r for r in emulator_server.requests() if r["path"].endswith(":approvePlan")]
    assert len(approved) == 1


@sizes
def test_after_a_reply_the_question_and_the_answer_stay(emulator_server, cols, rows):
    sid = create(emulator_server, "Add a greeting [ask]")
    with spawn(
        ["activities", "tail", sid], env=emulator_server.env, cols=cols, rows=rows
    ) as term:
        term.expect_prompt("Your reply (empty to stop following): ")
        term.send_line("Yes, with one test.")
        assert term.wait() == 0, term
        lines = term.lines
    # The question is shown once, as its activity line (wrapped under its own first
    # word), and the prompt below it points at it instead of printing it again.
    asked = in_order(
        lines,
        "jules     Before I continue: should the new greeting also be covered",
        "Jules waits for your answer to the question above.",
        "Your reply (empty to stop following): Yes, with one test.",
        "Reply sent.",
        "jules     Thanks! Carrying on with the task.",
        "completed session completed",
        f"Session {sid} is COMPLETED.",
    )
    assert " ".join(" ".join(lines).split()).count(QUESTION) == 1, term
    assert "Jules asks:" not in term.text
    # Nothing but the blank line between the question and the prompt's heading, and the
    # question's wrapped part hangs under its first word, not under the time.
    assert lines[asked[1] - 1] == "", term
    wrapped = lines[asked[0] + 1 : asked[1] - 1]
    assert all(line.startswith(" " * 19) and line[19] != " " for line in wrapped), term
    no_panel_left_over(lines, 1)


@sizes
def test_a_question_asked_before_the_view_started_is_shown_once(emulator_server, cols, rows):
    sid = create(emulator_server, "Add a greeting [ask]")
    emulator_server.settle()  # the question is among the activities listed at the start
    with spawn(
        ["activities", "tail", sid], env=emulator_server.env, cols=cols, rows=rows
    ) as term:
        term.expect_prompt("Your reply (empty to stop following): ")
        lines = term.lines
        term.interrupt()
        assert term.wait() == 130, term
    assert " ".join(" ".join(lines).split()).count(QUESTION) == 1, term
    in_order(lines, QUESTION[:40], "question above.", "Your reply")


@sizes
def test_ctrl_c_while_following_clears_the_panel_and_says_the_session_goes_on(
    emulator_server, cols, rows
):
    sid = create(emulator_server, "Work forever [stall]")
    emulator_server.settle()
    with spawn(
        ["activities", "tail", sid], env=emulator_server.env, cols=cols, rows=rows
    ) as term:
        term.expect("IN_PROGRESS")
        term.expect("╰")  # the live panel is drawn
        term.interrupt()
        assert term.wait() == 130, term
        lines = term.lines
    no_panel_left_over(lines, 0)
    text = " ".join(lines[-3:])  # the last line, as the terminal wrapped it
    assert "goes on at Jules" in text and f"jules activities tail {sid}" in "".join(lines[-3:])
    assert "Error" not in term.text and "Traceback" not in term.text


@sizes
def test_ctrl_c_at_the_prompt_says_how_to_approve_later(emulator_server, cols, rows):
    sid = create(emulator_server, "Add a greeting", approval=True)
    with spawn(
        ["activities", "tail", sid], env=emulator_server.env, cols=cols, rows=rows
    ) as term:
        term.expect_prompt(PLAN_PROMPT + " ")
        term.interrupt()
        assert term.wait() == 130, term
        lines = term.lines
    in_order(lines, "Jules proposes this plan:", PLAN_PROMPT, "still waits for you")
    assert f"jules session approve {sid}" in "".join(lines[-3:])
    no_panel_left_over(lines, 0)
    assert "Error" not in term.text


def test_after_feedback_the_view_says_it_waits_for_the_answer(emulator_server):
    sid = create(emulator_server, "Add a greeting", approval=True)
    with spawn(["activities", "tail", sid], env=emulator_server.env, cols=80, rows=24) as term:
        term.expect_prompt(PLAN_PROMPT + " ")
        # [slow:100]: the emulated agent takes about 1.5 s to answer this message.
        term.send_line("Please also update the README [slow:100]")
        term.expect("Feedback sent: Please also update the README")
        term.expect("Waiting for Jules's answer to your feedback")
        assert "Approve the plan above?" not in term.text  # not asked again at once
        term.expect("jules     Noted.")
        term.expect_prompt("Approve the plan above? [Y/n, or type more feedback] ")
        term.expect_gone("Waiting for Jules's answer")
        term.send_line("n")
        assert term.wait() == 9, term


def test_with_json_on_the_screen_the_question_is_still_shown_for_reading(emulator_server):
    # `tail --json` in a terminal: the activity is a JSON line, so the prompt shows the
    # question itself, readable, once.
    sid = create(emulator_server, "Add a greeting [ask]")
    emulator_server.settle()
    with spawn(["activities", "tail", sid, "--json"], env=emulator_server.env) as term:
        term.expect_prompt("Your reply (empty to stop following): ")
        term.interrupt()
        assert term.wait() == 130, term
    lines = term.lines
    asked = index_of(lines, "Jules asks:")
    assert QUESTION[:40] in lines[asked + 1], term
    assert "question above" not in term.text
