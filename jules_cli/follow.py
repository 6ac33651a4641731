"""The polling engine behind `session wait` and `activities tail`: pure logic, no output.

Three pieces, each usable alone:

* `ActivityPoller` fetches the activities that are new since its last poll. The API filter
  `create_time>"<t>"` is exclusive and several activities can share one createTime, so the
  cursor is set one microsecond before the newest time seen and the few activities in that
  window are de-duplicated by id. Only those boundary ids are kept, so following a session
  with thousands of activities holds a handful of ids, not thousands.
* `Backoff` spaces the polls: quick right after something happened, slower when idle.
  Under it, a `jules_cli.pacing.Pacer` holds every ListActivities call (page and retry
  included) to the contract's 30 a minute, 12 in any 20 s; one pacer may be shared by
  many followers in one process.
* `follow()` runs the loop: poll, judge the session's *effective* state (the API state
  corrected by what the activities say, see `effective_state`), report, decide, sleep.
  An idle poll is one request: the session is read only when new activities arrived (or
  at a slow safety refresh).

The clock and sleep are injected so tests never really wait. The client is anything with
`get_session(id)` and `list_activities(id, since=...)` (normally `JulesClient`).
"""

from __future__ import annotations

import calendar
import math
import re
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

from jules_cli.errors import ExitCode, NotFound, RateLimited, Unavailable, UsageError
from jules_cli.pacing import Pacer
from jules_cli.states import (
    AWAITING_PLAN_APPROVAL,
    COMPLETED,
    CONDITION_CHOICES,
    CONDITION_DONE,
    CONDITION_SETTLED,
    FAILED,
    IN_PROGRESS,
    STATE_UNSPECIFIED,
    USER_STATES,
    WAITABLE_STATES,
)

# -- activity kinds (jules-api.md 4.4) ------------------------------------------------------

AGENT_MESSAGED = "agentMessaged"
USER_MESSAGED = "userMessaged"
PLAN_GENERATED = "planGenerated"
PLAN_APPROVED = "planApproved"
PROGRESS_UPDATED = "progressUpdated"
SESSION_COMPLETED = "sessionCompleted"
SESSION_FAILED = "sessionFailed"
ACTIVITY_KINDS: tuple[str, ...] = (
    AGENT_MESSAGED,
    USER_MESSAGED,
    PLAN_GENERATED,
    PLAN_APPROVED,
    PROGRESS_UPDATED,
    SESSION_COMPLETED,
    SESSION_FAILED,
)


def activity_kind(activity: dict[str, Any]) -> str | None:
    """Which member of the activity oneof is set; None for kinds this version doesn't know."""
    for kind in ACTIVITY_KINDS:
        if kind in activity:
            return kind
    return None


# -- durations ---------------------------------------------------------------------------

_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
_DURATION = re.compile(
    rf"^(?:(?P<plain>{_NUMBER})"
    rf"|(?:(?P<d>{_NUMBER})d)?(?:(?P<h>{_NUMBER})h)?(?:(?P<m>{_NUMBER})m)?(?:(?P<s>{_NUMBER})s)?)$"
)


def parse_duration(text: str) -> float:
    """`90`, `90s`, `15m`, `2h`, `1h30m`, `1.5m`, `7d` -> seconds."""
    cleaned = str(text).strip().lower().replace(" ", "")
    hint = "give seconds or a duration such as 90s, 15m, 2h, 1h30m or 7d"
    if cleaned.startswith("-"):
        raise UsageError(f"invalid duration {text!r}: it must not be negative", hint)
    match = _DURATION.match(cleaned)
    if not cleaned or match is None or not any(match.groupdict().values()):
        raise UsageError(f"invalid duration {text!r}", hint)
    if match["plain"] is not None:
        seconds = float(match["plain"])
    else:
        seconds = sum(
            float(match[unit]) * factor
            for unit, factor in (("d", 86400.0), ("h", 3600.0), ("m", 60.0), ("s", 1.0))
            if match[unit] is not None
        )
    if not math.isfinite(seconds):
        raise UsageError(f"invalid duration {text[:20]!r}...: too long", hint)
    return seconds


