"""The emulator's in-memory state machine: sources, sessions and their activities.

Time is lazy. Nothing runs in the background: every public method first plays each
session's script up to "now", stamping each activity with the moment it was due, so
reported times are monotonic and realistic whenever a client happens to look. Scripted
delays are in simulated seconds, divided by `speed` to get real ones.

Every public method takes the lock, so one Emulator can serve many threads. Methods
answer with the API's JSON objects (plain dicts) or raise ApiFault.

Users point their scripts and CI at the emulator with their own (large) seeds, so no
request looks at every session: sessions are found by id in a dict, listed from sorted
indexes (one per archived flag) kept up to date on every change, and "play everything
that is due" pops a heap of due times instead of visiting each session. A page costs
O(page size + log N) however many sessions there are.
"""

from __future__ import annotations

import bisect
import copy
import heapq
import itertools
import json
import os
import random
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any

from jules_cli.emulator import content, scenario
from jules_cli.emulator.wire import (
    NANOS as NANOS_PER_SECOND,
)
from jules_cli.emulator.wire import (
    ApiFault,
    decode_page_token,
    encode_page_token,
    failed_precondition,
    format_time,
    invalid_argument,
    new_hex_id,
    new_session_id,
    not_found,
    parse_time,
    seconds_to_ns,
)
from jules_cli.states import ALL_STATES

STATE_FORMAT = "jules-emulator-state"
STATE_VERSION = 1
# `bashOutput` artifacts on or off (jules-api.md 13: the official SDK says the API stopped
# returning them, the Discovery document still lists them). The Emulator's default when
# not told, so the in-process emulator and a whole test run can be switched with it.
BASH_OUTPUT_ENV = "JULES_EMULATOR_BASH_OUTPUT"
# Bulk seeding (the control plane's /_emulator/bulk) is for benchmarks and big fixtures.
MAX_BULK = 1_000_000

DEFAULT_PAGE_SIZES = {"sources": 30, "sessions": 30, "activities": 50}
MAX_PAGE_SIZE = 100
AUTOMATION_MODES = ("AUTOMATION_MODE_UNSPECIFIED", "AUTO_CREATE_PR")
STATES = ALL_STATES  # in the order of the API reference
# Which user action a session in a given state waits for (seeded sessions have no script).
_WAITING_STATES = {
    "AWAITING_PLAN_APPROVAL": "approval",
    "AWAITING_USER_FEEDBACK": "user",
    "PAUSED": "user",
}

SESSION_FIELDS = (
    "name",
    "id",
    "prompt",
    "sourceContext",
    "title",
    "requirePlanApproval",
    "automationMode",
    "createTime",
    "updateTime",
    "state",
    "url",
    "outputs",
    "archived",
)
SOURCE_CONTEXT_FIELDS = (
    "source",
    "githubRepoContext",
    "workingBranch",
    "environmentVariablesEnabled",
)
REPO_CONTEXT_FIELDS = ("startingBranch",)


# The branches of a source that exist but are not active: the API lists active branches
# only (jules-api.md 13) and still starts a session from one of these. Kept beside the
# Source, never shown in it (see _shown_source).
INACTIVE_BRANCHES = "_inactiveBranches"


def _source(
    owner: str, repo: str, branches: list[str], private: bool = False, inactive: tuple = ()
) -> dict[str, Any]:
    source = {
        "name": f"sources/github/{owner}/{repo}",
        "id": f"github/{owner}/{repo}",
        "githubRepo": {
            "owner": owner,
            "repo": repo,
            **({"isPrivate": True} if private else {}),
            "defaultBranch": {"displayName": branches[0]},
            "branches": [{"displayName": branch} for branch in branches],
        },
    }
    if inactive:
        source[INACTIVE_BRANCHES] = list(inactive)
    return source


def default_sources() -> list[dict[str, Any]]:
    """Demo repositories connected in a fresh emulator."""
    return [
        _source("jules-demo", "hello-world", ["main", "develop"], inactive=("legacy",)),
        _source(
            "jules-demo", "webapp", ["main", "feature/login", "release/1.0"], private=True,
            inactive=("release/0.9",),
        ),  # fmt: skip
        _source("octo-org", "data-pipeline", ["master", "next"]),
    ]


def _shown_source(source: dict[str, Any]) -> dict[str, Any]:
    """A copy of a stored source as the API shows it (without the emulator's own keys)."""
    return copy.deepcopy({k: v for k, v in source.items() if k != INACTIVE_BRANCHES})


@dataclass
class SessionRecord:
    """One session with everything the emulator needs to play it (JSON-able)."""

    id: str
    seq: int
    prompt: str
    title: str
    create_ns: int
    update_ns: int
    state: str
    source_context: dict[str, Any] | None = None
    require_plan_approval: bool = False
    automation_mode: str | None = None
    archived: bool = False
    outputs: list[dict[str, Any]] = field(default_factory=list)
    # Each activity: {"seq": int, "ns": int, "body": <the API object>}.
    activities: list[dict[str, Any]] = field(default_factory=list)
    script: list[dict[str, Any]] = field(default_factory=list)
    next_due_ns: int | None = None
    # Agent replies to messages, independent of the script: {"due_ns": int, "activity": {...}}.
    replies: list[dict[str, Any]] = field(default_factory=list)
    waiting_for: str | None = None
    files: list[list] = field(default_factory=list)
    follow_ups: int = 0
    pull_request: dict[str, Any] | None = None
    activities_ready_ns: int = 0

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SessionRecord:
        # Straight into __dict__, not through __init__: a state of 100,000 sessions
        # loads in a fraction of the time (to_json() left the defaults out).
        if not _RECORD_FIELDS.issuperset(data):
            data = {key: value for key, value in data.items() if key in _RECORD_FIELDS}
        missing = _RECORD_REQUIRED.difference(data)
        if missing:
            raise ValueError(f"saved session without {sorted(missing)}")
        record = cls.__new__(cls)
        values = _record_defaults()
        values.update(data)
        record.__dict__.update(values)
        if record.activities and "cur" not in record.activities[-1]:
            _renumber_cursors(record.activities, 0)  # a state saved before cursors existed
        return record

    def to_json(self) -> dict[str, Any]:
        """The record as JSON-able data, default values left out: a state of 100,000
        sessions stays small to save and quick to load. Shares (does not copy) the
        record's lists; dump it before anything changes."""
        defaults = _RECORD_DEFAULT_VALUES
        return {
            name: value
            for name, value in self.__dict__.items()
            if name in _RECORD_FIELDS and (name not in defaults or value != defaults[name])
        }

    def page_text(self) -> str:
        """render() as pretty JSON indented for its place in a list page (two levels
        down), kept until something it shows changes."""
        fingerprint = (
            self.title,
            self.state,
            self.update_ns,
            self.archived,
            id(self.outputs),
            len(self.outputs),
            repr(self.source_context) if self.source_context else None,
        )
        cached = self.__dict__.get("_page_text")
        if cached is None or cached[0] != fingerprint:
            text = json.dumps(self.render(), indent=2, ensure_ascii=False)
            cached = (fingerprint, text.replace("\n", "\n    "))
            self.__dict__["_page_text"] = cached
        return cached[1]

    @property
    def order_key(self) -> tuple[int, int, str]:
        """Sessions list newest first: by createTime, ties by creation order."""
        return (self.create_ns, self.seq, self.id)

    def activity_index(self, activity_id: str) -> int | None:
        """Where an activity is in `activities` (an id -> position map, built on first use)."""
        index = self.__dict__.get("_by_id")
        if index is None or len(index) != len(self.activities):
            index = {record["body"]["id"]: n for n, record in enumerate(self.activities)}
            self.__dict__["_by_id"] = index
        return index.get(activity_id)

    @property
    def source(self) -> str | None:
        return (self.source_context or {}).get("source")

    @property
    def branch(self) -> str | None:
        return ((self.source_context or {}).get("githubRepoContext") or {}).get("startingBranch")

    def render(self) -> dict[str, Any]:
        # Field order as the live API returns it; default values are omitted (proto3).
        out: dict[str, Any] = {
            "name": f"sessions/{self.id}",
            "title": self.title,
            "createTime": format_time(self.create_ns),
            "updateTime": format_time(self.update_ns),
            "state": self.state,
        }
        if self.source_context:
            out["sourceContext"] = copy.deepcopy(self.source_context)
        out["prompt"] = self.prompt
        out["url"] = f"https://jules.google.com/session/{self.id}"
        if self.outputs:
            out["outputs"] = copy.deepcopy(self.outputs)
        # requirePlanApproval and automationMode are input-only: the live API never returns
        # them (jules-api.md 13), so a script that reads them back must fail here too.
        if self.archived:
            out["archived"] = True
        out["id"] = self.id
        return out


