"""The overview behind `jules status` and the dashboard: groups, paging, one-line details."""

from __future__ import annotations

import pytest

from jules_cli import overview as ov
from jules_cli.errors import NotFound
from jules_cli.times import format_time, parse_time

NOW = parse_time("2026-01-02T00:00:00Z")
SINCE = NOW - 24 * 3600


def at(hours_ago: float) -> str:
    return format_time(NOW - hours_ago * 3600)


def session(sid: str, state: str, created: float, updated: float | None = None, **extra):
    body = {"id": sid, "name": f"sessions/{sid}", "state": state, "createTime": at(created)}
    body["updateTime"] = at(created if updated is None else updated)
    body.update(extra)
    return body


@pytest.mark.parametrize(
    ("state", "group"),
    [
        ("AWAITING_PLAN_APPROVAL", "needsYou"),
        ("AWAITING_USER_FEEDBACK", "needsYou"),
        ("PAUSED", "needsYou"),
        ("QUEUED", "running"),
        ("PLANNING", "running"),
        ("IN_PROGRESS", "running"),
        ("COMPLETED", "ended"),
        ("FAILED", "ended"),
        ("STATE_UNSPECIFIED", None),
        ("SOMETHING_NEW", None),
    ],
)
def test_group_of_each_state(state, group):
    assert ov.group_of(session("1", state, 1), SINCE) == group


def test_ended_counts_by_update_time_and_archived_is_left_out():
    old_but_updated = session("1", "COMPLETED", created=50, updated=2)
    old = session("2", "FAILED", created=50, updated=30)
    assert ov.group_of(old_but_updated, SINCE) == "ended"
    assert ov.group_of(old, SINCE) is None
    assert ov.group_of(session("3", "PAUSED", 1, archived=True), SINCE) is None
    # Needing you or running never expires: a week-old question still waits.
    assert ov.group_of(session("4", "AWAITING_USER_FEEDBACK", 24 * 7), SINCE) == "needsYou"


def test_grouped_is_newest_first_and_deduplicated():
    sessions = [
        session("1", "IN_PROGRESS", 5),
        session("2", "IN_PROGRESS", 1),
        session("1", "IN_PROGRESS", 5),
        session("3", "PAUSED", 3),
    ]
    grouped = ov.grouped(sessions, SINCE)
    assert [s["id"] for s in grouped.running] == ["2", "1"]
    assert [s["id"] for s in grouped.needs_you] == ["3"]
    assert grouped.to_json() == {
        "needsYou": [sessions[3]],
        "running": [sessions[1], sessions[0]],
        "ended": [],
    }


def test_page_is_past_only_when_every_session_is_older():
    assert ov.page_is_past([session("1", "COMPLETED", 30), session("2", "COMPLETED", 40)], SINCE)
    assert not ov.page_is_past([session("1", "COMPLETED", 2), session("2", "COMPLETED", 40)], SINCE)
    assert not ov.page_is_past([{"id": "3", "state": "QUEUED"}], SINCE)  # no time: read on
    assert ov.page_is_past([], SINCE)


PLAN = {
    "planGenerated": {
        "plan": {
            "steps": [
                {"title": "Explore the repository"},
                {"title": "Run the tests", "index": 2},
                {"title": "Implement the change", "index": 1},
            ]
        }
    }
}


def test_describe_needs_you():
    plan = ov.describe(session("7", "AWAITING_PLAN_APPROVAL", 1), [PLAN])
    assert plan == ov.Detail("plan with 3 steps", "jules session approve 7")
    asked = {"agentMessaged": {"agentMessage": "\n  Should I   add a test?\nMore text."}}
    feedback = ov.describe(session("8", "AWAITING_USER_FEEDBACK", 1), [PLAN, asked])
    assert feedback == ov.Detail("Should I add a test?", 'jules session send 8 "your reply"')
    paused = ov.describe(session("9", "PAUSED", 1), [])
    assert paused == ov.Detail("paused", 'jules session send 9 "continue"')
    unread = ov.describe(session("7", "AWAITING_PLAN_APPROVAL", 1), None)
    assert unread.text == "a plan waits for your approval"