# -- timestamps --------------------------------------------------------------------------

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(?:[Zz]|([+-])(\d{2}):?(\d{2}))$"
)
_NS = 1_000_000_000
_MICROSECOND_NS = 1_000
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def timestamp_ns(value: Any) -> int | None:
    """RFC 3339 with 0 to 9 fractional digits -> integer nanoseconds since the epoch.

    Integers, because the API's timestamps carry nanoseconds and a float cannot hold a
    present-day time to the nanosecond; comparing the strings is wrong too (`.5Z` vs
    `.123Z`, offsets). None when the value is missing or not a time.
    """
    if not isinstance(value, str):
        return None
    match = _RFC3339.match(value.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    try:
        # Validates the calendar fields; a leap second (:60) is counted as :59 + 1 s.
        datetime(year, month, day, hour, minute, min(second, 59))
    except ValueError:
        return None
    seconds = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    if match[8]:
        offset = (int(match[9]) * 60 + int(match[10])) * 60
        seconds -= offset if match[8] == "+" else -offset
    fraction = int((match[7] or "").ljust(9, "0"))
    return seconds * _NS + fraction


def format_timestamp(ns: int) -> str:
    """Nanoseconds since the epoch -> RFC 3339 UTC with microseconds, rounded down.

    Microseconds because every server-side parser handles six digits; rounding down only
    widens an exclusive `create_time>` window, and the poller de-duplicates what it re-reads.
    """
    seconds, fraction = divmod(ns, _NS)
    moment = _EPOCH + timedelta(seconds=seconds)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{fraction // _MICROSECOND_NS:06d}Z"


def _floor_to_microsecond(ns: int) -> int:
    return ns - ns % _MICROSECOND_NS


# -- new activities ------------------------------------------------------------------------


class ActivitySource(Protocol):
    # With a pacer, `list_activities(session, since=..., pacer=pacer)` (JulesClient).
    def list_activities(self, session: str, *, since: str | None = None) -> Iterable[dict]: ...


class FollowClient(ActivitySource, Protocol):
    def get_session(self, session: str) -> dict[str, Any]: ...


def activity_key(activity: dict[str, Any]) -> str:
    """What identifies an activity for de-duplication."""
    if activity.get("id"):
        return str(activity["id"])
    if activity.get("name"):
        return str(activity["name"]).rsplit("/", 1)[-1]
    # No id at all (never seen, but parse tolerantly): the content is the identity.
    return repr(sorted(activity.items(), key=lambda item: item[0]))


class ActivityPoller:
    """Returns, at each `poll()`, the activities not returned before, oldest first.

    Each poll is one `list_activities(session, since=cursor)`, drained over all its pages
    (the client follows nextPageToken lazily). The cursor is the newest createTime seen
    minus one microsecond, rounded down to the microsecond: activities sharing the newest
    timestamp, including ones created later with that very timestamp, are re-read and
    dropped by id. Only the ids newer than the cursor are remembered, and anything at or
    before it is dropped by time, so memory stays small however long the session.

    A poll that fails part-way (the error propagates) keeps what it already read: those
    activities come out at the start of the next successful poll, and the cursor has
    moved past them, so nothing is lost or repeated.

    `since` (RFC 3339, exclusive) skips everything up to that time. With `pacer`
    (jules_cli.pacing), every request of every poll waits for its turn there.
    """

    # The boundary-id map is pruned once it grows past this (or past twice its size after
    # the last prune, when many activities share one timestamp), so pruning is amortised.
    _PRUNE_AT = 256

    def __init__(
        self,
        client: ActivitySource,
        session_id: str,
        *,
        since: str | None = None,
        pacer: Pacer | None = None,
    ):
        self._client = client
        self.session_id = session_id
        self.pacer = pacer
        self._floor_ns: int | None = None
        if since is not None:
            self._floor_ns = timestamp_ns(since)
            if self._floor_ns is None:
                raise UsageError(
                    f"invalid time {since!r}", "give an RFC 3339 time such as 2026-01-17T00:03:53Z"
                )
        self._newest_ns: int | None = None
        self._boundary: dict[str, int] = {}  # key -> createTime (ns), only keys past the cursor
        self._prune_at = self._PRUNE_AT
        self._timeless: set[str] = set()  # activities without a usable createTime (rare)
        self._pending: list[dict[str, Any]] = []
        self.polls = 0  # successful polls so far

    @property
    def cursor(self) -> str | None:
        """The `since` the next poll sends (None: from the beginning)."""
        cursor_ns = self._cursor_ns()
        return None if cursor_ns is None else format_timestamp(cursor_ns)

    @property
    def remembered_ids(self) -> int:
        """How many activity ids are held for de-duplication (bounded, see class doc)."""
        return len(self._boundary) + len(self._timeless)

    def _cursor_ns(self) -> int | None:
        candidates = []
        if self._newest_ns is not None:
            candidates.append(_floor_to_microsecond(self._newest_ns - _MICROSECOND_NS))
        if self._floor_ns is not None:
            candidates.append(_floor_to_microsecond(self._floor_ns))
        return max(candidates) if candidates else None

    def poll(self) -> list[dict[str, Any]]:
        for activity in self._listing():
            if self._accept(activity):
                self._pending.append(activity)
        self._prune()
        self.polls += 1
        new, self._pending = self._pending, []
        return new

    def stream(self) -> Iterator[dict[str, Any]]:
        """One poll that yields each new activity as soon as its page arrives, so a long
        backlog is shown page by page in flat memory (poll() holds it all). A stream that
        fails part-way has delivered what it yielded, and the cursor is past it."""
        pending, self._pending = self._pending, []
        yield from pending
        for activity in self._listing():
            if self._accept(activity):
                yield activity
        self._prune()
        self.polls += 1

    def _listing(self) -> Iterable[dict[str, Any]]:
        """One list from the cursor on, its requests paced when there is a pacer."""
        if self.pacer is None:
            return self._client.list_activities(self.session_id, since=self.cursor)
        return self._client.list_activities(self.session_id, since=self.cursor, pacer=self.pacer)

    def _accept(self, activity: dict[str, Any]) -> bool:
        """Remember the activity; True when it is new."""
        key = activity_key(activity)
        created = timestamp_ns(activity.get("createTime"))
        if created is None:
            if key in self._timeless:
                return False
            self._timeless.add(key)
            return True
        if self._floor_ns is not None and created <= self._floor_ns:
            return False
        cursor = self._cursor_ns()
        # Everything up to the newest time seen has been read (the list is oldest first),
        # so an activity at or before the cursor is a repeat whose id was already pruned.
        if (cursor is not None and created <= cursor) or key in self._boundary:
            return False
        self._boundary[key] = created
        if self._newest_ns is None or created > self._newest_ns:
            self._newest_ns = created
        if len(self._boundary) > self._prune_at:
            self._prune()
        return True

    def _prune(self) -> None:
        cursor = self._cursor_ns()
        if cursor is not None:
            self._boundary = {k: t for k, t in self._boundary.items() if t > cursor}
        self._prune_at = max(self._PRUNE_AT, 2 * len(self._boundary))


# -- the effective state ---------------------------------------------------------------------


def effective_state(session: dict[str, Any], activities_seen: Iterable[dict[str, Any]]) -> str:
    """The session's state as `wait` should judge it, given its activities (oldest first).

    The API's COMPLETED is not final (jules-api.md 5.1, 10.9), so for a COMPLETED session:
    * a plan generated after the last sessionCompleted (or with none at all) and not
      approved since means AWAITING_PLAN_APPROVAL (the API reports COMPLETED, 3.8);
    * a userMessaged or planApproved after the last sessionCompleted means the session was
      reopened and is IN_PROGRESS; when no sessionCompleted was seen, the session's
      updateTime (set on state transitions) stands for the completion instead;
    * otherwise COMPLETED. Other states are returned as the API gives them.
    """
    state = str(session.get("state") or STATE_UNSPECIFIED)
    if state != COMPLETED:
        return state
    completion_seen = False
    plan_pending = False
    user_acted_since_completion = False
    newest_user_action_ns: int | None = None
    for activity in activities_seen:
        kind = activity_kind(activity)
        if kind == SESSION_COMPLETED:
            completion_seen = True
            plan_pending = False
            user_acted_since_completion = False
        elif kind == PLAN_GENERATED:
            plan_pending = True
        elif kind in (PLAN_APPROVED, USER_MESSAGED):
            if kind == PLAN_APPROVED:
                plan_pending = False
            user_acted_since_completion = True
            created = timestamp_ns(activity.get("createTime"))
            if created is not None and (
                newest_user_action_ns is None or created > newest_user_action_ns
            ):
                newest_user_action_ns = created
    if plan_pending:
        return AWAITING_PLAN_APPROVAL
    if completion_seen:
        return IN_PROGRESS if user_acted_since_completion else COMPLETED
    updated = timestamp_ns(session.get("updateTime"))
    if (
        newest_user_action_ns is not None
        and updated is not None
        and newest_user_action_ns > updated
    ):
        return IN_PROGRESS
    return COMPLETED


class StateEvidence:
    """The activities `effective_state` needs, and no more: the relevant kinds since the
    last sessionCompleted (that one included). Bounded by the user's own actions."""

    _RELEVANT = (SESSION_COMPLETED, PLAN_GENERATED, PLAN_APPROVED, USER_MESSAGED)

    def __init__(self) -> None:
        self.activities: list[dict[str, Any]] = []

    def add(self, activity: dict[str, Any]) -> None:
        kind = activity_kind(activity)
        if kind == SESSION_COMPLETED:
            self.activities = [activity]
        elif kind in self._RELEVANT:
            self.activities.append(activity)


# -- conditions and outcomes ------------------------------------------------------------------

OUTCOME_REACHED = "reached"
OUTCOME_COMPLETED = "completed"
OUTCOME_FAILED = "failed"
OUTCOME_NEEDS_USER = "needs_user"
OUTCOME_TIMEOUT = "timeout"
OUTCOME_STALLED = "stalled"

OUTCOME_EXIT_CODES: dict[str, int] = {
    OUTCOME_REACHED: ExitCode.OK,
    OUTCOME_COMPLETED: ExitCode.OK,
    OUTCOME_FAILED: ExitCode.WAIT_FAILED,
    OUTCOME_NEEDS_USER: ExitCode.WAIT_NEEDS_USER,
    OUTCOME_TIMEOUT: ExitCode.WAIT_TIMEOUT,
    OUTCOME_STALLED: ExitCode.WAIT_STALLED,
}

# How several waits add up (`session wait A B C`): the most severe code wins, in this
# order (CLI.md): a failure beats a session waiting for you, which beats a timeout, which
# beats a stall, which beats success.
SEVERITY: tuple[int, ...] = (
    ExitCode.WAIT_FAILED,
    ExitCode.WAIT_NEEDS_USER,
    ExitCode.WAIT_TIMEOUT,
    ExitCode.WAIT_STALLED,
    ExitCode.OK,
)


def most_severe(codes: Iterable[int]) -> int:
    """The exit code of several waits together (0 for none)."""
    found = set(codes)
    return next((code for code in SEVERITY if code in found), ExitCode.OK)


@dataclass(frozen=True)
class Condition:
    """What `wait --until` waits for: `done`, `settled`, or one state name."""

    name: str  # CONDITION_DONE, CONDITION_SETTLED or one of WAITABLE_STATES

    @classmethod
    def parse(cls, text: str) -> Condition:
        cleaned = str(text).strip()
        lowered = cleaned.lower()
        if lowered in (CONDITION_DONE, CONDITION_SETTLED):
            return cls(lowered)
        state = cleaned.upper().replace("-", "_")
        if state in WAITABLE_STATES:
            return cls(state)
        raise UsageError(
            f"unknown wait condition {text!r}",
            "use one of: " + ", ".join(CONDITION_CHOICES),
        )

    @property
    def target_state(self) -> str | None:
        return self.name if self.name in WAITABLE_STATES else None

    @property
    def stops_for_user(self) -> bool:
        """True for `settled`: a session waiting for the user is what was asked for, so
        the wait ends there without offering an interactive answer."""
        return self.name == CONDITION_SETTLED

    def decide(self, state: str) -> str | None:
        """The outcome if the wait ends in `state`, or None to keep waiting.

        A session waiting for the user ends every wait (it cannot progress alone, so a
        script must not hang until its timeout): exit 9 unless that state was asked for.
        """
        if state == self.target_state:
            return OUTCOME_REACHED
        if state == COMPLETED:
            return OUTCOME_COMPLETED
        if state == FAILED:
            return OUTCOME_FAILED
        if state in USER_STATES:
            return OUTCOME_NEEDS_USER
        return None


DONE = Condition(CONDITION_DONE)


# -- pacing -------------------------------------------------------------------------------


class Backoff:
    """The pause between two polls.

    Adaptive (no `interval`): `minimum` after a poll that brought something new, then
    multiplied by `factor` at each idle poll up to `maximum`. With the defaults an idle
    session is polled after 2, 3, 4.5, 6.75, then every 10 seconds. An idle poll is one
    activities list (`follow()` reads the session only when something new arrived, and at
    a slow safety refresh), so a session that keeps the pace at `minimum` costs 30 list
    calls a minute, the contract's limit per follower (the Pacer enforces it whatever the
    schedule); an idle one settles at 6.

    A fixed `interval` replaces that schedule. After a failed poll the pause is
    `error_minimum`, doubling per consecutive failure up to `error_maximum` (never less
    than the fixed interval), so a struggling service is not hammered.
    """

    def __init__(
        self,
        interval: float | None = None,
        *,
        minimum: float = 2.0,
        maximum: float = 10.0,
        factor: float = 1.5,
        error_minimum: float = 2.0,
        error_maximum: float = 30.0,
    ) -> None:
        if interval is not None and interval < 0:
            raise UsageError(f"invalid interval {interval!r}: it must not be negative")
        if not 0 < minimum <= maximum or factor < 1:
            raise ValueError("need 0 < minimum <= maximum and factor >= 1")
        self.interval = interval
        self.minimum = minimum
        self.maximum = maximum
        self.factor = factor
        self.error_minimum = error_minimum
        self.error_maximum = error_maximum
        self._idle_delay: float | None = None
        self._error_delay: float | None = None

    @classmethod
    def scaled(cls, interval: float | None, scale: float) -> Backoff:
        """The default schedule (or `interval`) with every pause multiplied by `scale`
        (tests against the emulator, JULES_POLL_SCALE); scale 1 is the plain Backoff."""
        if scale == 1:
            return cls(interval)
        return cls(
            None if interval is None else interval * scale,
            minimum=2.0 * scale,
            maximum=10.0 * scale,
            error_minimum=2.0 * scale,
            error_maximum=30.0 * scale,
        )

    def next_delay(self, active: bool) -> float:
        """The pause after a successful poll; `active`: it brought something new."""
        self._error_delay = None
        if self.interval is not None:
            return self.interval
        if active or self._idle_delay is None:
            self._idle_delay = self.minimum
        else:
            self._idle_delay = min(self._idle_delay * self.factor, self.maximum)
        return self._idle_delay

    def error_delay(self, retry_after: float | None = None) -> float:
        """The pause after a failed poll (honouring the server's Retry-After)."""
        if self._error_delay is None:
            self._error_delay = self.error_minimum
        else:
            self._error_delay = min(self._error_delay * 2, self.error_maximum)
        delay = max(self._error_delay, self.interval or 0.0)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.error_maximum))
        return delay


