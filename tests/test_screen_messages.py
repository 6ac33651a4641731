"""What a person reads about a session, on a real (emulated) screen: failures explained
with their reason and what to do next, a waiting session's question or plan, hints that
fit what the session did, and colours that make the important words stand out (and none
with NO_COLOR)."""

from __future__ import annotations

import sys

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pty")

from tests.screen import SIZE_IDS, SIZES, spawn  # noqa: E402

SOURCE = "sources/github/jules-demo/hello-world"
REASON = "the test suite does not run"

sizes = pytest.mark.parametrize(("cols", "rows"), SIZES, ids=SIZE_IDS)


def settled(handle, prompt: str, *, approval: bool = False) -> str:
    """A session of `prompt` that has gone as far as it goes on its own."""
    body: dict = {"prompt": prompt, "sourceContext": {"source": SOURCE}}
    if approval:
        body["requirePlanApproval"] = True
    sid = handle.emulator.create_session(body)["id"]
    handle.settle()
    return sid


def joined(lines: list[str]) -> str:
    """The lines as one string with the terminal's wrapping undone (for long commands)."""
    return "".join(lines)


def run(handle, *args: str, cols: int = 80, rows: int = 24, env: dict | None = None):
    with spawn(list(args), env={**handle.env, **(env or {})}, cols=cols, rows=rows) as term:
        code = term.wait()
    return code, term


# -- failures ---------------------------------------------------------------------------------


@sizes
def test_a_failed_session_in_the_live_view(emulator_server, cols, rows):
    sid = settled(emulator_server, f"Add a greeting [fail:{REASON}]")
    code, term = run(emulator_server, "activities", "tail", sid, cols=cols, rows=rows)
    assert code == 8, term
    lines = term.lines
    text = term.text
    # The reason, in the stream, in the panel and in the last line; never "FAILED failed".
    assert f"failed    session failed: {REASON}" in text
    assert f"Reason: {REASON}" in text
    assert f"Session {sid} FAILED: {REASON}" in joined(lines)
    assert "FAILED  failed" not in text and "is FAILED: failed" not in text
    # The step it failed on is marked as failed, not as the current one.
    assert any("[!]" in line and "failed here" in line for line in lines), term
    assert not any("[>]" in line for line in lines), term
    # And what to do: a message reopens a failed session.
    assert f'Next: a message reopens it: `jules session send {sid} "..."`' in joined(lines)
    # The reason stands out: red, not dim.
    style = term.style_at(REASON)
    assert style is not None and style.fg == "red" and not style.dim, style


def test_session_wait_on_a_failed_session_ends_with_the_reason(emulator_server):
    sid = settled(emulator_server, f"Add a greeting [fail:{REASON}]")
    code, term = run(emulator_server, "session", "wait", sid)
    assert code == 8, term
    assert f"Session {sid} FAILED: {REASON}" in joined(term.lines)
    assert f'jules session send {sid} "..."' in joined(term.lines)


@sizes
def test_session_show_of_a_failed_session_says_why_and_what_next(emulator_server, cols, rows):
    sid = settled(emulator_server, f"Add a greeting [fail:{REASON}]")
    code, term = run(emulator_server, "session", "show", sid, cols=cols, rows=rows)
    assert code == 0, term
    assert any(line.startswith("Reason") and REASON in line for line in term.lines), term
    assert f'jules session send {sid} "..."' in joined(term.lines)
    assert "(failed)" not in term.text
    # The plan as a checklist, with the step it failed on marked, as in the live view.
    failed = [line for line in term.lines if "[!]" in line]
    assert len(failed) == 1 and "failed here" in failed[0], term
    assert not any("[>]" in line for line in term.lines), term
    assert term.style_at("[!]").fg == "red", term


# -- a session waiting for the user -----------------------------------------------------------


@sizes
def test_session_show_of_a_question_shows_it_and_how_to_answer(emulator_server, cols, rows):
    sid = settled(emulator_server, "Add a greeting [ask]")
    code, term = run(emulator_server, "session", "show", sid, cols=cols, rows=rows)
    assert code == 0, term
    text = " ".join(term.lines)
    assert "Jules asks:" in term.text
    assert "should the new greeting also be covered by a test?" in text
    assert f'Next: answer with `jules session send {sid} "your reply"`' in joined(term.lines)
    style = term.style_at("Before I continue")
    assert style is not None and style.bold and not style.dim, style