def test_describe_ended():
    pr = {"pullRequest": {"url": "https://github.com/o/r/pull/4"}}
    assert ov.describe(session("1", "COMPLETED", 1, outputs=[pr]), None).text == (
        "https://github.com/o/r/pull/4"
    )
    patch = "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1,2 @@\n-a\n+b\n+c\n"
    change = {"changeSet": {"gitPatch": {"unidiffPatch": patch}}}
    done = ov.describe(session("2", "COMPLETED", 1, outputs=[change]), None)
    assert done == ov.Detail("1 file, +2 -1", "jules session diff 2")
    assert ov.describe(session("3", "COMPLETED", 1), None).text == "no changes"
    failed = [{"sessionFailed": {"reason": "tests fail\ntraceback..."}}]
    assert ov.describe(session("4", "FAILED", 1), failed).text == "tests fail"
    assert ov.describe(session("4", "FAILED", 1), []).text == "no reason given"
    assert ov.describe(session("4", "FAILED", 1), None).text == "(reason not read yet)"


def test_plan_progress_follows_step_titles():
    approved = {"planApproved": {}}
    running = {"progressUpdated": {"title": "Implement the change: editing"}}
    steps, current = ov.plan_progress([PLAN, approved], "IN_PROGRESS")
    assert [s["title"] for s in steps][1] == "Implement the change" and current == 0
    assert ov.plan_progress([PLAN, approved, running], "IN_PROGRESS")[1] == 1
    assert ov.plan_progress([PLAN], "AWAITING_PLAN_APPROVAL")[1] is None
    assert ov.plan_progress([PLAN, approved], "COMPLETED")[1] == 3
    assert ov.plan_progress([], "IN_PROGRESS") == ([], None)


class PagedClient:
    """A client whose sessions come in fixed pages; records what was asked."""

    def __init__(self, pages, activities=None, failing=()):
        self.pages = pages
        self.activities = activities or {}
        self.failing = set(failing)
        self.pages_read = 0
        self.activity_reads: list[str] = []

    def list_session_pages(self, *, page_size=None, page_token=None):
        for index, page in enumerate(self.pages):
            self.pages_read += 1
            yield page, str(index + 1) if index + 1 < len(self.pages) else None

    def list_activities(self, sid):
        self.activity_reads.append(sid)
        if sid in self.failing:
            raise NotFound("sessions/x/activities: gone")
        return iter(self.activities.get(sid, []))


def test_read_overview_stops_at_the_first_page_past_since_and_reads_few_activities():
    pages = [
        [session("1", "AWAITING_PLAN_APPROVAL", 1), session("2", "COMPLETED", 2)],
        [session("3", "FAILED", 20), session("4", "IN_PROGRESS", 30)],
        [session("5", "FAILED", 40, updated=1), session("6", "COMPLETED", 50)],
        [session("7", "AWAITING_USER_FEEDBACK", 60)],  # never read
    ]
    client = PagedClient(pages, {"1": [PLAN], "5": [{"sessionFailed": {"reason": "boom"}}]})
    result = ov.read_overview(client, SINCE)
    assert client.pages_read == 3
    assert [s["id"] for s in result.needs_you] == ["1"]
    assert [s["id"] for s in result.running] == ["4"]
    assert [s["id"] for s in result.ended] == ["2", "3", "5"]
    assert client.activity_reads == ["1", "3", "5"]
    assert result.details["1"].text == "plan with 3 steps"
    assert result.details["5"].text == "boom"


def test_read_overview_survives_an_activities_failure():
    client = PagedClient([[session("1", "PAUSED", 1)]], failing={"1"})
    result = ov.read_overview(client, SINCE)
    assert result.details["1"].command == 'jules session send 1 "continue"'
    assert "gone" in result.errors["1"]


