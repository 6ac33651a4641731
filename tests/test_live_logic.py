"""The logic behind the live view and the messages, without a terminal: what a session
waits on and why it failed (jules_cli.sessions), the hints (render.sessions.next_action),
the checklist (render.live.PlanProgress) and the answer prompts (cli.watch.answer_hook)."""

from __future__ import annotations

import io

import pytest

from jules_cli.cli import watch
from jules_cli.render.live import PlanProgress, Watcher
from jules_cli.render.output import Output
from jules_cli.render.sessions import next_action
from jules_cli.sessions import failure_reason, has_change, pending_plan, pending_question

PATCH = "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -0,0 +1 @@\n+x\n"


def plan(pid: str, *titles: str) -> dict:
    steps = [{"index": n, "title": t} for n, t in enumerate(titles)]
    return {"id": pid, "planGenerated": {"plan": {"id": pid, "steps": steps}}}


def agent(text: str) -> dict:
    return {"agentMessaged": {"agentMessage": text}}


def user(text: str) -> dict:
    return {"userMessaged": {"userMessage": text}}


APPROVED = {"planApproved": {}}


def test_failure_reason_is_the_newest_one():
    acts = [{"sessionFailed": {"reason": "first"}}, {"sessionFailed": {"reason": " second\n"}}]
    assert failure_reason(acts) == "second"
    assert failure_reason([{"sessionFailed": {}}]) is None
    assert failure_reason([agent("hi")]) is None


def test_the_pending_question_is_the_last_agent_message_not_yet_answered():
    assert pending_question([agent("one?"), agent("two?")]) == "two?"
    assert pending_question([agent("one?"), user("yes")]) is None
    assert pending_question([agent("one?"), user("yes"), agent("three?")]) == "three?"
    assert pending_question([]) is None


def test_the_pending_plan_is_the_newest_unapproved_one():
    first, second = plan("p1", "a"), plan("p2", "b")
    assert pending_plan([first]) is first
    assert pending_plan([first, APPROVED]) is None
    assert pending_plan([first, APPROVED, second]) is second


def test_has_change_looks_at_outputs_and_activities():
    change = {"changeSet": {"gitPatch": {"unidiffPatch": PATCH}}}
    empty = {"changeSet": {"gitPatch": {"unidiffPatch": "  "}}}
    assert has_change({"outputs": [change]})
    assert not has_change({"outputs": [empty]})
    assert has_change({}, [{"artifacts": [change]}])
    assert not has_change({}, [{"artifacts": [empty]}, {"artifacts": "junk"}])


@pytest.mark.parametrize(
    ("session", "expected", "absent"),
    [
        ({"state": "AWAITING_PLAN_APPROVAL"}, "jules session approve 7", None),
        ({"state": "AWAITING_USER_FEEDBACK"}, 'jules session send 7 "your reply"', None),
        ({"state": "FAILED"}, 'a message reopens it: `jules session send 7 "..."`', None),
        ({"state": "IN_PROGRESS"}, "jules activities tail 7", None),
        ({"state": "COMPLETED"}, "it made no change", "get the change"),
        (
            {
                "state": "COMPLETED",
                "outputs": [{"changeSet": {"gitPatch": {"unidiffPatch": PATCH}}}],
            },
            "get the change",
            None,
        ),
    ],
)
def test_next_action_follows_the_state_and_what_the_session_made(session, expected, absent):
    action = next_action({"id": "7", **session})
    assert action is not None and expected in action
    assert absent is None or absent not in action


def test_no_hint_for_a_completed_session_with_a_pull_request():
    session = {"id": "7", "state": "COMPLETED", "outputs": [{"pullRequest": {"url": "u"}}]}
    assert next_action(session) is None


def test_a_failed_session_marks_the_step_it_stopped_on():
    progress = PlanProgress()
    progress.add(plan("p", "one", "two", "three"))
    progress.add({"progressUpdated": {"title": "two: started"}})
    progress.add({"sessionFailed": {"reason": "broken"}})
    lines = [line.plain for line in progress.checklist()]
    assert lines == ["  [x] 1. one", "  [!] 2. two  failed here", "  [ ] 3. three"]
    progress.add(user("try again"))  # a message reopens it: the step is current again
    assert progress.checklist()[1].plain == "  [>] 2. two"