# -- the follow loop -----------------------------------------------------------------------


@dataclass(frozen=True)
class FollowResult:
    session: dict[str, Any]  # the last session object fetched ({} if none arrived)
    outcome: str  # OUTCOME_REACHED / _COMPLETED / _FAILED / _NEEDS_USER / _TIMEOUT / _STALLED
    exit_code: int
    state: str  # the effective state the wait ended on
    silent_for: float | None = None  # with OUTCOME_STALLED: seconds without a new activity


class StallWatch:
    """`--stall DUR`: has a session shown no new activity for DUR?

    The silence is counted from the newest activity's createTime, or from the start of the
    wait when that is later (wall-clock seconds: createTime is the server's wall time). A
    session waiting for the user is never stalled: it is waiting for you, not stuck.
    A verdict needs a look at the activities made at or after the moment the silence
    reached DUR (`listed_at`), so an activity that arrived just before is never missed.
    """

    def __init__(self, seconds: float, started_wall: float) -> None:
        if not seconds > 0 or not math.isfinite(seconds):
            raise UsageError(f"invalid --stall {seconds!r}: give a duration above 0, e.g. 10m")
        self.seconds = seconds
        self.started_wall = started_wall
        self.newest: float | None = None  # newest activity createTime seen (POSIX seconds)
        self.listed_at: float | None = None  # wall time of the latest activities list

    def saw(self, activities: Iterable[dict[str, Any]], listed_at: float) -> None:
        for activity in activities:
            created = timestamp_ns(activity.get("createTime"))
            if created is not None and (self.newest is None or created / _NS > self.newest):
                self.newest = created / _NS
        self.listed_at = listed_at

    @property
    def quiet_since(self) -> float:
        return max(self.newest or self.started_wall, self.started_wall)

    @property
    def due_at(self) -> float:
        """Wall time at which the silence reaches the stall duration."""
        return self.quiet_since + self.seconds

    def needs_look(self, now_wall: float) -> bool:
        """The silence is long enough, but no list since then has confirmed it."""
        return now_wall >= self.due_at and (self.listed_at is None or self.listed_at < self.due_at)

    def stalled(self, now_wall: float, state: str | None) -> float | None:
        """Seconds of silence when the session counts as stalled, else None.

        The verdict counts from `quiet_since`; the seconds reported are the whole silence,
        since the newest activity (when one was seen), even when that came before the wait
        began: "no new activity for 2h" is what the user needs to know, not "for 15m"."""
        if state in USER_STATES or now_wall < self.due_at or self.needs_look(now_wall):
            return None
        since = self.newest if self.newest is not None else self.started_wall
        return max(now_wall - since, now_wall - self.quiet_since)