_RECORD_FIELDS = frozenset(f.name for f in fields(SessionRecord))
_RECORD_REQUIRED = frozenset(
    f.name for f in fields(SessionRecord) if f.default is MISSING and f.default_factory is MISSING
)
_RECORD_DEFAULT_VALUES = {
    f.name: f.default if f.default is not MISSING else f.default_factory()
    for f in fields(SessionRecord)
    if f.name not in _RECORD_REQUIRED
}
_MUTABLE_DEFAULTS = tuple(
    name for name, value in _RECORD_DEFAULT_VALUES.items() if isinstance(value, list)
)


def _record_defaults() -> dict[str, Any]:
    values = dict(_RECORD_DEFAULT_VALUES)
    for name in _MUTABLE_DEFAULTS:
        values[name] = []
    return values


def _renumber_cursors(activities: list[dict[str, Any]], start: int) -> None:
    """Give activities[start:] their page cursors: the createTime in nanoseconds, plus one
    nanosecond per activity that shares it, so cursors strictly increase in list order
    and a page token (a cursor) is a nanosecond timestamp like the live API's."""
    previous = activities[start - 1]["cur"] if start > 0 else None
    for record in activities[start:]:
        cursor = record["ns"] if previous is None else max(record["ns"], previous + 1)
        record["cur"] = previous = cursor


def bash_output_default() -> bool:
    """Whether bashOutput artifacts are on when nobody says: $JULES_EMULATOR_BASH_OUTPUT
    (1/true/on or 0/false/off), else on."""
    value = os.environ.get(BASH_OUTPUT_ENV, "").strip().lower()
    if not value:
        return True
    if value in ("0", "false", "off", "no"):
        return False
    if value in ("1", "true", "on", "yes"):
        return True
    raise ValueError(f"{BASH_OUTPUT_ENV} must be on or off (1/0), not {value!r}")


def _without_bash_output(body: dict[str, Any]) -> dict[str, Any]:
    artifacts = body.get("artifacts")
    if not artifacts or not any("bashOutput" in a for a in artifacts):
        return body
    kept = [a for a in artifacts if "bashOutput" not in a]
    body = {key: value for key, value in body.items() if key != "artifacts"}
    if kept:
        body["artifacts"] = kept
    return body


class _Order:
    """Sessions' order keys (createTime ns, seq, id), ascending; pages read it backwards.

    Sessions mostly arrive newest, so an insert is an append; a removal is a binary
    search plus a memmove of the tail."""

    def __init__(self, keys: Iterable[tuple[int, int, str]] = ()) -> None:
        self.keys = sorted(keys)

    def add(self, key: tuple[int, int, str]) -> None:
        if not self.keys or key > self.keys[-1]:
            self.keys.append(key)
        else:
            bisect.insort(self.keys, key)

    def remove(self, key: tuple[int, int, str]) -> None:
        index = bisect.bisect_left(self.keys, key)
        if index < len(self.keys) and self.keys[index] == key:
            del self.keys[index]

    def before(self, cursor: tuple[int, int] | None, count: int) -> list[tuple[int, int, str]]:
        """Up to `count` keys older than `cursor` (all when None), newest first."""
        end = len(self.keys) if cursor is None else bisect.bisect_left(self.keys, tuple(cursor))
        return self.keys[max(end - count, 0) : end][::-1]


