"""Unit tests of the polling engine (jules_cli/follow.py) with a fake client and clock."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from jules_cli.api.client import JulesClient
from jules_cli.errors import BadRequest, ExitCode, NotFound, RateLimited, Unavailable, UsageError
from jules_cli.follow import (
    ActivityPoller,
    Backoff,
    Condition,
    FollowResult,
    StateEvidence,
    effective_state,
    follow,
    format_timestamp,
    parse_duration,
    timestamp_ns,
)
from jules_cli.pacing import Pacer
from jules_cli.states import (
    ALL_STATES,
    AWAITING_PLAN_APPROVAL,
    COMPLETED,
    CONDITION_CHOICES,
    DONE_STATES,
    IN_PROGRESS,
    USER_STATES,
)

BASE_NS = 1_768_608_233_000_000_000  # 2026-01-17T00:03:53Z
SECOND = 1_000_000_000


def rfc3339(ns: int, digits: int = 9) -> str:
    """An RFC 3339 time with exactly `digits` fractional digits (truncated)."""
    seconds, fraction = divmod(ns, SECOND)
    text = format_timestamp(seconds * SECOND)[:19]
    if digits:
        text += "." + f"{fraction:09d}"[:digits]
    return text + "Z"


def activity(number: int, at_ns: int, kind: str = "progressUpdated", **fields: Any) -> dict:
    # Vary the precision (0, 3, 6 or 9 fractional digits) wherever the time allows it.
    digits = next(d for d in (0, 3, 6, 9)[number % 4 :] if at_ns % 10 ** (9 - d) == 0)
    body = fields or ({"title": f"step {number}"} if kind == "progressUpdated" else {})
    return {
        "name": f"sessions/s1/activities/a{number}",
        "id": f"a{number}",
        "createTime": rfc3339(at_ns, digits),
        "originator": "agent",
        kind: body,
    }


def ids(activities: list[dict]) -> list[str]:
    return [a["id"] for a in activities]


class FakeClient:
    """Activities in memory, served like the API: oldest first, `since` exclusive, paged.

    Each page is one counted request. `timeline[n]` lists activities that appear just
    before the n-th poll (the n-th `list_activities` call, 1-based); `states` are answered
    one per session GET (the last repeats); `activity_errors[n]` / `session_errors[n]` are
    raised at the n-th request of that kind (a page counts as one).
    """

    def __init__(
        self,
        activities: list[dict] | None = None,
        states: list[str] | None = None,
        *,
        page_size: int = 3,
        repeat_page_boundary: bool = False,
        inclusive_since: bool = False,
    ) -> None:
        self.activities = list(activities or [])
        self.states = list(states or [IN_PROGRESS])
        self.page_size = page_size
        self.repeat_page_boundary = repeat_page_boundary
        self.inclusive_since = inclusive_since
        self.timeline: dict[int, list[dict]] = {}
        self.activity_errors: dict[int, Exception] = {}
        self.session_errors: dict[int, Exception] = {}
        self.session_fields: dict[str, Any] = {}
        self.activity_requests = 0
        self.session_requests = 0
        self.polls = 0
        self.calls: list[str] = []  # "session" / "list" per request, in order
        self.sinces: list[str | None] = []
        self.on_page: Callable[[], None] | None = None
        self.on_session: Callable[[], None] | None = None

    def get_session(self, session: str) -> dict:
        self.session_requests += 1
        self.calls.append("session")
        if self.on_session is not None:
            self.on_session()
        if self.session_requests in self.session_errors:
            raise self.session_errors[self.session_requests]
        state = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        return {"name": f"sessions/{session}", "id": session, "state": state, **self.session_fields}

    def list_activities(self, session: str, *, since: str | None = None, pacer=None):
        self.polls += 1
        self.activities.extend(self.timeline.get(self.polls, []))
        self.sinces.append(since)
        return self._pages(since, pacer)

    def _after(self, activity: dict, since_ns: int | None) -> bool:
        created = timestamp_ns(activity.get("createTime"))
        if since_ns is None or created is None:
            return True
        return created > since_ns or (self.inclusive_since and created == since_ns)

    def _pages(self, since: str | None, pacer=None):
        since_ns = timestamp_ns(since) if since is not None else None
        offset = 0
        while True:
            if pacer is not None:  # as JulesClient does, before every request
                pacer.acquire()
            self.activity_requests += 1
            self.calls.append("list")
            if self.on_page is not None:
                self.on_page()
            if self.activity_requests in self.activity_errors:
                raise self.activity_errors[self.activity_requests]
            matching = [a for a in self.activities if self._after(a, since_ns)]
            page = matching[offset : offset + self.page_size]
            if self.repeat_page_boundary and offset:
                yield matching[offset - 1]
            yield from page
            offset += len(page)
            if not page or offset >= len(matching):
                return


class FakeTime:
    """A clock and a sleep that only advance when slept on, recording every pause."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.sleeps.append(seconds)
        self.now += seconds


def run(client: FakeClient, **kwargs: Any) -> tuple[FollowResult, list[dict], FakeTime]:
    """follow() with fake time, reporting into a list. The timelines of these tests count
    session reads one by one, so the reads that follow new activities (settle_reads)
    are off unless a test asks for them."""
    kwargs.setdefault("settle_reads", 0)
    fake_time = FakeTime()
    reported: list[dict] = []
    result = follow(
        client,
        "s1",
        clock=fake_time.clock,
        sleep=fake_time.sleep,
        on_activity=reported.append,
        **kwargs,
    )
    return result, reported, fake_time


def error(cls: type, message: str = "boom") -> Exception:
    return cls(message, url="http://127.0.0.1/v1alpha/sessions/s1/activities")