# How many recent activities (of any kind) the waiting-for-user hook gets to look at.
RECENT_ACTIVITIES = 50
# The API may answer 404 for a fresh session's activities for a while (jules-api.md 3.10).
NOT_FOUND_GRACE_SECONDS = 30.0
# Consecutive seconds of transient failures after which the last error is raised.
GIVE_UP_AFTER_SECONDS = 300.0
# An idle poll only lists activities; the session itself is read again at least this
# often, for the state changes that come with no activity (QUEUED -> PLANNING, PAUSED).
SESSION_REFRESH_SECONDS = 60.0
# Such a change mostly comes right after some activity (a pause after a progress
# update), so the polls that follow one read the session first too, this many of them;
# a session that stays idle is then polled with one request a time.
SETTLE_READS = 3

_REARMING_KINDS = (PLAN_GENERATED, AGENT_MESSAGED)


def follow(
    client: FollowClient,
    session_id: str,
    *,
    condition: Condition | str = DONE,
    timeout: float | None = None,
    interval: float | None = None,
    on_activity: Callable[[dict[str, Any]], None] | None = None,
    on_state_change: Callable[[str | None, str, dict[str, Any]], None] | None = None,
    on_waiting_for_user: Callable[[dict[str, Any], list[dict[str, Any]]], bool] | None = None,
    replay: bool = True,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    backoff: Backoff | None = None,
    pacer: Pacer | None = None,
    not_found_grace: float = NOT_FOUND_GRACE_SECONDS,
    give_up_after: float = GIVE_UP_AFTER_SECONDS,
    session_refresh: float = SESSION_REFRESH_SECONDS,
    settle_reads: int = SETTLE_READS,
    stall: float | None = None,
    wall: Callable[[], float] = time.time,
    on_poll_error: Callable[[Exception | None, float], None] | None = None,
) -> FollowResult:
    """Follow a session until `condition` decides, or `timeout` seconds pass.

    Each cycle polls the session's new activities and reports them to `on_activity` in
    order (with `replay=False`, those that existed before the start are not reported),
    computes the effective state, calls `on_state_change(old, new, session)` when it
    differs (old is None the first time), and decides.

    Without `on_activity` and `on_waiting_for_user` (`session wait`) a cycle is one
    session GET, plus a list of the new activities once the API says COMPLETED. Otherwise
    an idle cycle is one request (the activities list), and the session is read (GET) only
    when its state may have moved: before the list on the first cycle, on the
    `settle_reads` cycles after one that brought activities, after a failed cycle or an
    answer to the user, at the deadline (so a timeout reports the session as
    it is) and when `session_refresh` seconds passed since the last read (a safety refresh
    for state changes that come without an activity, like PAUSED); and after a list that
    brought new activities, unless the session read just before it already ends the wait
    (activities at least as recent as the state it was judged with). When the session was
    read *after* the list and its state would end the wait, the activities are listed once
    more first, so those that led there (e.g. sessionCompleted) are reported before the
    end and judged with that state.

    A session waiting for the user ends the wait with exit 9 unless that state was asked
    for, except that `on_waiting_for_user(session, recent_activities)` may answer the plan
    or question and return True to keep following; it is asked again only once the state
    changes or the agent posts a new plan or message. `settled` ends on those states
    without asking (still exit 9: the code says where the session ended up).

    Every activities list waits for its turn at `pacer` (default: a new one on `clock` and
    `sleep`; pass `jules_cli.pacing.shared()` to share the quota with other followers).
    At the deadline the activities are listed only if the pacer has a turn free at once.

    Unavailable and RateLimited are retried with growing pauses without losing the cursor,
    and raised after `give_up_after` seconds of consecutive failures; a 404 on the
    activities is tolerated for `not_found_grace` seconds after the start, until the first
    successful poll. The timeout uses `clock` and no pause runs past it; when the last poll
    before it failed, that failure is raised rather than reporting a timeout. Any other
    error, and KeyboardInterrupt, propagates.

    `stall` (seconds): a session not waiting for the user whose newest activity is that
    old (or older than the start) ends the follow with OUTCOME_STALLED (exit 11); `wall`
    is the wall clock that activity times are compared with.

    `on_poll_error(error, delay)` hears of each failed cycle that will be tried again
    after `delay` seconds, and `(None, 0)` once a cycle succeeds again (a live view says
    the service is failing rather than look frozen).
    """
    if isinstance(condition, str):
        condition = Condition.parse(condition)
    if timeout is not None and timeout < 0:
        raise UsageError(f"invalid timeout {timeout!r}: it must not be negative")
    pacing = backoff or Backoff(interval)
    if pacer is None:
        pacer = Pacer(clock=clock, sleep=sleep)
    poller = ActivityPoller(client, session_id, pacer=pacer)
    evidence = StateEvidence()
    recent: deque[dict[str, Any]] = deque(maxlen=RECENT_ACTIVITIES)
    started = clock()
    deadline = None if timeout is None else started + timeout
    stall_watch = None if stall is None else StallWatch(stall, wall())
    session: dict[str, Any] = {}
    session_read_at: float | None = None
    refresh_next = True  # read the session before the next list
    settle_reads_left = 0  # further polls that read the session first (see SETTLE_READS)
    state: str | None = None
    failing_since: float | None = None
    last_error: Exception | None = None
    hook_armed = True

    def absorb_poll() -> int:
        """Poll, recording and reporting each new activity as its page arrives (a long
        backlog prints page by page, and nothing but the evidence and the recent ones is
        kept); how many came. One that re-arms the user hook re-arms it."""
        nonlocal hook_armed
        if deadline is not None and clock() >= deadline and pacer.delay() > 0:
            return 0  # no turn before the deadline: the session alone tells the end
        report = replay or poller.polls > 0
        count = 0
        listed_at = wall()
        for activity in poller.stream():
            count += 1
            if stall_watch is not None:
                stall_watch.saw((activity,), listed_at)
            evidence.add(activity)
            recent.append(activity)
            if report and on_activity is not None:
                on_activity(activity)
            if activity_kind(activity) in _REARMING_KINDS:
                hook_armed = True
        if stall_watch is not None:
            stall_watch.saw((), listed_at)  # the whole list was read: the look counts
        return count

    def read_session() -> dict[str, Any]:
        nonlocal session_read_at
        found = client.get_session(session_id)
        session_read_at = clock()
        return found

    # Without an activity to report or a question to answer (`session wait`) the state is
    # the news: one session GET a cycle, so a change that comes with no activity (PAUSED)
    # is seen at once; the activities are listed only once the API says COMPLETED, which
    # is not final (effective_state).
    state_only = on_activity is None and on_waiting_for_user is None

    while True:
        step = "session"
        try:
            if state_only:
                session = read_session()
                new_activities = 0
                if str(session.get("state")) == COMPLETED or (
                    stall_watch is not None and stall_watch.needs_look(wall())
                ):
                    step = "activities"
                    new_activities = absorb_poll()
                new_state = effective_state(session, evidence.activities)
            else:
                now = clock()
                read_first = (
                    refresh_next
                    or settle_reads_left > 0
                    or session_read_at is None
                    or now - session_read_at >= session_refresh
                    or (deadline is not None and now >= deadline)
                )
                if read_first:
                    session = read_session()
                    settle_reads_left = max(settle_reads_left - 1, 0)
                refresh_next = False
                step = "activities"
                new_activities = absorb_poll()
                if new_activities:
                    settle_reads_left = settle_reads
                new_state = effective_state(session, evidence.activities)
                if new_activities and (not read_first or condition.decide(new_state) is None):
                    # Something happened, maybe since the session was read: read it again.
                    step = "session"
                    session = read_session()
                    new_state = effective_state(session, evidence.activities)
                    if condition.decide(new_state) is not None:
                        # The state is newer than the list: catch up before judging it final.
                        step = "activities"
                        new_activities += absorb_poll()
                        new_state = effective_state(session, evidence.activities)
        except (Unavailable, RateLimited, NotFound) as error:
            now = clock()
            if isinstance(error, NotFound) and not (
                # The session exists but its activities are not served yet (fresh session).
                step == "activities"
                and session_read_at is not None
                and poller.polls == 0
                and now - started < not_found_grace
            ):
                raise
            first_failure = failing_since is None
            failing_since = now if first_failure else failing_since
            if now - failing_since >= give_up_after:
                raise
            last_error = error
            if first_failure and session and getattr(error, "time_limit_passed", False):
                # The client's time limit (the caller's --timeout) cut this look short,
                # right after good ones: the wait ran out of time; the service did not fail.
                last_error = None
            refresh_next = True
            delay = pacing.error_delay(getattr(error, "retry_after", None))
            if on_poll_error is not None:
                on_poll_error(error, delay)
        else:
            if failing_since is not None and on_poll_error is not None:
                on_poll_error(None, 0.0)
            failing_since = None
            last_error = None
            changed = new_state != state
            if changed:
                if on_state_change is not None:
                    on_state_change(state, new_state, session)
                state = new_state
                hook_armed = True
            outcome = condition.decide(state)
            answered = False
            if outcome == OUTCOME_NEEDS_USER and not condition.stops_for_user:
                if not hook_armed:
                    outcome = None  # already answered; wait for the session to move on
                elif on_waiting_for_user is not None and on_waiting_for_user(session, list(recent)):
                    hook_armed = False
                    answered = True
                    refresh_next = True  # the answer moves the session on
                    outcome = None
            if outcome is not None:
                return FollowResult(session, outcome, OUTCOME_EXIT_CODES[outcome], state)
            if stall_watch is not None and not answered:
                silent = stall_watch.stalled(wall(), state)
                if silent is not None:
                    return FollowResult(
                        session, OUTCOME_STALLED, ExitCode.WAIT_STALLED, state, silent
                    )
            delay = pacing.next_delay(bool(new_activities) or changed or answered)
            until_due = None if stall_watch is None else stall_watch.due_at - wall()
            if until_due is not None and until_due > 0:
                # Look again right when the silence would reach the stall duration.
                delay = min(delay, until_due + 0.01)

        # Not sooner than the pacer would let the next list go anyway: one pause, not two.
        delay = max(delay, pacer.delay())
        if deadline is not None:
            remaining = deadline - clock()
            if remaining <= 0:
                if last_error is not None:
                    # The last look failed: nobody knows where the session is, so the
                    # outage (6 or 7) is the honest answer, not "still working" (10).
                    raise last_error
                return FollowResult(
                    session,
                    OUTCOME_TIMEOUT,
                    ExitCode.WAIT_TIMEOUT,
                    state or STATE_UNSPECIFIED,
                )
            delay = min(delay, remaining)
        if delay > 0:
            sleep(delay)