class Emulator:
    """The Jules API as an in-memory state machine with simulated time.

    `speed` divides every scripted delay (speed 60: a default session takes about a
    second). `clock` returns POSIX seconds; inject one for tests. `api_key`: the only key
    accepted, or None for any non-empty key. `seed`: {"sources": [...], "sessions": [...]}
    (see docs/emulator.md). `activities_404_seconds`: simulated seconds during which a new
    session's activities answer 404, like the live API's eventual consistency.
    `bash_output`: whether scripted sessions emit bashOutput artifacts (default:
    bash_output_default(), i.e. $JULES_EMULATOR_BASH_OUTPUT, else on).
    """

    def __init__(
        self,
        *,
        speed: float = 1.0,
        clock: Callable[[], float] = time.time,
        api_key: str | None = None,
        seed: dict[str, Any] | None = None,
        activities_404_seconds: float = 2.0,
        rng_seed: int | None = None,
        bash_output: bool | None = None,
    ) -> None:
        if not speed > 0:
            raise ValueError("speed must be above 0")
        self.speed = float(speed)
        self.bash_output = bash_output_default() if bash_output is None else bool(bash_output)
        # Bumped by every change; a caller that persists the state saves only when it moved.
        self.revision = 0
        self.api_key = api_key or None
        self.activities_404_seconds = float(activities_404_seconds)
        self.lock = threading.RLock()
        self._clock = clock
        self._rng = random.Random(rng_seed)
        self._seed = copy.deepcopy(seed) if seed else None
        self._reset_state()

    # -- time and bookkeeping -------------------------------------------------------

    def _reset_state(self) -> None:
        self._offset_ns = 0
        self._seq = 0
        self._pull_numbers: dict[str, int] = {}
        self._clear_sessions()
        self._sources = default_sources()
        self.revision += 1
        if self._seed:
            self._load_seed(self._seed)

    def _clear_sessions(self) -> None:
        # A session restored from a saved state stays the raw saved dict until a request
        # touches it (_record), so loading and saving 100,000 sessions costs little more
        # than the JSON itself.
        self._sessions: dict[str, SessionRecord | dict[str, Any]] = {}
        # The sessions list's indexes, one per archived flag (see the module doc).
        self._orders = {False: _Order(), True: _Order()}
        # (due ns, session id) for every session with a scheduled step; entries that no
        # longer match _due_at (rescheduled, deleted) are stale and skipped when popped.
        self._due: list[tuple[int, str]] = []
        self._due_at: dict[str, int] = {}

    def _index(self, session: SessionRecord) -> None:
        """Make a new session known to the indexes."""
        self._sessions[session.id] = session
        self._orders[session.archived].add(session.order_key)
        self._schedule(session)

    def _schedule(self, session: SessionRecord) -> None:
        """Keep the due heap in step with the session's next scheduled step."""
        due = self._next_due(session)
        if due is None:
            self._due_at.pop(session.id, None)
        elif self._due_at.get(session.id) != due:
            self._due_at[session.id] = due
            heapq.heappush(self._due, (due, session.id))
            if len(self._due) > 2 * len(self._due_at) + 1024:
                self._due = [(d, sid) for sid, d in self._due_at.items()]
                heapq.heapify(self._due)

    def _next_due_any(self) -> int | None:
        """The earliest due time of any session (dropping stale heap entries on the way)."""
        while self._due:
            due, session_id = self._due[0]
            if self._due_at.get(session_id) == due:
                return due
            heapq.heappop(self._due)
        return None

    def now_ns(self) -> int:
        """The emulator's current time: the clock, plus any time jumped with advance()."""
        return seconds_to_ns(self._clock()) + self._offset_ns

    def now(self) -> str:
        return format_time(self.now_ns())

    def _sim_ns(self, simulated_seconds: float) -> int:
        return seconds_to_ns(simulated_seconds / self.speed)

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _new_hex(self) -> str:
        return new_hex_id(self._rng)

    def reset(self) -> None:
        """Back to a fresh emulator: demo (or seeded) sources, seeded sessions only."""
        with self.lock:
            self._reset_state()

    def advance(self, seconds: float) -> None:
        """Jump simulated time forward; reported times then run ahead of the clock."""
        if seconds < 0:
            raise ValueError("cannot go back in time")
        with self.lock:
            self._offset_ns += self._sim_ns(seconds)
            self.revision += 1
            self._catch_up()

    def settle(self, max_steps: int = 100_000) -> None:
        """Jump time forward until no session has a scheduled step left: every running
        session reaches a state where it waits for the user, or ends."""
        with self.lock:
            for _ in range(max_steps):
                self._catch_up()
                due = self._next_due_any()
                if due is None:
                    return
                self._offset_ns += max(due - self.now_ns(), 0)
                self.revision += 1

    def _catch_up(self) -> None:
        """Play every step whose time has come, in due order, popping the due heap."""
        now = self.now_ns()
        while (due := self._next_due_any()) is not None and due <= now:
            _, session_id = heapq.heappop(self._due)
            del self._due_at[session_id]
            session = self._record(session_id)
            self._play(session, now)
            self._schedule(session)
            self.revision += 1

    @staticmethod
    def _next_due(session: SessionRecord) -> int | None:
        candidates = [r["due_ns"] for r in session.replies[:1]]
        if session.script and session.next_due_ns is not None:
            candidates.append(session.next_due_ns)
        return min(candidates) if candidates else None

    def _play(self, session: SessionRecord, now: int) -> None:
        while True:
            script_due = session.next_due_ns if session.script else None
            reply_due = session.replies[0]["due_ns"] if session.replies else None
            reply_first = reply_due is not None and (script_due is None or reply_due <= script_due)
            if reply_first and reply_due <= now:
                reply = session.replies.pop(0)
                self._add_activity(session, reply["activity"], reply["due_ns"])
                continue
            if script_due is not None and script_due <= now:
                self._apply_step(session, session.script.pop(0), script_due)
                continue
            return

    def _apply_step(self, session: SessionRecord, step: dict[str, Any], at: int) -> None:
        if "state" in step:
            self._set_state(session, step["state"], at)
        for body in step.get("activities", ()):
            if not self.bash_output:
                body = _without_bash_output(body)
            self._add_activity(session, body, at)
        if "complete" in step:
            self._complete(session, step["complete"], at)
        if step.get("wait"):
            session.waiting_for = step["wait"]
            session.next_due_ns = None
        elif session.script:
            session.next_due_ns = at + self._sim_ns(session.script[0]["delay"])
        else:
            session.next_due_ns = None

    def _set_state(self, session: SessionRecord, state: str, at: int) -> None:
        if session.state != state:
            session.state = state
            session.update_ns = max(session.update_ns, at)

    def _add_activity(
        self,
        session: SessionRecord,
        body: dict[str, Any],
        at: int,
        activity_id: str | None = None,
    ) -> dict[str, Any]:
        activity_id = activity_id or self._new_hex()
        body = copy.deepcopy(body)
        # Field order as the live API returns it.
        activity: dict[str, Any] = {"name": f"sessions/{session.id}/activities/{activity_id}"}
        if body.get("description"):
            activity["description"] = body.pop("description")
        body.pop("description", None)
        activity["createTime"] = format_time(at)
        activity["originator"] = body.pop("originator", "agent")
        artifacts = body.pop("artifacts", None)
        for kind, payload in body.items():
            if kind in ("name", "id", "createTime"):
                continue
            if kind == "planGenerated" and isinstance(payload.get("plan"), dict):
                payload["plan"].setdefault("createTime", format_time(at))
            activity[kind] = payload
        if artifacts:
            activity["artifacts"] = artifacts
        activity["id"] = activity_id
        record = {"seq": self._next_seq(), "ns": at, "body": activity}
        activities = session.activities
        if not activities or at >= activities[-1]["ns"]:
            record["cur"] = at if not activities else max(at, activities[-1]["cur"] + 1)
            activities.append(record)
            index = session.__dict__.get("_by_id")
            if index is not None and len(index) == len(activities) - 1:
                index[activity_id] = len(activities) - 1
        else:
            # Older than the newest (a seed's own order): keep the list sorted by time.
            position = bisect.bisect_right(activities, at, key=lambda r: r["ns"])
            activities.insert(position, record)
            _renumber_cursors(activities, position)
            session.__dict__.pop("_by_id", None)
        return activity

    def _context(self, session: SessionRecord) -> scenario.Context:
        return scenario.Context(session.title, session.source, session.branch, self._new_hex)

    def _complete(self, session: SessionRecord, spec: dict[str, Any], at: int) -> None:
        session.files.extend(copy.deepcopy(spec.get("addFiles", [])))
        patch = content.render_patch(session.files) if session.files else ""
        completed: dict[str, Any] = {"originator": "agent", "sessionCompleted": {}}
        outputs: list[dict[str, Any]] = []
        if patch:
            change_set = self._context(session).change_set(patch, spec.get("commitMessage"))
            completed["artifacts"] = [change_set]
            if session.automation_mode == "AUTO_CREATE_PR" and session.source:
                outputs.append({"pullRequest": self._pull_request(session)})
            outputs.append(change_set)
        self._set_state(session, "COMPLETED", at)
        self._add_activity(session, completed, at)
        session.outputs = outputs
        session.update_ns = max(session.update_ns, at)

    def _pull_request(self, session: SessionRecord) -> dict[str, Any]:
        if session.pull_request is None:
            source = session.source or ""
            repo = self._find_source(source) or {}
            github = repo.get("githubRepo") or {}
            owner = github.get("owner") or "owner"
            name = github.get("repo") or "repo"
            number = self._pull_numbers.get(source, 0) + 1
            self._pull_numbers[source] = number
            slug = re.sub(r"[^a-z0-9]+", "-", session.title.lower()).strip("-")[:40] or "change"
            head = f"{slug}-{session.id}"
            session.pull_request = {
                "url": f"https://github.com/{owner}/{name}/pull/{number}",
                "title": session.title,
                "description": f"{session.title}\n\nCreated by Jules (emulated) "
                f"for session {session.id}.",
                "baseRef": session.branch or "main",
                "headRef": head,
            }
            if session.source_context is not None:
                session.source_context["workingBranch"] = head
        return copy.deepcopy(session.pull_request)

    # -- sources --------------------------------------------------------------------

    def _find_source(self, name: str) -> dict[str, Any] | None:
        for source in self._sources:
            if source["name"] == name:
                return source
        return None

    def list_sources(
        self,
        *,
        page_size: int | None = None,
        page_token: str | None = None,
        filter: str | None = None,
    ) -> dict[str, Any]:
        with self.lock:
            wanted = _parse_source_filter(filter)
            items = [s for s in self._sources if wanted is None or s["name"] in wanted]
            start = 0
            if page_token:
                # The live API's source tokens are the next source's id
                # (`github/owner/repo`, jules-api.md 6); clients must not parse them.
                start = next((n for n, s in enumerate(items) if s["id"] == page_token), -1)
                if start < 0:
                    raise invalid_argument("Invalid page token.", "page_token")
            size = _page_size(page_size, "sources")
            page = items[start : start + size]
            result: dict[str, Any] = {}
            if page:
                result["sources"] = [_shown_source(source) for source in page]
            if start + size < len(items):
                result["nextPageToken"] = items[start + size]["id"]
            return result

    def get_source(self, name: str) -> dict[str, Any]:
        with self.lock:
            source = self._find_source(name)
            if source is None:
                raise not_found()
            return _shown_source(source)

    def add_source(self, source: dict[str, Any]) -> dict[str, Any]:
        """Connect one more repository (a Source object; see docs for the short forms)."""
        with self.lock:
            normalized = normalize_source(source)
            self._sources = [s for s in self._sources if s["name"] != normalized["name"]]
            self._sources.append(normalized)
            return _shown_source(normalized)

    # -- sessions -------------------------------------------------------------------

    def _session(self, session_id: str) -> SessionRecord:
        if session_id not in self._sessions:
            raise not_found()
        return self._record(session_id)

    def _record(self, session_id: str) -> SessionRecord:
        session = self._sessions[session_id]
        if isinstance(session, dict):
            session = self._sessions[session_id] = SessionRecord.from_json(session)
        return session

    def create_session(self, body: Any) -> dict[str, Any]:
        with self.lock:
            self._catch_up()
            request = _known_fields(body, SESSION_FIELDS, "session")
            prompt = _typed(request.get("prompt"), str, "session.prompt", "TYPE_STRING")
            if not prompt or not prompt.strip():
                raise invalid_argument("session.prompt is required.", "session.prompt")
            title = _typed(request.get("title"), str, "session.title", "TYPE_STRING")
            approval = _typed(
                request.get("requirePlanApproval"),
                bool,
                "session.require_plan_approval",
                "TYPE_BOOL",
            )
            mode = request.get("automationMode")
            if mode is not None and mode not in AUTOMATION_MODES:
                where = "session.automation_mode"
                raise invalid_argument(
                    f"Invalid value at '{where}' "
                    f"(type.googleapis.com/google.labs.jules.v1alpha.AutomationMode), "
                    f"{json.dumps(mode)}",
                    where,
                )
            source_context = self._source_context(request.get("sourceContext"))
            try:
                directives = scenario.Directives.parse(prompt)
            except scenario.DirectiveError as exc:
                raise invalid_argument(f"Emulator directive {exc}", "session.prompt") from exc
            now = self.now_ns()
            session = SessionRecord(
                id=self._new_session_id(),
                seq=self._next_seq(),
                prompt=prompt,
                title=title.strip() if title and title.strip() else scenario.make_title(prompt),
                create_ns=now,
                update_ns=now,
                state="QUEUED",
                source_context=source_context,
                require_plan_approval=bool(approval),
                automation_mode=mode,
                activities_ready_ns=now + self._sim_ns(self.activities_404_seconds),
            )
            self._start_lifecycle(session, directives, now)
            self._index(session)
            self.revision += 1
            return session.render()

    def _start_lifecycle(
        self, session: SessionRecord, directives: scenario.Directives, at: int
    ) -> None:
        session.script = scenario.session_script(
            directives, self._context(session), require_approval=session.require_plan_approval
        )
        session.next_due_ns = at + self._sim_ns(session.script[0]["delay"])

    def _new_session_id(self) -> str:
        while True:
            session_id = new_session_id(self._rng)
            if session_id not in self._sessions:
                return session_id

    def _source_context(self, value: Any) -> dict[str, Any] | None:
        if value is None:
            return None  # a repoless session
        context = _known_fields(value, SOURCE_CONTEXT_FIELDS, "session.source_context")
        name = _typed(context.get("source"), str, "session.source_context.source", "TYPE_STRING")
        if not name:
            raise invalid_argument(
                "session.source_context.source is required.", "session.source_context.source"
            )
        source = self._find_source(name)
        if source is None:
            raise not_found()
        repo_field = "session.source_context.github_repo_context"
        repo_context = _known_fields(
            context.get("githubRepoContext") or {}, REPO_CONTEXT_FIELDS, repo_field
        )
        branch_field = f"{repo_field}.starting_branch"
        branch = _typed(repo_context.get("startingBranch"), str, branch_field, "TYPE_STRING")
        github = source.get("githubRepo") or {}
        known = [b.get("displayName") for b in github.get("branches") or []]
        known += source.get(INACTIVE_BRANCHES) or []  # they exist, though not listed
        if "githubRepoContext" in context and not branch:
            raise invalid_argument(f"{branch_field} is required.", branch_field)
        if not branch:
            branch = (github.get("defaultBranch") or {}).get("displayName") or "main"
        elif known and branch not in known:
            raise invalid_argument(
                f"Branch {branch!r} does not exist in {name}.",
                branch_field,
            )
        result: dict[str, Any] = {"source": name, "githubRepoContext": {"startingBranch": branch}}
        env_field = "session.source_context.environment_variables_enabled"
        if _typed(context.get("environmentVariablesEnabled"), bool, env_field, "TYPE_BOOL"):
            result["environmentVariablesEnabled"] = True
        return result

    def get_session(self, session_id: str) -> dict[str, Any]:
        with self.lock:
            self._catch_up()
            return self._session(session_id).render()

    def list_sessions(
        self,
        *,
        page_size: int | None = None,
        page_token: str | None = None,
        filter: str | None = None,
    ) -> dict[str, Any]:
        with self.lock:
            records, token = self._session_page(page_size, page_token, filter)
            result: dict[str, Any] = {}
            if records:
                result["sessions"] = [record.render() for record in records]
            if token:
                result["nextPageToken"] = token
            return result

    def list_sessions_json(
        self,
        *,
        page_size: int | None = None,
        page_token: str | None = None,
        filter: str | None = None,
        pretty: bool = True,
    ) -> str:
        """list_sessions() as the JSON text json.dumps(indent=2 if pretty) would make,
        from each session's text kept since it last changed: listing every session of a
        big emulator costs about what serving the same pages from memory does."""
        with self.lock:
            records, token = self._session_page(page_size, page_token, filter)
            if not pretty:
                return json.dumps(
                    self.list_sessions(page_size=page_size, page_token=page_token, filter=filter),
                    ensure_ascii=False,
                )
            parts = []
            if records:
                items = ",\n    ".join(record.page_text() for record in records)
                parts.append(f'  "sessions": [\n    {items}\n  ]')
            if token:
                parts.append(f'  "nextPageToken": {json.dumps(token)}')
            return "{\n" + ",\n".join(parts) + "\n}" if parts else "{}"

    def _session_page(
        self, page_size: int | None, page_token: str | None, filter: str | None
    ) -> tuple[list[SessionRecord], str | None]:
        """The sessions of one page, newest first, and the next page's token."""
        with self.lock:
            self._catch_up()
            archived = _parse_archived_filter(filter)
            size = _page_size(page_size, "sessions")
            cursor = None
            if page_token:
                cursor = _decode_cursor(page_token, "sessions")
                if not (
                    isinstance(cursor, list)
                    and len(cursor) == 2
                    and all(isinstance(part, int) for part in cursor)
                ):
                    raise invalid_argument("Invalid page token.", "page_token")
            # One more than a page tells whether a next page exists; with both flags the
            # two indexes' newest keys are merged.
            keys = heapq.merge(
                *(self._orders[flag].before(cursor, size + 1) for flag in sorted(archived)),
                reverse=True,
            )
            page = list(itertools.islice(keys, size + 1))
            token = None
            if len(page) > size:
                token = encode_page_token({"k": "sessions", "after": page[size - 1][:2]})
            return [self._record(key[2]) for key in page[:size]], token

    def delete_session(self, session_id: str) -> dict[str, Any]:
        with self.lock:
            session = self._session(session_id)
            del self._sessions[session_id]
            self._orders[session.archived].remove(session.order_key)
            self._due_at.pop(session_id, None)
            self.revision += 1
            return {}

    def archive_session(self, session_id: str, body: Any = None) -> dict[str, Any]:
        return self._set_archived(session_id, body, True)

    def unarchive_session(self, session_id: str, body: Any = None) -> dict[str, Any]:
        return self._set_archived(session_id, body, False)

    def _set_archived(self, session_id: str, body: Any, archived: bool) -> dict[str, Any]:
        with self.lock:
            self._catch_up()
            _known_fields(body or {}, ("name",), "")
            session = self._session(session_id)
            if session.archived != archived:
                self._orders[session.archived].remove(session.order_key)
                session.archived = archived
                self._orders[archived].add(session.order_key)
                session.update_ns = max(session.update_ns, self.now_ns())
                self.revision += 1
            return session.render()

    def approve_plan(self, session_id: str, body: Any = None) -> dict[str, Any]:
        with self.lock:
            self._catch_up()
            _known_fields(body or {}, ("session",), "")
            session = self._session(session_id)
            if session.waiting_for != "approval":
                raise failed_precondition(
                    f"Precondition check failed. The session is {session.state}, "
                    "not waiting for a plan approval."
                )
            now = self.now_ns()
            approved = {
                "originator": "user",
                "planApproved": {"planId": self._latest_plan_id(session)},
            }
            self._add_activity(session, approved, now)
            self._set_state(session, "IN_PROGRESS", now)
            session.waiting_for = None
            if not session.script:
                directives = _lenient_directives(session.prompt)
                files = scenario.default_work_files(directives)
                session.script = scenario.work_script(directives, self._context(session), files)
            session.next_due_ns = now + self._sim_ns(session.script[0]["delay"])
            self._schedule(session)
            self.revision += 1
            return {}

    @staticmethod
    def _latest_plan_id(session: SessionRecord) -> str:
        for record in reversed(session.activities):
            plan = (record["body"].get("planGenerated") or {}).get("plan") or {}
            if plan.get("id"):
                return plan["id"]
        return ""

    def send_message(self, session_id: str, body: Any) -> dict[str, Any]:
        with self.lock:
            self._catch_up()
            request = _known_fields(body, ("session", "prompt"), "")
            message = _typed(request.get("prompt"), str, "prompt", "TYPE_STRING")
            if not message or not message.strip():
                raise invalid_argument("prompt is required.", "prompt")
            session = self._session(session_id)
            try:
                directives = scenario.Directives.parse(message)
            except scenario.DirectiveError as exc:
                raise invalid_argument(f"Emulator directive {exc}", "prompt") from exc
            now = self.now_ns()
            self._add_activity(
                session, {"originator": "user", "userMessaged": {"userMessage": message}}, now
            )
            reply_at = now + self._sim_ns(scenario.REPLY_SECONDS * directives.slow)
            answer = None
            if session.waiting_for == "approval" and directives.replan:
                answer = scenario.revised_plan_activity(self._context(session), message)
                reply = ""
            elif session.waiting_for == "approval":
                reply = "Noted. Approve the plan when you are ready and I will start."
            elif session.waiting_for == "user":
                reply = "Thanks! Carrying on with the task."
                session.waiting_for = None
                if session.state in ("AWAITING_USER_FEEDBACK", "PAUSED"):
                    self._set_state(session, "IN_PROGRESS", now)
                if not session.script:
                    self._plan_follow_up(session, message, directives)
                session.next_due_ns = reply_at + self._sim_ns(session.script[0]["delay"])
            elif not session.script:
                # Nothing left to do (COMPLETED, FAILED, a seeded session): the message
                # reopens the session for follow-up work chosen by its own directives.
                reply = "Sure, I will work on that now."
                self._set_state(session, "IN_PROGRESS", now)
                self._plan_follow_up(session, message, directives)
                session.next_due_ns = reply_at + self._sim_ns(session.script[0]["delay"])
            else:
                reply = "Thanks, I will take that into account."
            answer = answer or scenario.agent_message(reply)
            session.replies.append({"due_ns": reply_at, "activity": answer})
            self._schedule(session)
            self.revision += 1
            return {}

    def _plan_follow_up(
        self, session: SessionRecord, message: str, directives: scenario.Directives
    ) -> None:
        files: list[list] = []
        if not directives.no_changes:
            session.follow_ups += 1
            files = [content.follow_up_file(session.follow_ups, message)]
        session.script = scenario.work_script(directives, self._context(session), files)

    # -- activities -----------------------------------------------------------------

    def list_activities(
        self,
        session_id: str,
        *,
        page_size: int | None = None,
        page_token: str | None = None,
        filter: str | None = None,
    ) -> dict[str, Any]:
        with self.lock:
            self._catch_up()
            session = self._session(session_id)
            if self.now_ns() < session.activities_ready_ns:
                raise not_found()
            low, high = _activity_range(session.activities, filter)
            size = _page_size(page_size, "activities")
            if page_token:
                # A cursor in nanoseconds, shaped like the live API's tokens (jules-api.md 6).
                if not page_token.isdigit() or len(page_token) > 20:
                    raise invalid_argument("Invalid page token.", "page_token")
                after = bisect.bisect_right(
                    session.activities, int(page_token), key=lambda r: r["cur"]
                )
                low = max(low, after)
            page = session.activities[low : min(low + size, high)]
            result: dict[str, Any] = {}
            if page:
                result["activities"] = [copy.deepcopy(record["body"]) for record in page]
            if low + size < high:
                result["nextPageToken"] = str(page[-1]["cur"])
            return result

    def get_activity(self, session_id: str, activity_id: str) -> dict[str, Any]:
        with self.lock:
            self._catch_up()
            session = self._session(session_id)
            index = session.activity_index(activity_id)
            if index is None:
                raise not_found()
            return copy.deepcopy(session.activities[index]["body"])

    # -- seeds and persistence ------------------------------------------------------

    def _load_seed(self, seed: dict[str, Any]) -> None:
        if not isinstance(seed, dict):
            raise ValueError("seed: expected a JSON object with `sources` and/or `sessions`")
        unknown = set(seed) - {"sources", "sessions"}
        if unknown:
            raise ValueError(f"seed: unknown keys {sorted(unknown)}; use sources and sessions")
        if "sources" in seed:
            if not isinstance(seed["sources"], list):
                raise ValueError("seed: `sources` must be a list of Source objects")
            self._sources = []
            for index, source in enumerate(seed["sources"]):
                try:
                    normalized = normalize_source(source)
                except ValueError as exc:
                    raise ValueError(f"seed: sources[{index}]: {exc}") from exc
                self._sources = [s for s in self._sources if s["name"] != normalized["name"]]
                self._sources.append(normalized)
        sessions = seed.get("sessions", [])
        if not isinstance(sessions, list):
            raise ValueError("seed: `sessions` must be a list of Session objects")
        for index, data in enumerate(sessions):
            try:
                self._seed_session(data)
            except (ValueError, TypeError, ApiFault) as exc:
                raise ValueError(f"seed: sessions[{index}]: {exc}") from exc

    def _seed_session(self, data: Any) -> None:
        if not isinstance(data, dict):
            raise ValueError("expected a Session object")
        prompt = data.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise ValueError("`prompt` is required")
        session_id = str(data.get("id") or str(data.get("name", "")).rpartition("/")[2] or "")
        if not session_id:
            session_id = self._new_session_id()
        if not session_id.isdigit():
            raise ValueError(f"session id {session_id!r} is not numeric")
        if session_id in self._sessions:
            raise ValueError(f"duplicate session id {session_id}")
        state = data.get("state")
        if state is not None and state not in STATES:
            raise ValueError(f"unknown state {state!r}")
        mode = data.get("automationMode")
        if mode is not None and mode not in AUTOMATION_MODES:
            raise ValueError(f"unknown automationMode {mode!r}")
        now = self.now_ns()
        created = parse_time(data["createTime"]) if data.get("createTime") else now
        source_context = data.get("sourceContext")
        if source_context is not None:
            source_context = self._source_context(source_context)
        session = SessionRecord(
            id=session_id,
            seq=self._next_seq(),
            prompt=prompt,
            title=str(data.get("title") or scenario.make_title(prompt)),
            create_ns=created,
            update_ns=parse_time(data["updateTime"]) if data.get("updateTime") else created,
            state=state or "QUEUED",
            source_context=source_context,
            require_plan_approval=bool(data.get("requirePlanApproval")),
            automation_mode=mode,
            archived=bool(data.get("archived")),
            outputs=copy.deepcopy(data.get("outputs") or []),
        )
        for activity in data.get("activities") or []:
            if not isinstance(activity, dict):
                raise ValueError("activities must be Activity objects")
            at = parse_time(activity["createTime"]) if activity.get("createTime") else created
            activity_id = activity.get("id") or str(activity.get("name", "")).rpartition("/")[2]
            self._add_activity(session, activity, at, activity_id or None)
        if state is None:
            # No state given: the session lives the normal lifecycle from its createTime.
            self._start_lifecycle(session, _lenient_directives(prompt), created)
        else:
            session.waiting_for = _WAITING_STATES.get(state)
        self._index(session)

    def bulk_seed(self, spec: Any) -> dict[str, Any]:
        """Add many sessions (and activities) at once, for benchmarks and big fixtures
        (the control plane's POST /_emulator/bulk, see docs/emulator.md).

        {"sessions": N} adds N ended sessions, a second apart, the newest created just
        now; {"activities": M} gives each M progress updates (one new session when
        `sessions` is not given); {"session": ID, "activities": M} appends M to that
        session. Optional: "state" (default COMPLETED), "archived", "source", "prompt".
        Answers {"sessions": [ids, oldest first]}.
        """
        spec = _known_fields(
            spec if spec is not None else {},
            ("sessions", "activities", "session", "state", "archived", "source", "prompt"),
            "bulk",
        )
        count = spec.get("sessions")
        per_session = spec.get("activities", 0)
        for name, value in (("sessions", count), ("activities", per_session)):
            if value is not None and (
                not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_BULK
            ):
                raise ValueError(f"bulk: `{name}` must be a count from 0 to {MAX_BULK}")
        state = spec.get("state", "COMPLETED")
        if state not in STATES or state == "STATE_UNSPECIFIED":
            raise ValueError(f"bulk: unknown state {state!r}")
        prompt = spec.get("prompt") or "Bulk session"
        if not isinstance(prompt, str):
            raise ValueError("bulk: `prompt` must be a string")
        with self.lock:
            self._catch_up()
            now = self.now_ns()
            if spec.get("session") is not None:
                if count is not None:
                    raise ValueError("bulk: give `sessions` or `session`, not both")
                session = self._session(str(spec["session"]))
                start = max(now, session.activities[-1]["ns"] if session.activities else now)
                self._bulk_activities(session, per_session, start)
                self.revision += 1
                return {"sessions": [session.id]}
            source_context = None
            if spec.get("source") is not None:
                source_context = self._source_context({"source": spec["source"]})
            if count is None:
                count = 1
            ids = []
            # A second apart, ending now; each session's activities a millisecond apart
            # after its createTime (so they never reach past now for M < 1000).
            step = NANOS_PER_SECOND
            for index in range(count):
                created = now - (count - index) * step
                session = SessionRecord(
                    id=self._new_session_id(),
                    seq=self._next_seq(),
                    prompt=f"{prompt} {index + 1}",
                    title=f"{prompt} {index + 1}",
                    create_ns=created,
                    update_ns=created,
                    state=state,
                    source_context=copy.deepcopy(source_context),
                    archived=bool(spec.get("archived")),
                )
                session.waiting_for = _WAITING_STATES.get(state)
                self._bulk_activities(session, per_session, created)
                if session.activities:
                    session.update_ns = max(created, session.activities[-1]["ns"])
                self._index(session)
                ids.append(session.id)
            self.revision += 1
            return {"sessions": ids}

    def _bulk_activities(self, session: SessionRecord, count: int, start: int) -> None:
        step = NANOS_PER_SECOND // 1000
        for index in range(count):
            note = scenario.progress(f"Progress {index + 1}", f"Bulk progress note {index + 1}.")
            self._add_activity(session, note, start + (index + 1) * step)

    def to_dict(self) -> dict[str, Any]:
        """The whole state as JSON-able data; Emulator.from_dict() restores it.

        It shares the sessions' lists: dump it before the emulator changes again (or use
        state_json(), which dumps under the lock)."""
        with self.lock:
            return {
                "format": STATE_FORMAT,
                "version": STATE_VERSION,
                "speed": self.speed,
                "apiKey": self.api_key,
                "activities404Seconds": self.activities_404_seconds,
                "offsetNs": self._offset_ns,
                "seq": self._seq,
                "pullNumbers": dict(self._pull_numbers),
                "seed": copy.deepcopy(self._seed),
                "sources": copy.deepcopy(self._sources),
                "sessions": [
                    s if isinstance(s, dict) else s.to_json() for s in self._sessions.values()
                ],
            }

    def state_json(self) -> str:
        """to_dict() as compact JSON text, dumped under the lock."""
        with self.lock:
            return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_dict(
        cls,
        data: dict[str, Any],
        *,
        clock: Callable[[], float] = time.time,
        speed: float | None = None,
        api_key: str | None = None,
    ) -> Emulator:
        """Restore a saved state. `speed` (default: the saved one) applies to steps
        scheduled from now on; steps already scheduled keep their times."""
        if not isinstance(data, dict) or data.get("format") != STATE_FORMAT:
            raise ValueError("not a saved jules emulator state")
        version = data.get("version")
        if version != STATE_VERSION:
            # Only a number is quoted: the file may hold anything there.
            named = f" {version}" if type(version) is int else ""
            raise ValueError(f"unsupported emulator state version{named}")
        # The whole state is checked now, every session entry included, although sessions
        # are restored only when first used: a bad entry found later would be a 500 in
        # the middle of some request (saved.py says what is checked, and how fast).
        from jules_cli.emulator.saved import check_state

        found = check_state(data)
        sources = data.get("sources") or []
        emulator = cls(
            speed=speed or data.get("speed") or 1.0,
            clock=clock,
            api_key=api_key if api_key is not None else data.get("apiKey"),
            activities_404_seconds=data.get("activities404Seconds", 2.0),
        )
        seed = data.get("seed")
        if seed:
            try:
                cls(seed=seed, clock=clock)  # a reset replays it: it must load
            except ValueError as exc:
                raise ValueError(f"seed: {exc}") from None
        emulator._seed = seed
        emulator._offset_ns = data.get("offsetNs", 0)
        emulator._seq = data.get("seq", 0)
        emulator._pull_numbers = dict(data.get("pullNumbers") or {})
        emulator._sources = list(sources)
        emulator._clear_sessions()
        # Kept raw (see _clear_sessions); the indexes need only a few fields.
        emulator._sessions = found.by_id
        keys: dict[bool, list[tuple[int, int, str]]] = {False: found.plain_keys, True: []}
        for raw in found.others:
            key = (raw["create_ns"], raw["seq"], raw["id"])
            keys[raw.get("archived", False)].append(key)
            due = _raw_next_due(raw)
            if due is not None:
                emulator._due_at[key[2]] = due
        for flag in (False, True):
            emulator._orders[flag] = _Order(keys[flag])
        emulator._due = [(due, sid) for sid, due in emulator._due_at.items()]
        heapq.heapify(emulator._due)
        return emulator