@sizes
def test_session_show_of_a_plan_shows_it_and_how_to_approve(emulator_server, cols, rows):
    sid = settled(emulator_server, "Add a greeting", approval=True)
    code, term = run(emulator_server, "session", "show", sid, cols=cols, rows=rows)
    assert code == 0, term
    assert "The plan waiting for your approval:" in term.text
    assert "1. Explore the repository" in term.text and "4. Submit the change" in term.text
    assert f"`jules session approve {sid}`" in joined(term.lines)


def test_session_show_in_a_pipe_gives_the_question_on_one_line(emulator_server, run_jules):
    sid = settled(emulator_server, "Add a greeting [ask]")
    result = run_jules("session", "show", sid, env=emulator_server.env)
    assert result.returncode == 0, result.stderr
    question = [line for line in result.stdout.splitlines() if line.startswith("Question\t")]
    assert len(question) == 1 and "covered by a test?" in question[0]


# -- hints that fit -------------------------------------------------------------------------


def test_a_completed_session_without_a_change_is_not_told_to_get_it(emulator_server):
    sid = settled(emulator_server, "Look around [no-changes]")
    code, term = run(emulator_server, "session", "show", sid)
    assert code == 0, term
    assert "get the change" not in term.text
    assert "it made no change" in term.text
    code, term = run(emulator_server, "session", "diff", sid)
    assert code == 3, term
    assert f"session {sid} made no change" in joined(term.lines)
    assert "no patch yet" not in term.text


def test_a_completed_session_with_a_change_is_told_how_to_get_it(emulator_server):
    sid = settled(emulator_server, "Add a greeting")
    code, term = run(emulator_server, "session", "wait", sid)
    assert code == 0, term
    assert f"Session {sid} is COMPLETED." in joined(term.lines)
    assert f"`jules session diff {sid}`" in joined(term.lines)


# -- readability ----------------------------------------------------------------------------


def test_only_times_and_metadata_are_dim(emulator_server):
    sid = settled(emulator_server, "Add a greeting [bash-fail] [ask]")
    code, term = run(emulator_server, "activities", "tail", sid, "--no-follow")
    assert code == 0, term
    time_style = term.style_at(term.lines[0][:8])
    assert time_style is not None and time_style.dim
    question = term.style_at("Before I continue")
    assert question is not None and question.bold and not question.dim, question
    exit_code = term.style_at("(exit 1)")
    assert exit_code is not None and exit_code.fg == "red" and not exit_code.dim, exit_code
    command = term.style_at("$ python -m pytest")
    assert command is not None and not command.dim, command


def test_the_pull_request_url_stands_out(emulator_server):
    body = {
        "prompt": "Add a greeting",
        "sourceContext": {"source": SOURCE},
        "automationMode": "AUTO_CREATE_PR",
    }
    sid = emulator_server.emulator.create_session(body)["id"]
    emulator_server.settle()
    code, term = run(emulator_server, "session", "wait", sid)
    assert code == 0, term
    style = term.style_at("https://github.com/")
    assert style is not None and not style.dim and style.fg != "default", style


@pytest.mark.parametrize("how", ["NO_COLOR", "--no-color"])
def test_no_color_means_no_colour(emulator_server, how):
    sid = settled(emulator_server, f"Add a greeting [bash-fail] [fail:{REASON}]")
    env = {"NO_COLOR": "1"} if how == "NO_COLOR" else {}
    flags = ["--no-color"] if how == "--no-color" else []
    code, term = run(emulator_server, *flags, "activities", "tail", sid, env=env)
    assert code == 8, term
    for text in (REASON, "(exit 1)", "FAILED", "failed"):
        style = term.style_at(text)
        assert style is not None and style.fg == "default" and style.bg == "default", (text, style)


def test_activities_list_shows_a_failed_command_in_red(emulator_server):
    sid = settled(emulator_server, "Add a greeting [bash-fail]")
    code, term = run(emulator_server, "activities", "list", sid, cols=120, rows=40)
    assert code == 0, term
    style = term.style_at("(exit 1)")
    assert style is not None and style.fg == "red", (style, str(term))