# -- the tracker (the dashboard's live overview) ------------------------------------------


class ScanClient(PagedClient):
    """Pages as list_session_pages(page_token=...) serves them; records which were read."""

    def __init__(self, pages, activities=None):
        super().__init__(pages, activities)
        self.tokens: list[str | None] = []

    def list_session_pages(self, *, page_size=None, page_token=None):
        self.tokens.append(page_token)
        start = int(page_token or 0)
        for index in range(start, len(self.pages)):
            yield self.pages[index], str(index + 1) if index + 1 < len(self.pages) else None

    def list_activities(self, sid, since=None, pacer=None):
        if pacer is not None:
            pacer.acquire()  # one request, asked of the pacer as JulesClient does
        self.activity_reads.append(sid)
        return iter(self.activities.get(sid, []))


class Allow:
    def __init__(self, turns=1000):
        self.turns = turns

    def try_acquire(self):
        if self.turns <= 0:
            return False
        self.turns -= 1
        return True


def test_tracker_reads_one_page_a_poll_alternating_with_the_first():
    pages = [
        [session("1", "IN_PROGRESS", 1)],
        [session("2", "COMPLETED", 2)],
        [session("3", "COMPLETED", 30)],  # past --since: the scan ends here
        [session("4", "COMPLETED", 40)],
    ]
    client = ScanClient(pages)
    tracker = ov.Tracker(client, SINCE, pacer=Allow())
    for _ in range(6):
        tracker.poll_sessions()
    # first, page 2, first, page 3 (past --since: the scan is complete, page 4 never),
    # then a new scan from the top: still one page a poll.
    assert client.tokens == [None, "1", None, "2", None, "1"]
    assert set(tracker.sessions) == {"1", "2", "3"}


def test_tracker_drops_what_a_whole_scan_no_longer_lists():
    client = ScanClient([[session("1", "IN_PROGRESS", 1), session("2", "PAUSED", 2)]])
    tracker = ov.Tracker(client, SINCE, pacer=Allow())
    tracker.poll_sessions()
    client.pages = [[session("1", "IN_PROGRESS", 1)]]
    tracker.poll_sessions()
    assert set(tracker.sessions) == {"1"}


def test_tracker_reads_activities_of_the_open_and_the_changed_ones_as_paced():
    first = [
        session("1", "IN_PROGRESS", 1),
        session("2", "COMPLETED", 2),
        session("3", "PAUSED", 3),
    ]
    client = ScanClient([first], {"3": [{"agentMessaged": {"agentMessage": "Go on?"}}]})
    pacer = Allow(turns=1)
    tracker = ov.Tracker(client, SINCE, pacer=pacer)
    tracker.poll_sessions()
    # One turn: the one that needs you first; the running "1" stays queued.
    assert tracker.poll_activities() == ["3"]
    assert tracker.pending == 1
    assert tracker.details["3"].text == "paused: Go on?"
    pacer.turns = 10
    assert tracker.poll_activities() == ["1"]
    assert tracker.poll_activities() == []  # nothing changed: nothing read
    assert tracker.poll_activities(open_id="2") == ["2"]  # the open one, changed or not
    moved = session("1", "IN_PROGRESS", 1, updated=0.5)
    client.pages = [[moved, first[1], first[2]]]
    tracker.poll_sessions()
    assert tracker.poll_activities() == ["1"]
    assert client.activity_reads == ["3", "1", "2", "1"]  # never the COMPLETED one unasked