# -- parse_duration ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90.0),
        ("0", 0.0),
        ("2.5", 2.5),
        ("90s", 90.0),
        ("15m", 900.0),
        ("2h", 7200.0),
        ("1h30m", 5400.0),
        ("1h30m15s", 5415.0),
        ("1.5m", 90.0),
        (" 10M ", 600.0),
        ("1h 30m", 5400.0),
    ],
)
def test_parse_duration_accepts_seconds_and_units(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text", ["", " ", "abc", "1x", "5m3h", "h", "1.2.3", "inf", "nan", "1e3", "m30", "-5", "-1m"]
)
def test_parse_duration_rejects_bad_input_in_one_line(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_duration(text)
    message = str(caught.value)
    assert "\n" not in message
    assert repr(text) in message
    assert "90s" in message  # says what would work
    assert caught.value.exit_code == ExitCode.USAGE


def test_parse_duration_names_the_negative_problem() -> None:
    with pytest.raises(UsageError, match="negative"):
        parse_duration("-30s")


# -- conditions ---------------------------------------------------------------------------


def test_state_groups() -> None:
    assert len(ALL_STATES) == 9
    assert set(DONE_STATES) == {"COMPLETED", "FAILED"}
    assert set(USER_STATES) == {"AWAITING_PLAN_APPROVAL", "AWAITING_USER_FEEDBACK", "PAUSED"}
    assert "STATE_UNSPECIFIED" not in CONDITION_CHOICES
    assert CONDITION_CHOICES[:2] == ("done", "settled")


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("done", "done"),
        (" Settled ", "settled"),
        ("completed", "COMPLETED"),
        ("in-progress", "IN_PROGRESS"),
        ("awaiting_plan_approval", "AWAITING_PLAN_APPROVAL"),
        ("PAUSED", "PAUSED"),
    ],
)
def test_condition_parse(text: str, name: str) -> None:
    assert Condition.parse(text).name == name


@pytest.mark.parametrize("text", ["bogus", "STATE_UNSPECIFIED", "", "complete"])
def test_condition_parse_lists_valid_values(text: str) -> None:
    with pytest.raises(UsageError) as caught:
        Condition.parse(text)
    message = str(caught.value)
    assert "\n" not in message
    for choice in CONDITION_CHOICES:
        assert choice in message


@pytest.mark.parametrize(
    ("condition", "state", "outcome"),
    [
        ("done", "COMPLETED", "completed"),
        ("done", "FAILED", "failed"),
        ("done", "AWAITING_PLAN_APPROVAL", "needs_user"),
        ("done", "AWAITING_USER_FEEDBACK", "needs_user"),
        ("done", "PAUSED", "needs_user"),
        ("done", "IN_PROGRESS", None),
        ("done", "QUEUED", None),
        ("done", "STATE_UNSPECIFIED", None),
        ("done", "SOME_FUTURE_STATE", None),
        ("settled", "COMPLETED", "completed"),
        ("settled", "PAUSED", "needs_user"),
        ("settled", "PLANNING", None),
        ("FAILED", "FAILED", "reached"),
        ("COMPLETED", "COMPLETED", "reached"),
        ("IN_PROGRESS", "IN_PROGRESS", "reached"),
        ("IN_PROGRESS", "COMPLETED", "completed"),
        ("IN_PROGRESS", "FAILED", "failed"),
        ("IN_PROGRESS", "AWAITING_USER_FEEDBACK", "needs_user"),
        ("AWAITING_PLAN_APPROVAL", "AWAITING_PLAN_APPROVAL", "reached"),
        ("AWAITING_USER_FEEDBACK", "PAUSED", "needs_user"),
        ("PLANNING", "IN_PROGRESS", None),
    ],
)
def test_condition_decide(condition: str, state: str, outcome: str | None) -> None:
    assert Condition.parse(condition).decide(state) == outcome


# -- timestamps -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("2026-01-17T00:03:53Z", BASE_NS),
        ("2026-01-17T00:03:53.1Z", BASE_NS + 100_000_000),
        ("2026-01-17T00:03:53.137240Z", BASE_NS + 137_240_000),
        ("2026-01-17T00:03:53.123456789Z", BASE_NS + 123_456_789),
        ("2026-01-17T02:03:53+02:00", BASE_NS),
        ("2026-01-16T23:03:53.5-01:00", BASE_NS + 500_000_000),
        ("2026-01-17t00:03:53z", BASE_NS),
    ],
)
def test_timestamp_ns_handles_any_precision_and_offsets(text: str, ns: int) -> None:
    assert timestamp_ns(text) == ns


@pytest.mark.parametrize(
    "text", [None, "", "yesterday", "2026-13-01T00:00:00Z", "2026-01-17T00:03:53", 12]
)
def test_timestamp_ns_rejects_non_times(text: Any) -> None:
    assert timestamp_ns(text) is None


def test_timestamps_compare_by_value_not_by_string() -> None:
    assert timestamp_ns("2026-01-17T00:03:53.5Z") > timestamp_ns("2026-01-17T00:03:53.123456789Z")
    # As strings these sort the wrong way round ("Z" comes after ".").
    assert timestamp_ns("2026-01-17T00:03:53Z") < timestamp_ns("2026-01-17T00:03:53.000000001Z")


def test_format_timestamp_rounds_down_to_microseconds() -> None:
    assert format_timestamp(BASE_NS + 123_456_789) == "2026-01-17T00:03:53.123456Z"
    assert format_timestamp(BASE_NS) == "2026-01-17T00:03:53.000000Z"


# -- effective_state ------------------------------------------------------------------------


def completed_session(**fields: Any) -> dict:
    return {"id": "s1", "state": COMPLETED, **fields}


def test_effective_state_passes_other_states_through() -> None:
    for state in ("IN_PROGRESS", "FAILED", "PAUSED", "SOME_FUTURE_STATE"):
        assert effective_state({"state": state}, []) == state
    assert effective_state({}, []) == "STATE_UNSPECIFIED"


def test_effective_state_completed_stays_completed() -> None:
    history = [
        activity(1, BASE_NS, "planGenerated", plan={"id": "p"}),
        activity(2, BASE_NS + SECOND, "planApproved", planId="p"),
        activity(3, BASE_NS + 2 * SECOND),
        activity(4, BASE_NS + 3 * SECOND, "sessionCompleted"),
    ]
    assert effective_state(completed_session(), history) == COMPLETED
    assert effective_state(completed_session(), []) == COMPLETED