# -- a message and its answer ------------------------------------------------------------


class MessagingClient(ActivitySource, Protocol):
    def send_message(self, session: str, prompt: str) -> dict[str, Any]: ...


def send_and_wait(
    client: MessagingClient,
    session_id: str,
    text: str,
    *,
    timeout: float | None = None,
    interval: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    backoff: Backoff | None = None,
    pacer: Pacer | None = None,
) -> tuple[dict[str, Any] | None, int]:
    """Send a message, then wait for the agent's answer to it (`send --wait-reply`, the
    MCP server's `send_message` with `wait_reply`).

    Returns (the agentMessaged activity, 0); or the activity that ended the session
    first (sessionCompleted: 0, sessionFailed: 8); or (None, 10) at the timeout.
    Every list waits for its turn at `pacer`, as in `follow()`.
    """
    if pacer is None:
        pacer = Pacer(clock=clock, sleep=sleep)
    poller = ActivityPoller(client, session_id, pacer=pacer)
    poller.poll()  # everything so far: the answer must come after this
    client.send_message(session_id, text)
    deadline = None if timeout is None else clock() + timeout
    backoff = backoff or Backoff(interval)
    message_seen = False
    while True:
        try:
            fresh = poller.poll()
        except (Unavailable, RateLimited):
            fresh = []
        for activity in fresh:
            if "userMessaged" in activity:
                message_seen = True
            elif "agentMessaged" in activity and message_seen:
                return activity, ExitCode.OK
            elif "sessionFailed" in activity:
                return activity, ExitCode.WAIT_FAILED
            elif "sessionCompleted" in activity and message_seen:
                return activity, ExitCode.OK
        delay = max(backoff.next_delay(bool(fresh)), pacer.delay())
        if deadline is not None:
            left = deadline - clock()
            if left <= 0:
                return None, ExitCode.WAIT_TIMEOUT
            delay = min(delay, left)
        sleep(delay)