def test_a_long_plan_is_cut_to_a_window_around_the_current_step():
    progress = PlanProgress()
    progress.add(plan("p", *(f"s{n}" for n in range(1, 21))))
    progress.current = 10
    lines = [line.plain for line in progress.checklist(limit=6)]
    assert len(lines) == 6
    assert lines[0].endswith("steps done before") and lines[-1].endswith("more steps")
    assert any("[>] 11. s11" in line for line in lines)


class FakeClient:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def approve_plan(self, sid):
        self.calls.append(("approve", sid))

    def send_message(self, sid, text):
        self.calls.append(("send", sid, text))


class FakeContext:
    def __init__(self, client) -> None:
        self._client = client

    def client(self):
        return self._client


def test_feedback_then_a_new_plan_then_the_same_plan(monkeypatch):
    err = io.StringIO()
    out = Output(stdout=io.StringIO(), stderr=err)
    watcher = Watcher(out, "7", live=False)
    client = FakeClient()
    hook = watch.answer_hook(FakeContext(client), watcher)
    answers = iter(["Use French", "More tests", "y"])
    questions: list[str] = []

    def ask(question: str):
        questions.append(question)
        return next(answers)

    monkeypatch.setattr(watch, "ask", ask)
    session = {"id": "7", "state": "AWAITING_PLAN_APPROVAL"}
    first, second = plan("p1", "Greet"), plan("p2", "Greet in French")
    assert hook(session, [first]) is True
    # Jules answers with a new plan: shown in full, asked about.
    assert hook(session, [first, user("Use French"), second]) is True
    # Jules answers with words only: the same plan, asked about by reference.
    assert hook(session, [first, user("Use French"), second, user("More tests"), agent("ok")])
    assert client.calls == [
        ("send", "7", "Use French"),
        ("send", "7", "More tests"),
        ("approve", "7"),
    ]
    text = err.getvalue()
    assert text.count("Jules proposes this plan:") == 1
    assert text.count("Jules proposes a new plan:") == 1
    assert text.count("Greet in French") == 1  # the new plan is not printed twice
    assert "Feedback sent: Use French" in text and "Feedback sent: More tests" in text
    assert "Plan approved." in text
    assert questions[0].startswith("Approve this plan?")
    assert questions[1].startswith("Approve this plan?")
    assert questions[2].startswith("Approve the plan above?")


def test_the_echo_of_an_answer_is_not_printed_twice_in_the_live_view():
    stdout = io.StringIO()
    out = Output(stdout=stdout, stderr=io.StringIO())
    watcher = Watcher(out, "7", live=False)
    watcher.is_live = True  # as in a terminal, without starting a Live on this StringIO
    watcher.acted("userMessaged", "hello")
    watcher.activity({"createTime": "2026-01-01T00:00:00Z", **user("hello")})
    watcher.activity({"createTime": "2026-01-01T00:00:01Z", **user("hello")})
    assert stdout.getvalue().count("hello") == 1  # the first was the echo


def _panel_text(view) -> str:
    from rich.console import Console

    console = Console(file=io.StringIO(), width=80, color_system=None)
    console.print(view.header())
    return console.file.getvalue()


def test_the_panel_says_when_the_service_fails_and_stops_once_it_answers():
    from jules_cli.errors import Unavailable

    now = [100.0]
    out = Output(stdout=io.StringIO(), stderr=io.StringIO(), no_color=True)
    watcher = Watcher(out, "s1", live=False)
    watcher.view._clock = lambda: now[0]
    failure = Unavailable("boom", url="http://127.0.0.1/v1alpha/sessions/s1/activities")
    failure.http_status = 503
    watcher.poll_failed(failure, 12.0)
    now[0] += 4.5
    assert "retrying in 8 s: 503 Service Unavailable" in _panel_text(watcher.view)
    watcher.poll_failed(None, 0.0)
    assert "retrying" not in _panel_text(watcher.view)


def test_the_panel_shows_the_spinners_words_for_a_slow_call_or_a_retry():
    out = Output(stdout=io.StringIO(), stderr=io.StringIO(), no_color=True)
    watcher = Watcher(out, "s1", live=False)
    said = ["retrying in 2 s (2/5): 503 Service Unavailable"]
    watcher.view.progress = lambda: said[0]
    assert said[0] in _panel_text(watcher.view)
    said[0] = None
    assert "retrying" not in _panel_text(watcher.view)