def test_a_session_that_failed_since_its_activities_were_read_waits_for_its_reason():
    progress = {"progressUpdated": {"title": "Running the tests"}}
    client = ScanClient([[session("1", "IN_PROGRESS", 1)]], {"1": [progress]})
    tracker = ov.Tracker(client, SINCE, pacer=Allow())
    tracker.poll_sessions()
    tracker.poll_activities()
    client.pages = [[session("1", "FAILED", 1, updated=0.5)]]
    client.activities["1"] = [progress, {"sessionFailed": {"reason": "tests broke"}}]
    tracker.poll_sessions()
    # Not "no reason given": the reason is in an activity the next turn reads.
    assert tracker.details["1"].text == "(reason not read yet)"
    tracker.poll_activities()
    assert tracker.details["1"].text == "tests broke"


def test_tracker_waits_for_the_pacer_until_the_deadline_but_not_once_stopped():
    import time

    class Slow(Allow):
        def delay(self):
            return 0.05

    pages = [[session(str(n), "IN_PROGRESS", 1) for n in range(3)]]
    tracker = ov.Tracker(ScanClient(pages), SINCE, pacer=Slow(turns=0))
    tracker.poll_sessions()
    started = time.monotonic()
    assert tracker.poll_activities(deadline=time.monotonic() + 0.2) == []
    assert 0.15 <= time.monotonic() - started < 2
    tracker.stop.set()
    started = time.monotonic()
    assert tracker.poll_activities(deadline=time.monotonic() + 10) == []
    assert time.monotonic() - started < 1


def test_archived_here_stays_out_until_undone():
    client = ScanClient([[session("1", "PAUSED", 1)]])
    tracker = ov.Tracker(client, SINCE, pacer=Allow())
    tracker.poll_sessions()
    kept = tracker.hide("1")
    tracker.poll_sessions()
    assert "1" not in tracker.sessions
    tracker.unhide(kept)
    assert "1" in tracker.sessions


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", True),
        ("parser", True),
        ("PARSER refactor", True),
        ("state:await", True),
        ("state:awaiting-plan", True),
        ("state:failed", False),
        ("repo:octo/app", True),
        ("repo:other", False),
        ("octo", True),
        ("1234", True),
        ("missing", False),
    ],
)
def test_matches(query, expected):
    s = session("1234", "AWAITING_PLAN_APPROVAL", 1, title="Refactor the parser")
    s["sourceContext"] = {"source": "sources/github/octo/app"}
    assert ov.matches(s, query) is expected


def test_a_session_opened_while_the_tracker_waits_for_the_pacer_is_read_next():
    # Three changed sessions queued; while the poll waits for its second turn the person
    # opens the last one: it is read at that turn, before the ones queued ahead of it.
    pages = [[session(str(n), "IN_PROGRESS", n) for n in (1, 2, 3)]]
    client = ScanClient(pages)
    opened: list[str | None] = [None]

    class OpensOnSecondTurn(Allow):
        def try_acquire(self):
            if self.turns == 999:  # the second turn: "3" was opened meanwhile
                opened[0] = "3"
            return super().try_acquire()

    tracker = ov.Tracker(client, SINCE, pacer=OpensOnSecondTurn())
    tracker.poll_sessions()
    assert tracker.poll_activities(lambda: opened[0], most=3) == ["1", "3", "2"]
    assert client.activity_reads == ["1", "3", "2"]


def test_answer_to_is_the_first_agent_message_after_that_message():
    asked = {"agentMessaged": {"agentMessage": "Which port?"}}
    mine = {"userMessaged": {"userMessage": "use  8080"}}
    other = {"userMessaged": {"userMessage": "something else"}}
    answer = {"agentMessaged": {"agentMessage": "Port 8080 it is.\nMore below."}}
    assert ov.answer_to([asked], "use 8080") is None  # not sent (yet)
    assert ov.answer_to([asked, mine], "use 8080") is None  # no answer yet
    assert ov.answer_to([asked, mine, other, answer], "use 8080") == "Port 8080 it is."
    # Sent twice: the answer to the newest one.
    assert ov.answer_to([mine, answer, mine], "use 8080") is None
    failed = {"sessionFailed": {"reason": "Out of time."}}
    assert ov.answer_to([mine, failed], "use 8080") == "the session failed: Out of time."
    assert ov.answer_to([mine, {"sessionCompleted": {}}], "use 8080") == "the session completed"