# -- several sessions at once -----------------------------------------------------------------


class ManyClient(FollowClient, Protocol):
    def list_sessions(
        self, *, archived: bool | None = False, page_size: int | None = ..., limit: int | None = ...
    ) -> Iterable[dict[str, Any]]: ...


# sessions.list serves up to this many of the newest sessions in one request.
LIST_PAGE = 100
# Below this many ids followed, reading each session is as cheap as a list page.
LIST_MIN_IDS = 2
# Once the followed sessions' places in the list are known, the page asked for reaches
# just past the oldest of them, plus this many for sessions created meanwhile: session
# objects carry their patches, so a page of 100 can be large.
LIST_SLACK = 10


class _Followed:
    """What the multi-session wait knows of one session."""

    def __init__(
        self,
        client: ActivitySource,
        session_id: str,
        stall: StallWatch | None,
        pacer: Pacer | None,
    ):
        self.id = session_id
        self.poller = ActivityPoller(client, session_id, pacer=pacer)
        self.evidence = StateEvidence()
        self.stall = stall
        self.session: dict[str, Any] = {}
        self.state: str | None = None
        self.result: FollowResult | None = None
        self.listed = True  # served by the sessions.list page, until it is not
        self.failing_since: float | None = None
        self.last_error: Exception | None = None
        self.read_ok = False  # read at least once

    def fail(self, error: Exception, now: float, give_up_after: float) -> None:
        first_failure = self.failing_since is None
        self.failing_since = now if first_failure else self.failing_since
        self.last_error = error
        if now - self.failing_since >= give_up_after:
            raise error
        if first_failure and self.read_ok and getattr(error, "time_limit_passed", False):
            # As in follow(): cut short by the caller's time limit right after good
            # looks, the wait ran out of time; the service did not fail.
            self.last_error = None

    def ok(self) -> None:
        self.failing_since = None
        self.last_error = None