def _raw_next_due(raw: dict[str, Any]) -> int | None:
    """Emulator._next_due of a saved session, without restoring it."""
    candidates = [reply["due_ns"] for reply in (raw.get("replies") or [])[:1]]
    if raw.get("script") and raw.get("next_due_ns") is not None:
        candidates.append(raw["next_due_ns"])
    return min(candidates) if candidates else None


def load_seed_file(path: str | Path) -> dict[str, Any]:
    """Read and check a --seed file; ValueError with a readable message if it is wrong."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read seed file {path}: {exc.strerror or exc}") from exc
    try:
        seed = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"seed file {path} is not valid JSON: {exc}") from exc
    Emulator(seed=seed)  # validates, raising ValueError with the place of the problem
    return seed


def normalize_source(source: Any) -> dict[str, Any]:
    """A Source in the API's shape from a seed entry: `name` or `githubRepo.owner/repo`
    is enough; branches may be given as plain strings."""
    if isinstance(source, str):
        source = {"name": source if source.startswith("sources/") else f"sources/github/{source}"}
    if not isinstance(source, dict):
        raise ValueError("expected a Source object")
    github = dict(source.get("githubRepo") or {})
    name = source.get("name")
    if not name:
        if not github.get("owner") or not github.get("repo"):
            raise ValueError("give `name` or `githubRepo.owner` and `githubRepo.repo`")
        name = f"sources/github/{github['owner']}/{github['repo']}"
    if not isinstance(name, str) or not name.startswith("sources/") or name == "sources/":
        raise ValueError(f"source name {name!r} must look like sources/github/OWNER/REPO")
    parts = name.split("/")
    if len(parts) == 4 and parts[1] == "github":
        github.setdefault("owner", parts[2])
        github.setdefault("repo", parts[3])
    inactive = [_branch(b)["displayName"] for b in github.pop("inactiveBranches", None) or []]
    branches = [_branch(b) for b in github.get("branches") or []]
    default = _branch(github.get("defaultBranch")) if github.get("defaultBranch") else None
    if default is None:
        default = branches[0] if branches else {"displayName": "main"}
    if default["displayName"] not in [b["displayName"] for b in branches]:
        branches.insert(0, default)
    repo: dict[str, Any] = {"owner": github.get("owner", ""), "repo": github.get("repo", "")}
    if github.get("isPrivate"):
        repo["isPrivate"] = True
    repo["defaultBranch"] = default
    repo["branches"] = branches
    normalized: dict[str, Any] = {"name": name, "id": name[len("sources/") :], "githubRepo": repo}
    listed = {branch["displayName"] for branch in branches}
    unlisted = [branch for branch in dict.fromkeys(inactive) if branch not in listed]
    if unlisted:
        normalized[INACTIVE_BRANCHES] = unlisted
    return normalized


def _branch(value: Any) -> dict[str, str]:
    if isinstance(value, str) and value:
        return {"displayName": value}
    if isinstance(value, dict) and isinstance(value.get("displayName"), str):
        return {"displayName": value["displayName"]}
    raise ValueError(f"a branch is a name or {{'displayName': name}}, not {value!r}")


def _lenient_directives(text: str) -> scenario.Directives:
    try:
        return scenario.Directives.parse(text)
    except scenario.DirectiveError:
        return scenario.Directives()


# -- request checking ---------------------------------------------------------------


def _camel(name: str) -> str:
    return re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), name)


def _known_fields(body: Any, allowed: Iterable[str], where: str) -> dict[str, Any]:
    """Accept lowerCamelCase or snake_case names, like Google's JSON parser, and reject
    unknown ones with its message."""
    at = f" at '{where}'" if where else ""
    if not isinstance(body, dict):
        raise invalid_argument(
            f"Invalid JSON payload received. Expected an object{at}.", where or None
        )
    allowed = set(allowed)
    out: dict[str, Any] = {}
    for key, value in body.items():
        name = key if key in allowed else _camel(key)
        if name not in allowed:
            raise invalid_argument(
                f'Invalid JSON payload received. Unknown name "{key}"{at}: Cannot find field.',
                where or None,
            )
        if value is None:
            continue  # proto3 JSON: null means "not set", exactly like leaving it out
        out[name] = value
    return out


def _typed(value: Any, expected: type, where: str, type_name: str) -> Any:
    if value is None:
        return None
    wrong = not isinstance(value, expected) or (expected is not bool and isinstance(value, bool))
    if wrong:
        raise invalid_argument(
            f"Invalid value at '{where}' ({type_name}), {json.dumps(value)}", where
        )
    return value


def _page_size(page_size: int | None, key: str) -> int:
    """The API's rules: default per collection, 0 or negative is the default, at most 100."""
    size = page_size if page_size and page_size > 0 else DEFAULT_PAGE_SIZES[key]
    return min(size, MAX_PAGE_SIZE)