def test_a_new_state_with_the_same_update_time_counts_as_a_change():
    client = ScanClient([[session("1", "AWAITING_USER_FEEDBACK", 1)]])
    tracker = ov.Tracker(client, SINCE, pacer=Allow())
    tracker.poll_sessions()
    assert tracker.poll_activities() == ["1"]
    client.pages = [[session("1", "IN_PROGRESS", 1)]]  # same updateTime
    tracker.poll_sessions()
    assert tracker.poll_activities() == ["1"]
    tracker.touch("1")  # asked for, unchanged
    assert tracker.poll_activities() == ["1"]
    assert tracker.poll_activities() == []


@pytest.mark.parametrize(
    ("state", "query", "expected"),
    [
        ("IN_PROGRESS", "state:run", True),
        ("QUEUED", "state:running", True),
        ("COMPLETED", "state:run", False),
        ("FAILED", "state:ended", True),
        ("PAUSED", "state:needs-you", True),
        ("AWAITING_PLAN_APPROVAL", "state:need", True),
        ("IN_PROGRESS", "state:needs", False),
        ("PAUSED", "state:p", True),  # still a prefix of the state
    ],
)
def test_state_filter_takes_a_group_name_too(state, query, expected):
    assert ov.matches(session("1", state, 1), query) is expected


class PagingActivities(ScanClient):
    """Activities served 100 a page, the pacer asked before every request, as
    JulesClient.list_activities does (each page and each retry is one call)."""

    def list_activities(self, sid, since=None, pacer=None):
        every = self.activities.get(sid, [])
        for start in range(0, max(len(every), 1), 100):
            if pacer is not None:
                pacer.acquire()
            self.activity_reads.append(sid)
            yield from every[start : start + 100]


def test_each_page_of_a_long_history_takes_a_turn_of_its_own():
    history = [
        {"id": f"a{n}", "createTime": f"2026-01-01T00:{n // 60:02d}:{n % 60:02d}Z"}
        for n in range(250)
    ]
    client = PagingActivities([[session("1", "IN_PROGRESS", 1)]], {"1": history})
    pacer = Allow(turns=1000)
    tracker = ov.Tracker(client, SINCE, pacer=pacer)
    tracker.poll_sessions()
    assert tracker.poll_activities() == ["1"]
    assert len(client.activity_reads) == 3  # 3 pages ...
    assert pacer.turns == 1000 - 3  # ... 3 turns of the pacer, not 1
    assert len(tracker.activities_of("1")) == 250


def test_a_read_waiting_for_a_turn_ends_when_the_view_closes():
    import threading

    history = [
        {"id": f"a{n}", "createTime": f"2026-01-01T00:{n // 60:02d}:{n % 60:02d}Z"}
        for n in range(150)
    ]
    client = PagingActivities([[session("1", "IN_PROGRESS", 1)]], {"1": history})
    pacer = Allow(turns=1)  # the first page's turn only
    tracker = ov.Tracker(client, SINCE, pacer=pacer)
    tracker.poll_sessions()
    threading.Timer(0.1, tracker.stop.set).start()
    assert tracker.poll_activities() == []  # the second page never went
    assert len(client.activity_reads) == 1


def test_what_needs_you_is_read_before_what_runs():
    # The newest sessions run; older ones need you or failed: those lines come first.
    page = [
        session("1", "IN_PROGRESS", 1),
        session("2", "QUEUED", 2),
        session("3", "FAILED", 3),
        session("4", "AWAITING_PLAN_APPROVAL", 4),
        session("5", "PAUSED", 5),
    ]
    tracker = ov.Tracker(ScanClient([page]), SINCE, pacer=Allow())
    tracker.poll_sessions()
    assert tracker.poll_activities() == ["4", "5", "3", "1", "2"]