def follow_many(
    client: ManyClient,
    session_ids: list[str],
    *,
    condition: Condition | str = DONE,
    timeout: float | None = None,
    interval: float | None = None,
    stall: float | None = None,
    first: bool = False,
    pacer: Pacer | None = None,
    on_state_change: Callable[[str, str | None, str, dict[str, Any]], None] | None = None,
    on_end: Callable[[str, FollowResult], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    wall: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    backoff: Backoff | None = None,
    not_found_grace: float = NOT_FOUND_GRACE_SECONDS,
    give_up_after: float = GIVE_UP_AFTER_SECONDS,
) -> list[FollowResult | None]:
    """Wait on several sessions at once (`session wait A B C`), each until `condition`.

    Returns one FollowResult per id given, in that order (repeated ids share one). With
    `first` (`--any`) it returns as soon as one session ends its wait; the others are
    then None. `on_state_change(id, old, new, session)` and `on_end(id, result)` report
    each session's moves as they happen.

    The states are read in one sessions.list page (the newest LIST_PAGE sessions, archived
    ones included) when it serves at least LIST_MIN_IDS of the sessions still followed,
    and with one sessions.get for each of the others; a session missing from the page is
    read by id from then on. Activities are listed only when needed: when the API says
    COMPLETED (which is not final, see effective_state) and when a `stall` verdict is due.
    Every list goes through `pacer`, shared by all the sessions, so the ListActivities
    calls stay within the quota however many sessions are followed; a list the pacer
    defers is made at a later cycle. Errors are handled as in `follow()`, per session:
    transient ones are retried until `give_up_after`, a 404 of the session itself (or of
    its activities after `not_found_grace`) ends the whole wait.
    """
    if isinstance(condition, str):
        condition = Condition.parse(condition)
    if timeout is not None and timeout < 0:
        raise UsageError(f"invalid timeout {timeout!r}: it must not be negative")
    if not session_ids:
        raise UsageError("give at least one session id")
    pacing = backoff or Backoff(interval)
    started = clock()
    started_wall = wall()
    deadline = None if timeout is None else started + timeout
    followed: dict[str, _Followed] = {}
    for sid in session_ids:
        if sid not in followed:
            watch = None if stall is None else StallWatch(stall, started_wall)
            followed[sid] = _Followed(client, sid, watch, pacer)
    use_list_page = len(followed) >= LIST_MIN_IDS
    page_size = LIST_PAGE

    def pending() -> list[_Followed]:
        return [f for f in followed.values() if f.result is None]

    def finish(item: _Followed, result: FollowResult) -> None:
        item.result = result
        if on_end is not None:
            on_end(item.id, result)

    def list_activities(item: _Followed) -> bool:
        """Poll the session's new activities through the pacer (every page and retry waits
        for its turn there); False, deferred to a later cycle, when no turn is free now."""
        if pacer is not None and pacer.delay() > 0:
            return False
        fresh = item.poller.poll()
        for activity in fresh:
            item.evidence.add(activity)
        if item.stall is not None:
            item.stall.saw(fresh, wall())
        return True

    def read_states(items: list[_Followed], now: float) -> bool:
        """Fresh session objects into each item; True when something failed."""
        nonlocal use_list_page, page_size
        failed = False
        by_id: dict[str, dict[str, Any]] = {}
        wanted = [item for item in items if item.listed]
        if use_list_page and len(wanted) >= LIST_MIN_IDS:
            wanted_ids = {item.id for item in wanted}
            deepest = -1
            try:
                page = client.list_sessions(archived=None, page_size=page_size, limit=page_size)
                for place, found in enumerate(page):
                    sid = str(found.get("id") or str(found.get("name", "")).rpartition("/")[2])
                    if sid in wanted_ids:
                        by_id[sid] = found
                        deepest = place
            except (Unavailable, RateLimited) as error:
                for item in wanted:
                    item.fail(error, now, give_up_after)
                return True
            page_size = min(LIST_PAGE, deepest + 1 + LIST_SLACK)
        else:
            use_list_page = False  # too few left in the page: one GET each is as cheap
        for item in items:
            if item.id in by_id:
                item.session = by_id[item.id]
                item.read_ok = True
                item.ok()
                continue
            item.listed = False  # older than the newest page (or the page is not used)
            try:
                item.session = client.get_session(item.id)
            except (Unavailable, RateLimited) as error:
                item.fail(error, now, give_up_after)
                failed = True
                continue
            item.read_ok = True
            item.ok()
        return failed

    deferred = False
    while True:
        now = clock()
        items = pending()
        failed = read_states(items, now)
        active = False
        deferred = False
        for item in items:
            if item.last_error is not None or not item.read_ok:
                continue
            api_state = str(item.session.get("state") or STATE_UNSPECIFIED)
            look = api_state == COMPLETED or (
                item.stall is not None and item.stall.needs_look(wall())
            )
            if look:
                try:
                    if not list_activities(item):
                        deferred = True
                        if api_state == COMPLETED:
                            continue  # not judged before its activities are seen
                except (Unavailable, RateLimited) as error:
                    item.fail(error, now, give_up_after)
                    failed = True
                    continue
                except NotFound:
                    if item.poller.polls > 0 or now - started >= not_found_grace:
                        raise
                    deferred = True  # a fresh session's activities are not served yet
                    continue
            new_state = effective_state(item.session, item.evidence.activities)
            if new_state != item.state:
                active = True
                if on_state_change is not None:
                    on_state_change(item.id, item.state, new_state, item.session)
                item.state = new_state
            outcome = condition.decide(new_state)
            if outcome is not None:
                code = OUTCOME_EXIT_CODES[outcome]
                finish(item, FollowResult(item.session, outcome, code, new_state))
                continue
            if item.stall is not None:
                silent = item.stall.stalled(wall(), new_state)
                if silent is not None:
                    finish(
                        item,
                        FollowResult(
                            item.session, OUTCOME_STALLED, ExitCode.WAIT_STALLED, new_state, silent
                        ),
                    )
        if first and any(f.result is not None for f in followed.values()):
            winner = next(f for sid in session_ids if (f := followed[sid]).result is not None)
            return [winner.result if sid == winner.id else None for sid in session_ids]
        if not pending():
            return [followed[sid].result for sid in session_ids]

        delay = pacing.error_delay() if failed else pacing.next_delay(active)
        if deferred and pacer is not None:
            delay = min(delay, max(pacer.delay(), 0.05))
        # Look again right when a silence reaches the stall duration; one already due and
        # waiting for its look is the pacer's (`deferred`), never a busy loop of reads.
        now_wall = wall()
        upcoming = [
            f.stall.due_at
            for f in pending()
            if f.stall is not None and f.state not in USER_STATES and f.stall.due_at > now_wall
        ]
        if upcoming:
            delay = min(delay, min(upcoming) - now_wall + 0.01)
        if deadline is not None:
            remaining = deadline - clock()
            if remaining <= 0:
                for item in pending():
                    if item.last_error is not None:
                        raise item.last_error  # nobody knows where it is: the outage, not 10
                    finish(
                        item,
                        FollowResult(
                            item.session,
                            OUTCOME_TIMEOUT,
                            ExitCode.WAIT_TIMEOUT,
                            item.state or STATE_UNSPECIFIED,
                        ),
                    )
                    if first:
                        return [item.result if sid == item.id else None for sid in session_ids]
                return [followed[sid].result for sid in session_ids]
            delay = min(delay, remaining)
        if delay > 0:
            sleep(delay)

