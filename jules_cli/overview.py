"""Every session at a glance: what needs you, what is running, what ended lately.

The one definition behind `jules status` and `jules dashboard` (CLI.md, `jules status
--json`): which group a session is in, how far back to read, which sessions are worth an
activities request, and the one line that says what each one waits for or how it ended.
Plain data in, plain data out: no Typer, Rich or Textual here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from jules_cli.errors import JulesError
from jules_cli.states import (
    AWAITING_PLAN_APPROVAL,
    AWAITING_USER_FEEDBACK,
    COMPLETED,
    FAILED,
    IN_PROGRESS,
    PAUSED,
    PLANNING,
    QUEUED,
)
from jules_cli.times import parse_time

if TYPE_CHECKING:
    from jules_cli.api.client import JulesClient

NEEDS_YOU = "needsYou"
RUNNING = "running"
ENDED = "ended"
GROUPS: tuple[str, ...] = (NEEDS_YOU, RUNNING, ENDED)
GROUP_TITLES = {NEEDS_YOU: "Needs you", RUNNING: "Running", ENDED: "Ended"}

NEEDS_YOU_STATES = (AWAITING_PLAN_APPROVAL, AWAITING_USER_FEEDBACK, PAUSED)
RUNNING_STATES = (QUEUED, PLANNING, IN_PROGRESS)
ENDED_STATES = (COMPLETED, FAILED)

DEFAULT_SINCE = "24h"
PAGE_SIZE = 100  # the API's largest page: the fewest requests for a long history


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def created_at(session: dict[str, Any]) -> float | None:
    return parse_time(session.get("createTime"))


def updated_at(session: dict[str, Any]) -> float | None:
    """When the session last changed (its createTime when the API gives no updateTime)."""
    return parse_time(session.get("updateTime")) or created_at(session)


def group_of(session: dict[str, Any], since: float) -> str | None:
    """needsYou, running or ended; None for a session `status` leaves out: archived, an
    ended one not updated since `since` (POSIX seconds), or one in no known state."""
    if session.get("archived") is True:
        return None
    state = session.get("state")
    if state in NEEDS_YOU_STATES:
        return NEEDS_YOU
    if state in RUNNING_STATES:
        return RUNNING
    if state in ENDED_STATES:
        updated = updated_at(session)
        return ENDED if updated is not None and updated >= since else None
    return None


def wants_activities(session: dict[str, Any]) -> bool:
    """Is the session's one line read from its activities? Only for what needs you (the
    question, the plan) and for a failure (its reason): everything else is in the
    Session object itself."""
    return session.get("state") in (*NEEDS_YOU_STATES, FAILED)


def newest_first(sessions: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """By createTime, newest first; sessions without a readable time keep their order at
    the end (Python's sort is stable)."""
    return sorted(sessions, key=lambda s: -(created_at(s) or float("-inf")))


def page_is_past(page: list[Any], since: float) -> bool:
    """True when every session on the page was created before `since`: the last page
    `status` reads (CLI.md). An empty page is past too."""
    for session in page:
        created = created_at(session) if isinstance(session, dict) else None
        if created is None or created >= since:
            return False
    return True


# -- the one line per session ---------------------------------------------------------


@dataclass(frozen=True)
class Detail:
    """What a session waits for or how it ended, and the command that acts on it."""

    text: str = ""
    command: str | None = None


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return " ".join(line.split())
    return ""


def _latest(activities: Iterable[dict[str, Any]], kind: str) -> dict[str, Any] | None:
    found = None
    for activity in activities:
        if isinstance(activity, dict) and kind in activity:
            found = activity  # activities come oldest first
    return found


def plan_steps(activities: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The steps of the newest plan, in their index order ([] without a plan)."""
    plan = _latest(activities, "planGenerated")
    if plan is None:
        return []
    steps = [s for s in _list(_dict(_dict(plan["planGenerated"]).get("plan")).get("steps"))]
    steps = [s for s in steps if isinstance(s, dict)]

    def index(step: dict[str, Any]) -> float:
        value = step.get("index", 0)
        return (
            float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0
        )

    return sorted(steps, key=index)


def question(activities: Iterable[dict[str, Any]]) -> str:
    """What the agent asks, whole (sessions.pending_question: the same words as `session
    show` and the live view give)."""
    from jules_cli.sessions import pending_question

    return pending_question(activities) or ""


def failure_reason(activities: Iterable[dict[str, Any]]) -> str:
    from jules_cli.sessions import failure_text

    return failure_text(activities) or ""


def change_summary(session: dict[str, Any]) -> str:
    """`2 files, +10 -3` of the session's output patch, or ''."""
    from jules_cli.diffstat import compact_summary, diffstat

    for output in _list(session.get("outputs")):
        patch = _dict(_dict(_dict(output).get("changeSet")).get("gitPatch")).get("unidiffPatch")
        if isinstance(patch, str) and patch.strip():
            stats = diffstat(patch)
            if stats:
                return compact_summary(stats)
    return ""


def pull_request_urls(session: dict[str, Any]) -> list[str]:
    urls = []
    for output in _list(session.get("outputs")):
        url = _text(_dict(_dict(output).get("pullRequest")).get("url"))
        if url:
            urls.append(url)
    return urls


def describe(session: dict[str, Any], activities: list[dict[str, Any]] | None) -> Detail:
    """The session's one line. `activities` (oldest first) are needed only where
    wants_activities() says so; None means they were not read (or could not be)."""
    sid = _text(session.get("id")) or "ID"
    state = session.get("state")
    acts = activities or []
    if state == AWAITING_PLAN_APPROVAL:
        steps = plan_steps(acts)
        count = len(steps)
        if activities is None:
            text = "a plan waits for your approval"
        else:
            text = f"plan with {count} step{'s' if count != 1 else ''}"
        return Detail(text, f"jules session approve {sid}")
    if state == AWAITING_USER_FEEDBACK:
        asked = _first_line(question(acts)) or "Jules asked a question"
        return Detail(asked, f'jules session send {sid} "your reply"')
    if state == PAUSED:
        said = _first_line(question(acts))
        return Detail(
            f"paused: {said}" if said else "paused", f'jules session send {sid} "continue"'
        )
    if state in RUNNING_STATES:
        return Detail(last_activity_line(acts), f"jules activities tail {sid}")
    if state == COMPLETED:
        urls = pull_request_urls(session)
        if urls:
            return Detail(" ".join(urls), None)
        change = change_summary(session)
        return Detail(change or "no changes", f"jules session diff {sid}" if change else None)
    if state == FAILED:
        if activities is None:
            return Detail("(reason not read yet)", f'jules session send {sid} "..."')
        reason = _first_line(failure_reason(acts))
        # A message reopens a failed session, as `session show` and `wait` say too.
        return Detail(reason or "no reason given", f'jules session send {sid} "..."')
    return Detail("", None)


def last_activity_line(activities: list[dict[str, Any]]) -> str:
    """What the newest activity says, in one line ('' without one)."""
    for activity in reversed(activities):
        if not isinstance(activity, dict):
            continue
        if "progressUpdated" in activity:
            update = _dict(activity["progressUpdated"])
            said = _text(update.get("title")) or _text(update.get("description"))
        elif "agentMessaged" in activity:
            said = _text(_dict(activity["agentMessaged"]).get("agentMessage"))
        elif "userMessaged" in activity:
            said = "you: " + _text(_dict(activity["userMessaged"]).get("userMessage"))
        elif "planGenerated" in activity:
            count = len(plan_steps([activity]))
            said = f"plan with {count} step{'s' if count != 1 else ''}"
        elif "planApproved" in activity:
            said = "plan approved"
        else:
            said = _text(activity.get("description"))
        line = _first_line(said)
        if line:
            return line
    return ""


def answer_to(activities: Iterable[dict[str, Any]], message: str) -> str | None:
    """What the agent answered to `message`: the first line of its first agentMessaged
    after the newest userMessaged of that text (None while there is none). A session
    that ended meanwhile answers with how it ended, as `session send --wait-reply` does."""
    acts = [a for a in activities if isinstance(a, dict)]
    wanted = " ".join(message.split())
    sent = None
    for index, activity in enumerate(acts):
        said = _text(_dict(activity.get("userMessaged")).get("userMessage"))
        if "userMessaged" in activity and " ".join(said.split()) == wanted:
            sent = index
    if sent is None:
        return None
    for activity in acts[sent + 1 :]:
        if "agentMessaged" in activity:
            text = _text(_dict(activity["agentMessaged"]).get("agentMessage"))
            return _first_line(text) or "(an empty message)"
        if "sessionFailed" in activity:
            return "the session failed: " + (_first_line(failure_reason([activity])) or "?")
        if "sessionCompleted" in activity:
            return "the session completed"
    return None


def plan_progress(
    activities: list[dict[str, Any]], state: Any = None
) -> tuple[list[dict[str, Any]], int | None]:
    """The newest plan's steps and the index (into that list) of the current one.

    The API does not say which step the agent is on; the best evidence is a progress
    update that names a step's title after the plan. None while the plan waits for
    approval (nothing started), len(steps) once the session COMPLETED (all done).
    """
    steps = plan_steps(activities)
    if not steps or state == AWAITING_PLAN_APPROVAL:
        return steps, None
    if state == COMPLETED:
        return steps, len(steps)
    titles = [" ".join(_text(s.get("title")).lower().split()) for s in steps]
    current = 0
    seen_plan = False
    for activity in activities:
        if not isinstance(activity, dict):
            continue
        if "planGenerated" in activity:
            seen_plan, current = True, 0
            continue
        if not seen_plan or "progressUpdated" not in activity:
            continue
        update = _dict(activity["progressUpdated"])
        said = " ".join(
            f"{_text(update.get('title'))} {_text(update.get('description'))}".lower().split()
        )
        for number, title in enumerate(titles):
            if title and title in said:
                current = max(current, number)
    return steps, current


# -- reading it -----------------------------------------------------------------------


@dataclass
class Overview:
    """The three groups, newest first, with each shown session's one line by id."""

    needs_you: list[dict[str, Any]] = field(default_factory=list)
    running: list[dict[str, Any]] = field(default_factory=list)
    ended: list[dict[str, Any]] = field(default_factory=list)
    details: dict[str, Detail] = field(default_factory=dict)
    # Activities that could not be read, by session id (the line then says less).
    errors: dict[str, str] = field(default_factory=dict)

    def group(self, name: str) -> list[dict[str, Any]]:
        return {NEEDS_YOU: self.needs_you, RUNNING: self.running, ENDED: self.ended}[name]

    def to_json(self) -> dict[str, list[dict[str, Any]]]:
        """CLI.md's `status --json`: the Session objects unchanged, newest first."""
        return {NEEDS_YOU: self.needs_you, RUNNING: self.running, ENDED: self.ended}

    def __len__(self) -> int:
        return len(self.needs_you) + len(self.running) + len(self.ended)


def grouped(sessions: Iterable[dict[str, Any]], since: float) -> Overview:
    """Sort sessions into the groups (newest first, de-duplicated by id), no requests."""
    overview = Overview()
    seen: set[str] = set()
    for session in newest_first(s for s in sessions if isinstance(s, dict)):
        sid = _text(session.get("id")) or _text(session.get("name"))
        if sid in seen:
            continue  # a session that moved between pages while we read them
        seen.add(sid)
        name = group_of(session, since)
        if name is not None:
            overview.group(name).append(session)
    return overview


def sessions_since(client: JulesClient, since: float) -> Iterator[dict[str, Any]]:
    """Non-archived sessions newest first, stopping after the first page that holds only
    sessions created before `since` (each page costs one request)."""
    for page, _ in client.list_session_pages(page_size=PAGE_SIZE):
        yield from (s for s in page if isinstance(s, dict))
        if page_is_past(page, since):
            return


def read_overview(
    client: JulesClient,
    since: float,
    *,
    read_activities: Callable[[str], list[dict[str, Any]]] | None = None,
) -> Overview:
    """`jules status`: the groups, then activities for each session that needs you and
    each FAILED one shown (one ListActivities call each, more for a long history).

    A failing activities read does not fail the overview: that line says less, and the
    error is kept in `errors`. A failing sessions read raises (there is nothing to show).
    """
    overview = grouped(sessions_since(client, since), since)
    reader = read_activities or (lambda sid: list(client.list_activities(sid)))
    for session in (*overview.needs_you, *overview.running, *overview.ended):
        sid = _text(session.get("id"))
        activities = None
        if sid and wants_activities(session):
            try:
                activities = reader(sid)
            except JulesError as exc:
                overview.errors[sid] = str(exc)
        overview.details[sid] = describe(session, activities)
    return overview


# -- keeping it up to date (the dashboard) --------------------------------------------

# Activities kept per session for its one line and its detail view; older ones are
# dropped (the open session's view shows the newest ones).
KEPT_ACTIVITIES = 500


class Pacer(Protocol):
    """What the tracker needs of jules_cli.pacing.Pacer: may a call go now? (It also asks
    `delay()`, how long until one may, when the pacer has it.)"""

    def try_acquire(self) -> bool: ...


# In which order changed sessions have their activities read (lower first).
_READ_RANK = {
    **dict.fromkeys(NEEDS_YOU_STATES, 0),
    FAILED: 1,
    **dict.fromkeys(RUNNING_STATES, 2),
}


class ViewClosed(JulesError):
    """The view closed while a read waited for the pacer: the read is dropped."""


class _Prepaid:
    """The pacer one Tracker read's requests go through (the client asks it before
    every request): the first request was paid for by the turn the caller took; each
    further one (the next page of a long history, a retry) waits for a turn of its own,
    or ends the read when the view closes."""

    def __init__(self, tracker: Tracker) -> None:
        self.tracker = tracker
        self.paid = True

    def acquire(self, deadline: float | None = None) -> bool:
        if self.paid:
            self.paid = False
            return True
        pacer = self.tracker.pacer
        while not pacer.try_acquire():
            delay_of = getattr(pacer, "delay", None)
            delay = delay_of() if delay_of is not None else 0.05
            if self.tracker.stop.wait(min(max(delay, 0.01), 0.5)):
                raise ViewClosed("the view closed")
        return True


class Tracker:
    """The overview, kept live with a cost that scales with the quota, not with the
    number of sessions (DESIGN.md, "Polling within the API's quota"):

    * `poll_sessions()` reads ONE sessions.list page per call. With no scan under way it
      reads the first page (the newest sessions); while older pages within `since` remain
      to be read, calls alternate between the next of those and the first page, so new
      sessions show at once and the history fills in. A session not seen in a whole scan
      has gone (deleted, archived elsewhere) and is dropped.
    * `poll_activities(open_id)` reads activities (only what is new since the last read)
      for the open session first, then for sessions whose `updateTime` moved, as long as
      `pacer` lets a call go now: the pacer, shared by the whole process, holds the rate.
    """

    def __init__(
        self,
        client: JulesClient,
        since: float,
        *,
        pacer: Pacer,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self.client = client
        self.since = since
        self.pacer = pacer
        self.page_size = page_size
        self.sessions: dict[str, dict[str, Any]] = {}
        self.activities: dict[str, list[dict[str, Any]]] = {}
        self.details: dict[str, Detail] = {}
        self.version = 0  # bumped whenever anything shown changed
        self.loaded = False  # the first page has been read
        self.complete = False  # every page within `since` has been read once
        self.activity_calls = 0
        self._seen_update: dict[str, Any] = {}
        self._dirty: dict[str, None] = {}  # insertion-ordered set of ids to read
        self._pollers: dict[str, Any] = {}
        self._token: str | None = None  # the scan's next page, None: no scan under way
        self._scan_seen: set[str] = set()
        self._turn = 0
        self._hidden: set[str] = set()  # archived from here: kept out until undone
        # Front-ends read from one thread while a worker polls in another: `lock` guards
        # the state (never held during a request); `_io_lock` the per-session pollers.
        self.lock = threading.RLock()
        self._io_lock = threading.Lock()
        self.stop = threading.Event()  # set when the front-end closes: no more waiting

    # -- sessions ---------------------------------------------------------------------

    def start_first_poll(self) -> threading.Thread:
        """Read the first page in a thread now, e.g. while the front-end is still being
        imported: the wait for the network overlaps the start-up. Its failure is kept in
        `first_error` for the front-end to show."""
        self.first_error: Exception | None = None

        def first() -> None:
            try:
                self.poll_sessions()
            except Exception as exc:  # shown by the front-end, which then polls again
                self.first_error = exc

        thread = threading.Thread(target=first, name="jules-first-page", daemon=True)
        thread.start()
        return thread

    def poll_sessions(self) -> None:
        with self.lock:
            self._turn += 1
            deep = self._token is not None and self._turn % 2 == 0
            token = self._token if deep else None
        pages = self.client.list_session_pages(page_size=self.page_size, page_token=token)
        page, next_token = next(iter(pages), ([], None))
        pages.close()
        with self.lock:
            self._take_page(page, next_token, token, deep)

    def _take_page(
        self, page: list[Any], next_token: str | None, token: str | None, deep: bool
    ) -> None:
        if token is None and self._token is None:
            self._scan_seen = set()  # a new scan starts at the first page
        changed = False
        for session in page:
            if isinstance(session, dict):
                changed |= self._absorb(session)
        ids = {_text(s.get("id")) for s in page if isinstance(s, dict)}
        self._scan_seen |= ids
        if deep or self._token is None:
            if next_token and not page_is_past(page, self.since):
                self._token = next_token
            else:
                self._token = None
                changed |= self._drop_unseen()
                if not self.complete:
                    self.complete, changed = True, True
        if not self.loaded or changed:
            self.version += 1
        self.loaded = True

    def _absorb(self, session: dict[str, Any]) -> bool:
        sid = _text(session.get("id"))
        if not sid or sid in self._hidden:
            return False
        before = self.sessions.get(sid)
        self.sessions[sid] = session
        # updateTime moves on state transitions (jules-api.md 10.12); the state itself is
        # compared too, for a transition stamped with the time of the one before it.
        updated = (session.get("updateTime"), session.get("state"))
        moved = self._seen_update.get(sid, object()) != updated
        self._seen_update[sid] = updated
        if moved:
            acts = self.activities.get(sid)
            if session.get("state") == FAILED and acts is not None and not failure_reason(acts):
                # Read while it ran: its failure is in activities not read yet (next turn),
                # so "no reason given" would be a guess.
                acts = None
            self.details[sid] = describe(session, acts)
            if group_of(session, self.since) in (NEEDS_YOU, RUNNING) or (
                session.get("state") == FAILED and group_of(session, self.since) == ENDED
            ):
                self._dirty[sid] = None
        return before != session

    def _drop_unseen(self) -> bool:
        gone = [sid for sid in self.sessions if sid not in self._scan_seen]
        for sid in gone:
            self._forget(sid)
        return bool(gone)

    def forget(self, sid: str) -> None:
        with self.lock:
            self._forget(sid)

    def _forget(self, sid: str) -> None:
        for store in (self.sessions, self.activities, self.details, self._seen_update):
            store.pop(sid, None)
        self._dirty.pop(sid, None)
        self._pollers.pop(sid, None)
        self.version += 1

    def hide(self, sid: str) -> dict[str, Any] | None:
        """Archived from here: out of the view until `unhide`."""
        with self.lock:
            session = self.sessions.get(sid)
            self._hidden.add(sid)
            self._forget(sid)
            return session

    def unhide(self, session: dict[str, Any]) -> None:
        with self.lock:
            self._hidden.discard(_text(session.get("id")))
            self._absorb(session)
            self.version += 1

    def put(self, session: dict[str, Any]) -> None:
        """A session read by other means (created, approved, messaged here)."""
        with self.lock:
            if self._absorb(session):
                self.version += 1

    # -- activities -------------------------------------------------------------------

    def touch(self, sid: str) -> None:
        """Read this session's activities at the next turn, changed or not (one that waits
        for an answer: an answer alone does not move updateTime)."""
        with self.lock:
            if sid in self.sessions:
                self._dirty[sid] = None

    def poll_activities(
        self,
        open_id: str | Callable[[], str | None] | None = None,
        *,
        most: int = 12,
        deadline: float | None = None,
    ) -> list[str]:
        """Read new activities for the open session, then for the changed ones, while the
        pacer allows; returns the ids read. With `deadline` (a time.monotonic() time) it
        waits for the pacer's turns until then, so a busy view uses its whole share of
        the quota; without, it takes only turns free at once. Failures propagate (the
        caller reports them); what was not read stays queued.

        `open_id` may be a function, asked again at every turn: a session opened while
        this waits for the pacer is read at the next turn, not after the others queued
        before it (each session is read at most once a call)."""
        current = open_id if callable(open_id) else (lambda: open_id)
        done: list[str] = []
        while len(done) < most:
            if self._next_to_read(current(), done) is None:
                break
            if not self._turn_at(deadline):
                break
            # Picked again after the wait: the open session may have changed meanwhile.
            sid = self._next_to_read(current(), done)
            if sid is None:
                break
            try:
                self.read_activities(sid)
            except ViewClosed:
                break  # the view closed
            with self.lock:
                self._dirty.pop(sid, None)
            done.append(sid)
        return done

    def _next_to_read(self, open_id: str | None, done: list[str]) -> str | None:
        """The open session (changed or not: its view is live), else the changed ones:
        those that need you first (their question or plan is what the view is for),
        then the FAILED ones (their reason), then the running ones, each newest first
        as listed; leaving out those read already in this call."""
        with self.lock:
            if open_id and open_id in self.sessions and open_id not in done:
                return open_id
            best, best_rank = None, len(_READ_RANK)
            for sid in self._dirty:
                if sid in done:
                    continue
                state = self.sessions.get(sid, {}).get("state")
                rank = _READ_RANK.get(state, len(_READ_RANK) - 1)
                if rank < best_rank:
                    best, best_rank = sid, rank
                    if rank == 0:
                        break
            return best

    def _turn_at(self, deadline: float | None) -> bool:
        """A turn of the pacer: at once, or (with `deadline`, a time.monotonic() time) by
        waiting for one until then. The wait ends early when `stop` is set (the view
        closes), so quitting never waits for the pacer."""
        while True:
            if self.pacer.try_acquire():
                return True
            delay_of = getattr(self.pacer, "delay", None)
            if deadline is None or delay_of is None:
                return False
            delay = delay_of()
            remaining = deadline - time.monotonic()
            if remaining <= 0 or delay > remaining:
                return False
            if self.stop.wait(min(max(delay, 0.01), remaining)):
                return False

    def read_activities(self, sid: str) -> list[dict[str, Any]]:
        from jules_cli.follow import ActivityPoller

        with self._io_lock:
            poller = self._pollers.get(sid)
            if poller is None:
                poller = self._pollers[sid] = ActivityPoller(self.client, sid)
            self.activity_calls += 1
            # Every request counts (CLI.md: each page and each retry is a call): the first
            # goes on the turn the caller took, a next page or a retry waits for its own.
            poller.pacer = _Prepaid(self)  # type: ignore[assignment]
            try:
                new = poller.poll()
            finally:
                poller.pacer = None
        with self.lock:
            self._take_activities(sid, new)
        return new

    def _take_activities(self, sid: str, new: list[dict[str, Any]]) -> None:
        if new or sid not in self.activities:
            kept = [*self.activities.get(sid, []), *new][-KEPT_ACTIVITIES:]
            self.activities[sid] = kept
            session = self.sessions.get(sid)
            if session is not None:
                self.details[sid] = describe(session, kept)
            self.version += 1

    @property
    def pending(self) -> int:
        """Sessions waiting for their activities to be read."""
        return len(self._dirty)

    @property
    def scanning(self) -> bool:
        return self._token is not None

    def overview(self) -> Overview:
        """A copy, safe to read while the tracker goes on polling."""
        with self.lock:
            result = grouped(list(self.sessions.values()), self.since)
            result.details = dict(self.details)
        return result

    def session(self, sid: str | None) -> dict[str, Any] | None:
        with self.lock:
            return self.sessions.get(sid) if sid else None

    def activities_of(self, sid: str) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.activities.get(sid, []))

    def detail(self, sid: str) -> Detail:
        with self.lock:
            return self.details.get(sid, Detail())


# -- filtering (the dashboard's `/`) ----------------------------------------------------


_GROUP_WORDS = (
    ("needs_you", NEEDS_YOU_STATES),
    ("running", RUNNING_STATES),
    ("ended", ENDED_STATES),
)


def matches(session: dict[str, Any], query: str) -> bool:
    """Does the session match every word of `query`? `state:S` (a prefix of the state,
    any case, or of a group's name: `state:run`, `state:ended`, `state:needs`), `repo:R`
    (a part of owner/repo), anything else a part of the title, id, prompt, repository
    or state."""
    state = _text(session.get("state")).lower()
    source = _text(_dict(session.get("sourceContext")).get("source")).lower()
    haystack = " ".join(
        _text(session.get(key)).lower() for key in ("title", "id", "prompt", "state")
    )
    for word in query.lower().split():
        key, sep, value = word.partition(":")
        if sep and key == "state":
            wanted = value.replace("-", "_")
            # No state begins as a group's name does, so the two cannot be confused.
            in_group = bool(wanted) and any(
                name.startswith(wanted) and session.get("state") in states
                for name, states in _GROUP_WORDS
            )
            if not (state.startswith(wanted) or in_group):
                return False
        elif sep and key == "repo":
            if value not in source:
                return False
        elif word not in haystack and word not in source:
            return False
    return True