def test_effective_state_message_after_completion_reopens() -> None:
    history = [
        activity(1, BASE_NS, "sessionCompleted"),
        activity(2, BASE_NS + SECOND, "userMessaged", userMessage="one more thing"),
    ]
    assert effective_state(completed_session(), history) == IN_PROGRESS
    # ...until it completes again.
    history.append(activity(3, BASE_NS + 2 * SECOND, "sessionCompleted"))
    assert effective_state(completed_session(), history) == COMPLETED


def test_effective_state_late_approval_after_completion_reopens() -> None:
    history = [
        activity(1, BASE_NS, "sessionCompleted"),
        activity(2, BASE_NS + SECOND, "planApproved", planId="p"),
    ]
    assert effective_state(completed_session(), history) == IN_PROGRESS


def test_effective_state_completed_with_unapproved_plan_awaits_approval() -> None:
    history = [activity(1, BASE_NS, "planGenerated", plan={"id": "p"})]
    assert effective_state(completed_session(), history) == AWAITING_PLAN_APPROVAL
    # A plan generated after a reopening, still unapproved, is pending too.
    reopened = [
        activity(1, BASE_NS, "sessionCompleted"),
        activity(2, BASE_NS + SECOND, "userMessaged", userMessage="redo"),
        activity(3, BASE_NS + 2 * SECOND, "planGenerated", plan={"id": "q"}),
    ]
    assert effective_state(completed_session(), reopened) == AWAITING_PLAN_APPROVAL


def test_effective_state_late_approval_without_session_completed_uses_update_time() -> None:
    plan = activity(1, BASE_NS, "planGenerated", plan={"id": "p"})
    approval = activity(2, BASE_NS + 10 * SECOND, "planApproved", planId="p")
    # Completed (updateTime) before the approval: the approval reopened it.
    stale = completed_session(updateTime=rfc3339(BASE_NS + SECOND))
    assert effective_state(stale, [plan, approval]) == IN_PROGRESS
    # Completed after the approval (its sessionCompleted not read yet): really completed.
    done = completed_session(updateTime=rfc3339(BASE_NS + 60 * SECOND))
    assert effective_state(done, [plan, approval]) == COMPLETED
    # Without updateTime nothing says the approval came later.
    assert effective_state(completed_session(), [plan, approval]) == COMPLETED


def test_state_evidence_keeps_only_what_matters_since_the_last_completion() -> None:
    evidence = StateEvidence()
    for number in range(1000):
        evidence.add(activity(number, BASE_NS + number * SECOND))
    evidence.add(activity(1000, BASE_NS + 1000 * SECOND, "planGenerated", plan={}))
    evidence.add(activity(1001, BASE_NS + 1001 * SECOND, "sessionCompleted"))
    evidence.add(activity(1002, BASE_NS + 1002 * SECOND, "userMessaged", userMessage="hi"))
    assert ids(evidence.activities) == ["a1001", "a1002"]
    assert effective_state(completed_session(), evidence.activities) == IN_PROGRESS


# -- ActivityPoller -------------------------------------------------------------------------


def test_poller_drains_all_pages_then_an_idle_poll_costs_one_request() -> None:
    history = [activity(n, BASE_NS + n * SECOND) for n in range(10)]
    client = FakeClient(history, page_size=3)
    poller = ActivityPoller(client, "s1")
    assert ids(poller.poll()) == ids(history)
    assert client.activity_requests == 4  # 3 + 3 + 3 + 1
    assert client.sinces == [None]
    for _ in range(3):
        before = client.activity_requests
        assert poller.poll() == []
        assert client.activity_requests == before + 1
    # The cursor is one microsecond before the newest time seen.
    assert client.sinces[-1] == format_timestamp(BASE_NS + 9 * SECOND - 1000)
    assert poller.cursor == client.sinces[-1]


def test_poller_equal_timestamps_across_polls_and_page_boundaries() -> None:
    same = BASE_NS + 5 * SECOND + 123_456_789
    client = FakeClient(
        [
            activity(1, BASE_NS),
            activity(2, same),
            activity(3, same),
        ],
        page_size=2,
    )
    poller = ActivityPoller(client, "s1")
    assert ids(poller.poll()) == ["a1", "a2", "a3"]
    # New activities later arrive with the very timestamp of the cursor, then later ones.
    client.activities += [activity(4, same), activity(5, same), activity(6, same + 1)]
    assert ids(poller.poll()) == ["a4", "a5", "a6"]
    client.activities += [activity(7, same + 1), activity(8, same + 2)]
    assert ids(poller.poll()) == ["a7", "a8"]
    assert poller.poll() == []


def test_poller_drops_activities_a_server_repeats_at_page_boundaries() -> None:
    history = [activity(n, BASE_NS + n * 1000) for n in range(20)]
    client = FakeClient(history, page_size=4, repeat_page_boundary=True)
    poller = ActivityPoller(client, "s1")
    assert ids(poller.poll()) == ids(history)
    client.activities.append(activity(20, BASE_NS + 20 * 1000))
    assert ids(poller.poll()) == ["a20"]


def test_poller_survives_a_server_whose_since_is_inclusive() -> None:
    newest = BASE_NS + 5 * SECOND
    # a3 sits exactly on the next cursor (newest - 1 us), so its id is not remembered.
    history = [activity(n, BASE_NS + n * SECOND) for n in range(3)]
    history += [activity(3, newest - 1000), activity(4, newest)]
    client = FakeClient(history, inclusive_since=True)
    poller = ActivityPoller(client, "s1")
    assert len(poller.poll()) == 5
    assert poller.remembered_ids == 1
    assert poller.poll() == []