def test_ctrl_c_in_session_wait_says_the_session_goes_on(emulator_server):
    sid = settled(emulator_server, "Work forever [stall]")
    with spawn(["session", "wait", sid], env=emulator_server.env) as term:
        term.expect(f"{sid}: IN_PROGRESS")
        term.interrupt()
        assert term.wait() == 130, term
    last = joined(term.lines[-2:])
    assert f"Stopped waiting; session {sid} goes on at Jules." in last, term
    assert f"`jules session wait {sid}`" in last
    assert "Error" not in term.text


def test_after_approving_the_hint_is_to_follow_not_to_approve_again(emulator_server):
    sid = settled(emulator_server, "Add a greeting", approval=True)
    code, term = run(emulator_server, "session", "approve", sid)
    assert code == 0, term
    assert f"Next: follow it with `jules activities tail {sid}`" in joined(term.lines)
    assert "jules session approve" not in term.text


def test_session_show_makes_the_pull_request_url_stand_out(emulator_server):
    body = {
        "prompt": "Add a greeting",
        "sourceContext": {"source": SOURCE},
        "automationMode": "AUTO_CREATE_PR",
    }
    sid = emulator_server.emulator.create_session(body)["id"]
    emulator_server.settle()
    code, term = run(emulator_server, "session", "show", sid)
    assert code == 0, term
    assert any(line.startswith("Pull request") for line in term.lines), term
    style = term.style_at("https://github.com/")
    assert style is not None and style.bold and style.fg == "cyan", style


def test_session_wait_on_a_question_ends_with_the_question(emulator_server):
    sid = settled(emulator_server, "Add a greeting [ask]")
    code, term = run(emulator_server, "session", "wait", sid)
    assert code == 9, term
    text = " ".join(term.lines)
    assert "Jules asks: Before I continue: should the new greeting also be covered" in text
    assert f'jules session send {sid} "your reply"' in joined(term.lines)


def test_session_show_in_a_pipe_gives_the_reason_on_one_line(emulator_server, run_jules):
    sid = settled(emulator_server, f"Add a greeting [fail:{REASON}]")
    result = run_jules("session", "show", sid, env=emulator_server.env)
    assert result.returncode == 0, result.stderr
    assert f"Reason\t{REASON}" in result.stdout.splitlines()
    assert f'jules session send {sid} "..."' in result.stderr


def test_ctrl_c_at_the_hidden_key_prompt_ends_its_line(tmp_path):
    # Echo is off at that prompt, so the terminal does not even show the ^C: the
    # message on the way out must not end up glued to the question.
    prompt = "Paste your Jules API key (input hidden): "
    with spawn(["auth", "login"], env={"JULES_CONFIG_DIR": str(tmp_path)}) as term:
        term.expect_prompt(prompt)
        term.interrupt()
        assert term.wait() == 130, term
    assert term.lines[0] == prompt.rstrip(), term
    assert term.lines[1:] == ["Error: interrupted"], term
    assert "Traceback" not in term.text


def test_ctrl_c_while_a_session_is_created_says_it_may_have_started(emulator_server):
    # The create request is on its way (the emulator holds it 2 s): stopping the command
    # does not stop it at Jules, and a started session costs one of the day's tasks.
    emulator_server.fault(delay=2, method="POST", path="/v1alpha/sessions", times=1)
    args = ["session", "new", "Add a greeting", "--repo", "jules-demo/hello-world", "--follow"]
    with spawn(args, env=emulator_server.env) as term:
        term.expect("creating the session")
        term.interrupt()
        assert term.wait() == 130, term
    text = " ".join(term.lines)
    assert "may have started at Jules anyway" in text, term
    assert "`jules session list --limit 5`" in joined(term.lines), term
    assert term.lines[-1] == "Error: interrupted", term
    assert "Traceback" not in term.text


def test_ctrl_c_before_any_create_says_nothing_of_a_session(emulator_server):
    emulator_server.fault(delay=2, method="GET", path="/v1alpha/sources*", times=1)
    args = ["session", "new", "Add a greeting", "--repo", "jules-demo/hello-world"]
    with spawn(args, env=emulator_server.env) as term:
        term.expect("Waiting for")
        term.interrupt()
        assert term.wait() == 130, term
    assert "may have started" not in term.text, term
    assert not any(r["method"] == "POST" for r in emulator_server.requests())