def _decode_cursor(page_token: str, key: str) -> Any:
    cursor = decode_page_token(page_token)
    if not isinstance(cursor, dict) or cursor.get("k") != key or "after" not in cursor:
        raise invalid_argument("Invalid page token.", "page_token")
    return cursor["after"]


_OR = re.compile(r"\s+OR\s+")
_AND = re.compile(r"\s+AND\s+")


def _parse_source_filter(text: str | None) -> set[str] | None:
    if not text or not text.strip():
        return None
    names = set()
    for term in _OR.split(text.strip()):
        match = re.fullmatch(r'\(?\s*name\s*=\s*("([^"]*)"|[^\s"()]+)\s*\)?', term)
        if not match:
            raise invalid_argument(
                f"Invalid filter {text!r}: only `name=sources/...` terms joined by OR "
                "are supported.",
                "filter",
            )
        names.add(match.group(2) if match.group(2) is not None else match.group(1))
    return names


def _parse_archived_filter(text: str | None) -> set[bool]:
    if not text or not text.strip():
        return {False}
    values = set()
    for term in _OR.split(text.strip()):
        match = re.fullmatch(r"\(?\s*archived\s*=\s*(true|false)\s*\)?", term, re.IGNORECASE)
        if not match:
            raise invalid_argument(
                f"Invalid filter {text!r}: only `archived = true|false` terms joined by OR "
                "are supported.",
                "filter",
            )
        values.add(match.group(1).lower() == "true")
    return values