def test_poller_drains_thousands_with_bounded_memory() -> None:
    # 5000 activities, several sharing each timestamp, each with a different precision.
    history = [activity(n, BASE_NS + (n // 3) * 1_000_000) for n in range(5000)]
    client = FakeClient(history, page_size=100)
    poller = ActivityPoller(client, "s1")
    largest: list[int] = []
    client.on_page = lambda: largest.append(poller.remembered_ids)
    new = poller.poll()
    assert ids(new) == ids(history)
    assert len({a["id"] for a in new}) == 5000
    assert client.activity_requests == 50
    assert poller.remembered_ids <= 3  # only the ids sharing the newest timestamp
    assert max(largest) <= 257  # pruned while draining too
    client.activities.append(activity(5000, BASE_NS + 2000 * 1_000_000))
    assert ids(poller.poll()) == ["a5000"]


def test_poller_since_is_exclusive_to_the_nanosecond() -> None:
    history = [activity(n, BASE_NS + n) for n in range(1, 6)]  # one nanosecond apart
    client = FakeClient(history)
    poller = ActivityPoller(client, "s1", since=rfc3339(BASE_NS + 2))
    assert ids(poller.poll()) == ["a3", "a4", "a5"]
    assert client.sinces == ["2026-01-17T00:03:53.000000Z"]


def test_poller_rejects_a_bad_since() -> None:
    with pytest.raises(UsageError):
        ActivityPoller(FakeClient(), "s1", since="last tuesday")


def test_poller_keeps_what_it_read_when_a_page_fails() -> None:
    history = [activity(n, BASE_NS + n * SECOND) for n in range(10)]
    client = FakeClient(history, page_size=3)
    client.activity_errors[3] = error(Unavailable)
    poller = ActivityPoller(client, "s1")
    with pytest.raises(Unavailable):
        poller.poll()
    assert ids(poller.poll()) == ids(history)
    assert poller.poll() == []


def test_poller_reports_an_activity_without_time_once() -> None:
    odd = {"id": "odd", "agentMessaged": {"agentMessage": "hi"}}
    client = FakeClient([activity(1, BASE_NS)])
    poller = ActivityPoller(client, "s1")
    poller.poll()
    client.activities.append(odd)
    assert poller.poll() == [odd]
    assert poller.poll() == []


# -- Backoff ------------------------------------------------------------------------------


def test_backoff_idle_schedule_and_reset_on_activity() -> None:
    backoff = Backoff()
    idle = [backoff.next_delay(False) for _ in range(9)]
    assert idle == [2.0, 3.0, 4.5, 6.75, 10.0, 10.0, 10.0, 10.0, 10.0]
    assert backoff.next_delay(True) == 2.0
    assert backoff.next_delay(False) == 3.0


def test_backoff_fixed_interval_and_errors() -> None:
    fixed = Backoff(interval=4)
    assert [fixed.next_delay(active) for active in (True, False, False)] == [4, 4, 4]
    assert [fixed.error_delay() for _ in range(5)] == [4, 4, 8, 16, 30]
    adaptive = Backoff()
    assert [adaptive.error_delay() for _ in range(6)] == [2, 4, 8, 16, 30, 30]
    adaptive.next_delay(False)  # a success ends the error streak
    assert adaptive.error_delay(retry_after=12) == 12
    assert adaptive.error_delay(retry_after=600) == 30


def test_backoff_rejects_negative_interval() -> None:
    with pytest.raises(UsageError):
        Backoff(interval=-1)


# -- follow: outcomes ------------------------------------------------------------------------


def test_follow_until_completed_reports_every_activity_once_in_order() -> None:
    client = FakeClient([activity(1, BASE_NS)], [IN_PROGRESS] * 3 + [COMPLETED])
    client.timeline[2] = [activity(2, BASE_NS + SECOND), activity(3, BASE_NS + 2 * SECOND)]
    client.timeline[3] = [activity(4, BASE_NS + 3 * SECOND, "sessionCompleted")]
    changes: list[tuple] = []
    result, reported, fake_time = run(
        client, on_state_change=lambda old, new, session: changes.append((old, new))
    )
    assert (result.outcome, result.exit_code, result.state) == ("completed", 0, COMPLETED)
    assert result.session["state"] == COMPLETED
    assert ids(reported) == ["a1", "a2", "a3", "a4"]
    assert changes == [(None, IN_PROGRESS), (IN_PROGRESS, COMPLETED)]
    # Something new each time: stay quick, at the quota's pace (2.1 s between two lists);
    # the last pause is the pacer's, before the catch-up list after the read of COMPLETED.
    assert fake_time.sleeps == pytest.approx([2.1, 2.1, 2.1])


@pytest.mark.parametrize(
    ("until", "final", "outcome", "code"),
    [
        ("done", "FAILED", "failed", ExitCode.WAIT_FAILED),
        ("done", "AWAITING_PLAN_APPROVAL", "needs_user", ExitCode.WAIT_NEEDS_USER),
        ("done", "AWAITING_USER_FEEDBACK", "needs_user", ExitCode.WAIT_NEEDS_USER),
        ("done", "PAUSED", "needs_user", ExitCode.WAIT_NEEDS_USER),
        ("settled", "PAUSED", "needs_user", ExitCode.WAIT_NEEDS_USER),
        ("settled", "COMPLETED", "completed", ExitCode.OK),
        ("FAILED", "FAILED", "reached", ExitCode.OK),
        ("AWAITING_PLAN_APPROVAL", "AWAITING_PLAN_APPROVAL", "reached", ExitCode.OK),
        ("AWAITING_USER_FEEDBACK", "PAUSED", "needs_user", ExitCode.WAIT_NEEDS_USER),
        ("IN_PROGRESS", "IN_PROGRESS", "reached", ExitCode.OK),
        ("PLANNING", "COMPLETED", "completed", ExitCode.OK),
    ],
)
def test_follow_exit_codes(until: str, final: str, outcome: str, code: int) -> None:
    # No activities at all: every state change is seen at a safety refresh.
    client = FakeClient([], ["QUEUED", "QUEUED", final])
    result, _, _ = run(client, condition=until)
    assert (result.outcome, result.exit_code, result.state) == (outcome, code, final)
    assert client.session_requests == 3


def test_follow_times_out_with_10_and_never_sleeps_past_the_deadline() -> None:
    client = FakeClient([], [IN_PROGRESS])
    result, _, fake_time = run(client, timeout=20)
    assert (result.outcome, result.exit_code, result.state) == ("timeout", 10, IN_PROGRESS)
    assert fake_time.sleeps == pytest.approx([2.1, 3.0, 4.5, 6.75, 3.65])
    assert sum(fake_time.sleeps) == pytest.approx(20)
    # Idle polls only list; the session is read at the start and, for the verdict, once
    # more at the deadline.
    assert client.activity_requests == len(fake_time.sleeps) + 1
    assert client.session_requests == 2


def test_follow_timeout_zero_checks_once() -> None:
    client = FakeClient([], [IN_PROGRESS])
    result, _, fake_time = run(client, timeout=0)
    assert result.exit_code == ExitCode.WAIT_TIMEOUT
    assert fake_time.sleeps == []
    finished, _, _ = run(FakeClient([], [COMPLETED]), timeout=0)
    assert finished.exit_code == ExitCode.OK


def test_follow_rejects_negative_timeout_and_bad_condition() -> None:
    with pytest.raises(UsageError):
        run(FakeClient(), timeout=-1)
    with pytest.raises(UsageError):
        run(FakeClient(), condition="soon")


def test_follow_idle_polls_back_off_and_cost_one_list_request_each() -> None:
    client = FakeClient([activity(1, BASE_NS)], [IN_PROGRESS, IN_PROGRESS, COMPLETED], page_size=50)
    client.timeline[10] = [activity(2, BASE_NS + SECOND, "sessionCompleted")]
    result, reported, fake_time = run(client)
    assert result.exit_code == 0
    # First poll found a1 (active), then eight idle polls.
    assert fake_time.sleeps == pytest.approx([2.1, 3.0, 4.5, 6.75, 10.0, 10.0, 10.0, 10.0, 10.0])
    # The session is read around the first poll (which found a1), then only at the safety
    # refresh a minute later, right before the list that brings sessionCompleted (so no
    # catch-up list is needed: the state read is older than the activities).
    assert client.calls == ["session", "list", "session"] + ["list"] * 8 + ["session", "list"]
    assert ids(reported) == ["a1", "a2"]


def test_follow_fixed_interval() -> None:
    client = FakeClient([], [IN_PROGRESS, IN_PROGRESS, COMPLETED])
    client.timeline[2] = [activity(1, BASE_NS)]
    client.timeline[5] = [activity(2, BASE_NS + SECOND, "sessionCompleted")]
    result, _, fake_time = run(client, interval=3)
    assert result.exit_code == 0
    # The last pause is the pacer's, before the catch-up list after COMPLETED was read.
    assert fake_time.sleeps == pytest.approx([3, 3, 3, 3, 2.1])


def test_follow_idle_polls_are_one_request_each() -> None:
    client = FakeClient([], [IN_PROGRESS])
    result, _, fake_time = run(client, timeout=55)
    assert result.exit_code == ExitCode.WAIT_TIMEOUT
    # Read the session, list; then each poll is a single list until the deadline, where
    # the session is read once more for the verdict.
    polls = len(fake_time.sleeps) + 1
    assert client.calls == ["session"] + ["list"] * (polls - 1) + ["session", "list"]


def test_follow_new_activities_trigger_a_session_read() -> None:
    client = FakeClient([], [IN_PROGRESS, "AWAITING_USER_FEEDBACK"])
    client.timeline[3] = [activity(1, BASE_NS, "agentMessaged", agentMessage="which db?")]
    result, reported, _ = run(client)
    assert (result.outcome, result.state) == ("needs_user", "AWAITING_USER_FEEDBACK")
    # Polls 1 and 2 are idle; poll 3 brings the question, so the session is read after it
    # (and, since that state ends the wait, the activities once more before the verdict).
    assert client.calls == ["session", "list", "list", "list", "session", "list"]
    assert ids(reported) == ["a1"]


def test_follow_catches_up_on_activities_that_came_with_the_final_state() -> None:
    client = FakeClient([], [IN_PROGRESS, COMPLETED])
    client.timeline[2] = [activity(1, BASE_NS)]

    def completes_meanwhile() -> None:
        if client.session_requests == 2:  # between the poll that saw a1 and this read
            client.activities.append(activity(2, BASE_NS + SECOND, "sessionCompleted"))

    client.on_session = completes_meanwhile
    result, reported, _ = run(client)
    assert (result.outcome, result.exit_code) == ("completed", 0)
    assert ids(reported) == ["a1", "a2"]  # the last activity is not lost at the end


def test_follow_catch_up_can_show_the_session_is_not_done_after_all() -> None:
    # The API still says COMPLETED while a message just reopened the session.
    history = [activity(1, BASE_NS, "sessionCompleted")]
    client = FakeClient(history, [IN_PROGRESS, IN_PROGRESS, COMPLETED, COMPLETED])
    client.timeline[2] = [activity(2, BASE_NS + SECOND, "sessionCompleted")]

    def message_meanwhile() -> None:
        if client.session_requests == 3:
            client.activities.append(
                activity(3, BASE_NS + 2 * SECOND, "userMessaged", userMessage="one more thing")
            )
            client.timeline[5] = [activity(4, BASE_NS + 3 * SECOND, "sessionCompleted")]

    client.on_session = message_meanwhile
    states: list[str] = []
    result, reported, _ = run(client, on_state_change=lambda old, new, s: states.append(new))
    assert result.exit_code == 0
    assert ids(reported) == ["a1", "a2", "a3", "a4"]
    # Never a premature COMPLETED in between: the catch-up showed the reopening first.
    assert states == [IN_PROGRESS, COMPLETED]


def test_follow_safety_refresh_sees_a_state_change_without_activity() -> None:
    # PAUSED comes with no activity: only the periodic read of the session can see it.
    client = FakeClient([], [IN_PROGRESS, "PAUSED"])
    fake_time = FakeTime()
    read_at: list[float] = []
    client.on_session = lambda: read_at.append(fake_time.now)
    result = follow(
        client, "s1", clock=fake_time.clock, sleep=fake_time.sleep, on_activity=lambda a: None
    )
    assert (result.outcome, result.exit_code, result.state) == ("needs_user", 9, "PAUSED")
    assert len(read_at) == 2
    assert read_at[1] - read_at[0] >= 60.0  # SESSION_REFRESH_SECONDS
    assert read_at[1] - read_at[0] < 70.0  # at the first poll once the refresh is due
    assert client.calls.count("session") == 2
    quick = FakeClient([], [IN_PROGRESS, "PAUSED"])
    result, _, fake_time = run(quick, session_refresh=5)
    assert result.state == "PAUSED" and sum(fake_time.sleeps) < 10


def test_a_state_change_right_after_an_activity_is_seen_without_the_refresh() -> None:
    # A pause follows a progress update, with no activity of its own: the polls after an
    # activity read the session first, so it shows at once, not at the 60 s refresh.
    progress = activity(1, BASE_NS, "progressUpdated")
    client = FakeClient([], [IN_PROGRESS, IN_PROGRESS, IN_PROGRESS, "PAUSED"])
    client.timeline[2] = [progress]
    result, reported, fake_time = run(client, settle_reads=3)
    assert (result.exit_code, result.state) == (9, "PAUSED")
    assert ids(reported) == ["a1"]
    assert sum(fake_time.sleeps) < 10
    # a1 arrives at the second list and the session is read; the next polls read it first
    # again, and the second of them sees the pause
    assert client.calls == [
        "session", "list", "list", "session", "session", "list", "session", "list"
    ]  # fmt: skip


def test_settle_reads_stop_and_idle_polls_cost_one_request_again() -> None:
    client = FakeClient([], [IN_PROGRESS])
    client.timeline[1] = [activity(1, BASE_NS, "progressUpdated")]
    run(client, settle_reads=2, timeout=30)
    after_settling = client.calls[client.calls.index("list") :][:8]
    # poll 1 brings a1 (then the session is read), the next 2 polls read first, then lists
    assert after_settling == [
        "list",
        "session",
        "session",
        "list",
        "session",
        "list",
        "list",
        "list",
    ]


def test_a_wait_reads_only_the_session_until_it_says_completed() -> None:
    # `session wait` shows no activity: one GET a cycle sees PAUSED at once, and the
    # activities are listed only to judge a COMPLETED.
    paused = FakeClient([], [IN_PROGRESS, IN_PROGRESS, "PAUSED"])
    result = follow(paused, "s1", clock=FakeTime().clock, sleep=FakeTime().sleep)
    assert (result.exit_code, result.state) == (9, "PAUSED")
    assert paused.calls == ["session", "session", "session"]
    plan = activity(1, BASE_NS, "planGenerated")
    done = FakeClient([plan], [IN_PROGRESS, COMPLETED])
    result = follow(done, "s1", clock=FakeTime().clock, sleep=FakeTime().sleep)
    # COMPLETED with a plan never approved after it: the API's COMPLETED is not final.
    assert (result.exit_code, result.state) == (9, "AWAITING_PLAN_APPROVAL")
    assert done.calls == ["session", "session", "list"]


def test_follow_reads_the_session_after_an_answer_to_the_user() -> None:
    question = activity(1, BASE_NS, "agentMessaged", agentMessage="which db?")
    client = FakeClient([question], ["AWAITING_USER_FEEDBACK", IN_PROGRESS, COMPLETED])
    client.timeline[3] = [activity(2, BASE_NS + SECOND, "sessionCompleted")]
    result, _, _ = run(client, on_waiting_for_user=lambda session, recent: True)
    assert result.exit_code == 0
    assert client.calls[:4] == ["session", "list", "session", "list"]


@pytest.mark.parametrize("busy", [False, True], ids=["idle", "busy"])
def test_follow_default_schedule_lists_at_most_30_times_a_minute_12_in_20_s(busy: bool) -> None:
    client = FakeClient([], [IN_PROGRESS], page_size=100)
    if busy:  # something new at every poll keeps the quickest pace
        for poll in range(1, 2000):
            client.timeline[poll] = [activity(poll, BASE_NS + poll * SECOND)]
    fake_time = FakeTime()
    list_times: list[float] = []
    client.on_page = lambda: list_times.append(fake_time.now)
    follow(
        client,
        "s1",
        clock=fake_time.clock,
        sleep=fake_time.sleep,
        timeout=600,
        on_activity=lambda a: None,
    )
    start = list_times[0]
    # The contract (CLI.md, `session wait`), in every window, not only whole minutes.
    assert max(sum(1 for t in list_times if s <= t <= s + 60) for s in list_times) <= 30
    assert max(sum(1 for t in list_times if s <= t <= s + 20) for s in list_times) <= 12
    if busy:  # and the pacer lets it go as fast as that allows: 30 a minute, give or take
        assert len(list_times) >= 10 * 25
    if not busy:
        late = [t for t in list_times if t >= start + 300]
        assert len(late) <= 31  # idle: one poll every 10 s
        # Idle cycles are one request; the session is read every minute or so.
        assert client.calls.count("session") <= 12


def test_follow_without_replay_reports_only_new_activities() -> None:
    old = [activity(n, BASE_NS + n * SECOND) for n in range(7)]
    client = FakeClient(old, [IN_PROGRESS, IN_PROGRESS, COMPLETED], page_size=2)
    client.timeline[2] = [activity(7, BASE_NS + 7 * SECOND)]
    client.timeline[3] = [activity(8, BASE_NS + 8 * SECOND, "sessionCompleted")]
    result, reported, _ = run(client, replay=False)
    assert result.exit_code == 0
    assert ids(reported) == ["a7", "a8"]


def test_follow_recovers_from_transient_errors_without_losing_or_repeating() -> None:
    history = [activity(n, BASE_NS + n * SECOND) for n in range(8)]
    client = FakeClient(history, [IN_PROGRESS] * 5 + [COMPLETED], page_size=3)
    client.activity_errors[2] = error(Unavailable)  # mid-drain of the first poll
    client.timeline[3] = [activity(8, BASE_NS + 8 * SECOND)]
    client.session_errors[4] = error(RateLimited)  # the read after the poll that found a8
    client.activity_errors[6] = error(Unavailable)
    client.timeline[5] = [activity(9, BASE_NS + 9 * SECOND, "sessionCompleted")]
    result, reported, fake_time = run(client)
    assert result.exit_code == 0
    assert ids(reported) == [f"a{n}" for n in range(10)]
    # Error pause, quick after the catch-up, then a new streak of errors; the pacer keeps
    # every list (pages and retries too) 2.1 s after the one before.
    assert fake_time.sleeps == pytest.approx([2.1, 2.1, 2.1, 2.1, 2.1, 4.0, 2.1])


def test_follow_tells_of_failed_looks_and_of_the_first_good_one_after() -> None:
    history = [activity(n, BASE_NS + n * SECOND) for n in range(3)]
    client = FakeClient(history, [IN_PROGRESS] * 3 + [COMPLETED])
    client.activity_errors[2] = error(Unavailable)
    client.activity_errors[3] = error(Unavailable)
    heard: list[tuple[str | None, float]] = []
    result, _, _ = run(
        client,
        on_poll_error=lambda e, delay: heard.append((type(e).__name__ if e else None, delay)),
    )
    assert result.exit_code == 0
    assert [name for name, _ in heard] == ["Unavailable", "Unavailable", None]
    assert all(delay > 0 for name, delay in heard if name) and heard[-1][1] == 0


def test_follow_honours_retry_after_on_rate_limit() -> None:
    client = FakeClient([], [COMPLETED])
    limited = error(RateLimited)
    limited.retry_after = 7.0
    client.session_errors[1] = limited
    result, _, fake_time = run(client)
    assert result.exit_code == 0
    assert fake_time.sleeps == [7.0]


def test_follow_gives_up_after_a_long_outage() -> None:
    client = FakeClient([], [IN_PROGRESS])
    for number in range(1, 100):
        client.session_errors[number] = error(Unavailable)
    with pytest.raises(Unavailable):
        run(client, give_up_after=60)


def test_follow_timeout_during_an_outage_raises_the_outage() -> None:
    # Nobody saw the session before the deadline: "still working" (10) would be a guess.
    client = FakeClient([], [IN_PROGRESS])
    for number in range(1, 100):
        client.session_errors[number] = error(Unavailable)
    with pytest.raises(Unavailable):
        run(client, timeout=10)


def test_follow_timeout_after_an_outage_that_ended_is_a_timeout() -> None:
    client = FakeClient([], [IN_PROGRESS] * 100)
    for number in range(1, 4):
        client.session_errors[number] = error(Unavailable)
    result, _, fake_time = run(client, timeout=30)
    assert result.exit_code == ExitCode.WAIT_TIMEOUT
    assert result.state == IN_PROGRESS
    assert sum(fake_time.sleeps) == 30


def test_follow_tolerates_activities_404_right_after_create() -> None:
    client = FakeClient([], ["QUEUED", COMPLETED])
    client.activity_errors[1] = error(NotFound)
    result, _, fake_time = run(client)
    assert (result.exit_code, result.state) == (0, COMPLETED)
    assert fake_time.sleeps == pytest.approx([2.1])


def test_follow_activities_404_after_the_grace_period_is_raised() -> None:
    client = FakeClient([], [IN_PROGRESS])
    for number in range(1, 100):
        client.activity_errors[number] = error(NotFound)
    with pytest.raises(NotFound):
        run(client, not_found_grace=10)


def test_follow_unknown_session_fails_at_once() -> None:
    client = FakeClient([], [IN_PROGRESS])
    client.session_errors[1] = NotFound("NOT_FOUND (404): no such session")
    with pytest.raises(NotFound):
        run(client)
    assert client.session_requests == 1


def test_follow_keeps_waiting_while_a_reopened_session_works() -> None:
    history = [
        activity(1, BASE_NS, "sessionCompleted"),
        activity(2, BASE_NS + SECOND, "userMessaged", userMessage="also fix the docs"),
    ]
    # The API still says COMPLETED right after the message.
    client = FakeClient(history, [COMPLETED, COMPLETED, IN_PROGRESS, COMPLETED])
    client.timeline[3] = [activity(3, BASE_NS + 2 * SECOND)]
    client.timeline[4] = [activity(4, BASE_NS + 3 * SECOND, "sessionCompleted")]
    states: list[str] = []
    result, reported, _ = run(client, on_state_change=lambda old, new, s: states.append(new))
    assert result.exit_code == 0
    assert client.session_requests == 4
    assert states == [IN_PROGRESS, COMPLETED]
    assert ids(reported) == ["a1", "a2", "a3", "a4"]


def test_follow_completed_with_pending_plan_needs_the_user() -> None:
    client = FakeClient([activity(1, BASE_NS, "planGenerated", plan={"id": "p"})], [COMPLETED])
    result, _, _ = run(client)
    assert (result.outcome, result.exit_code) == ("needs_user", 9)
    assert result.state == AWAITING_PLAN_APPROVAL
    reached, _, _ = run(client, condition="awaiting_plan_approval")
    assert reached.exit_code == 0


def test_follow_interactive_answer_keeps_following() -> None:
    plan = activity(1, BASE_NS, "planGenerated", plan={"id": "p"})
    states = [AWAITING_PLAN_APPROVAL, AWAITING_PLAN_APPROVAL, IN_PROGRESS, COMPLETED]
    client = FakeClient([plan], states)
    client.timeline[2] = [activity(2, BASE_NS + SECOND, "planApproved", planId="p")]
    client.timeline[4] = [activity(3, BASE_NS + 2 * SECOND, "sessionCompleted")]
    asked: list[list[str]] = []

    def approve(session: dict, recent: list[dict]) -> bool:
        asked.append(ids(recent))
        return True

    result, _, _ = run(client, on_waiting_for_user=approve)
    assert result.exit_code == 0
    # Asked once: the second, stale AWAITING_PLAN_APPROVAL does not ask again.
    assert asked == [["a1"]]


def test_follow_asks_again_after_a_new_question_and_stops_when_declined() -> None:
    question = activity(1, BASE_NS, "agentMessaged", agentMessage="which db?")
    states = ["AWAITING_USER_FEEDBACK"] * 3
    client = FakeClient([question], states)
    client.timeline[3] = [activity(2, BASE_NS + SECOND, "agentMessaged", agentMessage="and?")]
    answers = iter([True, False])
    calls: list[int] = []

    def prompt(session: dict, recent: list[dict]) -> bool:
        calls.append(client.session_requests)
        return next(answers)

    result, _, _ = run(client, on_waiting_for_user=prompt)
    assert calls == [1, 3]
    assert (result.outcome, result.exit_code) == ("needs_user", 9)


def test_follow_settled_does_not_prompt() -> None:
    client = FakeClient([], ["PAUSED"])
    result, _, _ = run(client, condition="settled", on_waiting_for_user=lambda s, r: True)
    assert result.exit_code == ExitCode.WAIT_NEEDS_USER


def test_follow_lets_keyboard_interrupt_through() -> None:
    client = FakeClient([], [IN_PROGRESS])

    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        follow(client, "s1", sleep=interrupted, clock=lambda: 0.0)


# -- against the real client ---------------------------------------------------------------


class ApiStub:
    """A MockTransport handler: one session whose activities come in two pages."""

    def __init__(self) -> None:
        self.state = IN_PROGRESS
        self.activities = [
            activity(1, BASE_NS + 100_000_000),
            activity(2, BASE_NS + SECOND),
            activity(3, BASE_NS + 2 * SECOND + 123_456_789),
        ]
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if not request.url.path.endswith("/activities"):
            return httpx.Response(200, json={"id": "s1", "state": self.state})
        since = request.url.params.get("filter", "").removeprefix('create_time>"')[:-1]
        since_ns = timestamp_ns(since) if since else None
        matching = [
            a
            for a in self.activities
            if since_ns is None or timestamp_ns(a["createTime"]) > since_ns
        ]
        start = int(request.url.params.get("pageToken", "0"))
        body: dict[str, Any] = {}
        if matching[start : start + 2]:
            body["activities"] = matching[start : start + 2]
        if start + 2 < len(matching):
            body["nextPageToken"] = str(start + 2)
        return httpx.Response(200, json=body)

    @property
    def activity_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path.endswith("/activities")]


def real_client(stub: ApiStub) -> JulesClient:
    return JulesClient(
        "k", "http://127.0.0.1/v1alpha", transport=httpx.MockTransport(stub), sleep=lambda s: None
    )


def test_real_client_sends_the_time_filter_and_follows_pages() -> None:
    stub = ApiStub()
    poller = ActivityPoller(real_client(stub), "sessions/1")
    assert ids(poller.poll()) == ["a1", "a2", "a3"]
    assert poller.poll() == []
    first, second, idle = stub.activity_requests
    assert {r.url.path for r in (first, second, idle)} == {"/v1alpha/sessions/1/activities"}
    assert "filter" not in first.url.params
    assert second.url.params["pageToken"] == "2"
    assert idle.url.params["filter"] == 'create_time>"2026-01-17T00:03:55.123455Z"'
    assert "pageToken" not in idle.url.params


def test_real_client_follow_until_completed() -> None:
    stub = ApiStub()
    fake_time = FakeTime()
    reported: list[dict] = []

    def complete_later(seconds: float) -> None:
        fake_time.sleep(seconds)
        stub.state = COMPLETED
        stub.activities.append(activity(4, BASE_NS + 3 * SECOND, "sessionCompleted"))

    pacer = Pacer(clock=fake_time.clock, sleep=fake_time.sleep)
    result = follow(
        real_client(stub),
        "1",
        on_activity=reported.append,
        clock=fake_time.clock,
        sleep=complete_later,
        settle_reads=0,
        pacer=pacer,
    )
    assert (result.outcome, result.exit_code) == ("completed", 0)
    assert ids(reported) == ["a1", "a2", "a3", "a4"]
    # Two pages, then the poll that brought a4, then the catch-up after reading COMPLETED;
    # every one of them, pages included, went through the pacer.
    assert len(stub.activity_requests) == 4
    assert pacer.calls == 4


def test_follow_reports_the_backlog_page_by_page() -> None:
    # `activities tail` over a long backlog: each activity is reported as soon as its page
    # arrives, before the next page is requested (not after the whole backlog).
    stub = ApiStub()
    stub.state = COMPLETED
    stub.activities.append(activity(4, BASE_NS + 3 * SECOND, "sessionCompleted"))
    events: list[str] = []
    real = stub.__call__

    def recording(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/activities"):
            events.append(f"page {request.url.params.get('pageToken', '0')}")
        return real(request)

    client = JulesClient(
        "k",
        "http://127.0.0.1/v1alpha",
        transport=httpx.MockTransport(recording),
        sleep=lambda s: None,
    )
    fake_time = FakeTime()
    result = follow(
        client,
        "1",
        on_activity=lambda a: events.append(a["id"]),
        clock=fake_time.clock,
        sleep=fake_time.sleep,
        settle_reads=0,
    )
    assert result.outcome == "completed"
    assert events[:6] == ["page 0", "a1", "a2", "page 2", "a3", "a4"]


def test_a_stream_that_fails_part_way_loses_and_repeats_nothing() -> None:
    stub = ApiStub()
    broken = {"on": True}
    real = stub.__call__

    def flaky(request: httpx.Request) -> httpx.Response:
        if broken["on"] and request.url.params.get("pageToken") == "2":
            broken["on"] = False
            return httpx.Response(400, json={"error": {"code": 400, "message": "no"}})
        return real(request)

    client = JulesClient(
        "k", "http://127.0.0.1/v1alpha", transport=httpx.MockTransport(flaky), sleep=lambda s: None
    )
    poller = ActivityPoller(client, "sessions/1")
    seen: list[dict] = []
    with pytest.raises(BadRequest):
        for found in poller.stream():
            seen.append(found)
    assert ids(seen) == ["a1", "a2"]
    seen += poller.stream()
    assert ids(seen) == ["a1", "a2", "a3"]
    assert list(poller.stream()) == []