_TIME_TERM = re.compile(r'create_time\s*(>=|<=|>|<|=)\s*"([^"]+)"')


def _activity_range(activities: list[dict[str, Any]], text: str | None) -> tuple[int, int]:
    """The slice [low, high) of a session's activities (sorted by time) that a create_time
    filter keeps: each comparison is a binary search, so no activity is looked at."""
    low, high = 0, len(activities)
    if not text or not text.strip():
        return low, high
    for term in _AND.split(text.strip()):
        match = _TIME_TERM.fullmatch(term.strip())
        if not match:
            raise invalid_argument(
                f"Invalid filter {text!r}: only create_time comparisons such as "
                'create_time>"2026-01-17T00:03:53.137240Z", joined by AND, are supported.',
                "filter",
            )
        operator, value = match.groups()
        try:
            pivot = parse_time(value)
        except ValueError as exc:
            raise invalid_argument(f"Invalid timestamp in filter: {value!r}", "filter") from exc
        first_at = bisect.bisect_left(activities, pivot, key=_ns_of)  # first with ns >= pivot
        first_after = bisect.bisect_right(activities, pivot, key=_ns_of)  # first with ns > pivot
        if operator in (">", ">="):
            low = max(low, first_after if operator == ">" else first_at)
        if operator in ("<", "<="):
            high = min(high, first_at if operator == "<" else first_after)
        if operator == "=":
            low, high = max(low, first_at), min(high, first_after)
    return low, max(low, high)


def _ns_of(record: dict[str, Any]) -> int:
    return record["ns"]
