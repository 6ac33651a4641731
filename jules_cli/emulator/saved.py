"""The shape of a saved emulator state, checked whole when it is loaded.

The in-process emulator (`--emulator`) keeps its state in a JSON file that people can
edit, copy between versions or damage. Sessions are restored lazily (state.py keeps a
saved session as its raw dict until a request touches it), so a session entry of the
wrong shape used to fail only on first use, deep inside a request: a 500, and the CLI's
exit 7. Instead every field the emulator reads is checked here, at load time, and the
first problem is one ValueError naming its place (`sessions[12].title: expected a
string`), which the caller handles like any unreadable file (inprocess.py: kept aside as
`.corrupt`, a fresh emulator starts, one note says so).

The check must not make a big state slow to load: a session with only the required
fields (what bulk seeding makes, 100,000 at a time) costs one chain of inline type checks;
the rest goes through a table of small checkers only for the fields that are present.
Messages never quote the file's values (they may be anything), only where they are.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from jules_cli.states import ALL_STATES

# The Session states, as the API lists them (shared with the CLI and state.py).
_STATES = frozenset(ALL_STATES)
_AUTOMATION_MODES = frozenset(("AUTOMATION_MODE_UNSPECIFIED", "AUTO_CREATE_PR"))
_WAITS = frozenset(("approval", "user"))
# Times the emulator can print as RFC 3339 (years 1 to 9999), in nanoseconds.
_TIMES = range(-62_135_596_800 * 10**9, 253_402_300_800 * 10**9)
_COUNTS = range(0, 2**63)
_MAX_SECONDS = 1e9
_REQUIRED = ("id", "seq", "prompt", "title", "create_ns", "update_ns", "state")

# A checker returns None when the value is fine, else (where inside it, what is wrong).
Problem = tuple[str, str] | None
Checker = Callable[[Any], Problem]


@dataclass
class SavedSessions:
    """The session entries of a checked state, as the indexes need them (gathered in the
    same pass as the check: at 100,000 entries every pass over them costs)."""

    by_id: dict[str, dict[str, Any]] = field(default_factory=dict)
    # (create_ns, seq, id) of the entries with nothing but the required fields: not
    # archived, nothing scheduled.
    plain_keys: list[tuple[int, int, str]] = field(default_factory=list)
    others: list[dict[str, Any]] = field(default_factory=list)  # every other entry


def check_state(data: Any) -> SavedSessions:
    """Raise ValueError naming the first problem of a saved state (the data of
    Emulator.to_dict() after a JSON round trip), else answer its sessions for the
    indexes. The seed is checked by the caller, which knows its rules (it loads it)."""
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    for key, check in _TOP_LEVEL.items():
        if key in data:
            _raise(key, check(data[key]))
    sessions = data.get("sessions")
    found = SavedSessions()
    if sessions is None:
        return found
    if type(sessions) is not list:
        raise ValueError("sessions: expected a list")
    by_id, add_plain, add_other = found.by_id, found.plain_keys.append, found.others.append
    times, counts, states = _TIMES, _COUNTS, _STATES  # locals: the loop may run 100,000 times
    for index, raw in enumerate(sessions):
        # Inline, with no call (see the module doc): an entry of the seven fields every
        # entry has, each of the right type and range. Anything else is looked at whole.
        try:
            fine = (
                type(raw) is dict
                and len(raw) == 7
                and type(sid := raw["id"]) is str
                and sid.isdigit()
                and sid.isascii()
                and type(seq := raw["seq"]) is int
                and seq in counts
                and type(raw["prompt"]) is str
                and type(raw["title"]) is str
                and type(created := raw["create_ns"]) is int
                and created in times
                and type(updated := raw["update_ns"]) is int
                and updated in times
                and type(state := raw["state"]) is str
                and state in states
            )
        except KeyError:
            fine = False
        if fine:
            add_plain((created, seq, sid))
        else:
            _raise(f"sessions[{index}]", check_session(raw))
            sid = raw["id"]
            add_other(raw)
        by_id[sid] = raw
        if len(by_id) <= index:
            raise ValueError(f"sessions[{index}].id: the same id as an earlier session")
    return found


def check_session(raw: Any) -> Problem:
    """The first problem of one saved session entry, or None."""
    if type(raw) is not dict:
        return "", "expected an object"
    for key in _REQUIRED:
        if key not in raw:
            return "", f"no `{key}`"
    for key, value in raw.items():
        check = _SESSION_FIELDS.get(key)
        if check is not None:
            problem = check(value)
            if problem is not None:
                return f".{key}{problem[0]}", problem[1]
    return None


def _raise(where: str, problem: Problem) -> None:
    if problem is not None:
        raise ValueError(f"{where}{problem[0]}: {problem[1]}")


# -- checkers -------------------------------------------------------------------------


def _is_id(value: Any) -> bool:
    return type(value) is str and value.isascii() and value.isdigit()


def _session_id(value: Any) -> Problem:
    return None if _is_id(value) else ("", "expected a numeric id")


def _string(value: Any) -> Problem:
    return None if type(value) is str else ("", "expected a string")


def _boolean(value: Any) -> Problem:
    return None if type(value) is bool else ("", "expected true or false")


def _object(value: Any) -> Problem:
    return None if type(value) is dict else ("", "expected an object")


def _count(value: Any) -> Problem:
    ok = type(value) is int and value in _COUNTS
    return None if ok else ("", "expected a whole number of 0 or more")


def _time(value: Any) -> Problem:
    ok = type(value) is int and value in _TIMES
    return None if ok else ("", "expected a time in nanoseconds")


def _offset(value: Any) -> Problem:
    # Time jumped ahead (advance, settle): as far as a time the emulator can still show.
    ok = type(value) is int and 0 <= value < _TIMES.stop
    return None if ok else ("", "expected a time offset in nanoseconds (0 or more)")


def _seconds(value: Any) -> Problem:
    # At most about 30 years: a step due later than the year 9999 cannot be shown.
    ok = type(value) in (int, float) and 0 <= value <= _MAX_SECONDS
    return None if ok else ("", "expected a number of seconds (0 or more)")


def _positive(value: Any) -> Problem:
    ok = type(value) in (int, float) and 0 < value <= _MAX_SECONDS
    return None if ok else ("", "expected a number above 0")


def _one_of(choices: frozenset[str], what: str) -> Checker:
    def check(value: Any) -> Problem:
        return None if type(value) is str and value in choices else ("", f"expected {what}")

    return check


def _optional(check: Checker) -> Checker:
    def optional(value: Any) -> Problem:
        return None if value is None else check(value)

    return optional


def _list_of(check: Checker) -> Checker:
    def each(value: Any) -> Problem:
        if type(value) is not list:
            return "", "expected a list"
        for index, item in enumerate(value):
            problem = check(item)
            if problem is not None:
                return f"[{index}]{problem[0]}", problem[1]
        return None

    return each


def _fields(required: dict[str, Checker], optional: dict[str, Checker]) -> Checker:
    """An object with these fields (others are ignored, as the emulator ignores them)."""

    def check(value: Any) -> Problem:
        if type(value) is not dict:
            return "", "expected an object"
        for key, field_check in required.items():
            if key not in value:
                return "", f"no `{key}`"
            problem = field_check(value[key])
            if problem is not None:
                return f".{key}{problem[0]}", problem[1]
        for key, field_check in optional.items():
            if key in value:
                problem = field_check(value[key])
                if problem is not None:
                    return f".{key}{problem[0]}", problem[1]
        return None

    return check


def _file(value: Any) -> Problem:
    """A change the agent makes: [path, old text or null for a new file, new text]."""
    ok = (
        type(value) is list
        and len(value) == 3
        and type(value[0]) is str
        and (value[1] is None or type(value[1]) is str)
        and type(value[2]) is str
    )
    return None if ok else ("", "expected [path, old text or null, new text]")


# An activity body as the emulator reads it (the rest is the API's, passed through): a
# plan's id when a plan is approved, artifacts when bashOutput ones are left out.
_PLAN_GENERATED = _fields({}, {"plan": _optional(_fields({}, {"id": _optional(_string)}))})
_BODY_FIELDS = {"planGenerated": _PLAN_GENERATED, "artifacts": _list_of(_object)}
_BODY = _fields({}, _BODY_FIELDS)
_STORED_BODY = _fields({"id": _string}, _BODY_FIELDS)


def _activities(value: Any) -> Problem:
    """Saved activities: {"seq", "ns", "body", "cur"}, in time order (pages are binary
    searches over ns and cur), with page cursors on every one, strictly increasing, or
    on none (a state saved before cursors existed: they are made when it is loaded)."""
    problem = _list_of(_ACTIVITY)(value)
    if problem is not None or not value:
        return problem
    cursors = "cur" in value[0]
    for index in range(1, len(value)):
        earlier, later = value[index - 1], value[index]
        if later["ns"] < earlier["ns"]:
            return f"[{index}].ns", "earlier than the activity before it"
        if ("cur" in later) != cursors:
            return f"[{index}]", "a page cursor on some activities only"
        if cursors and later["cur"] <= earlier["cur"]:
            return f"[{index}].cur", "not after the activity before it"
    return None


_ACTIVITY = _fields({"seq": _count, "ns": _time, "body": _STORED_BODY}, {"cur": _time})
_STEP = _fields(
    {"delay": _seconds},
    {
        "state": _one_of(_STATES, "a session state"),
        "activities": _list_of(_BODY),
        "complete": _fields({}, {"addFiles": _list_of(_file), "commitMessage": _optional(_string)}),
        "wait": _optional(_one_of(_WAITS, '"approval" or "user"')),
    },
)
_REPLY = _fields({"due_ns": _time, "activity": _BODY}, {})
_SOURCE_CONTEXT = _fields(
    {"source": _string},
    {
        "githubRepoContext": _fields({}, {"startingBranch": _string}),
        "workingBranch": _string,
        "environmentVariablesEnabled": _boolean,
    },
)

_SESSION_FIELDS: dict[str, Checker] = {
    "id": _session_id,
    "seq": _count,
    "prompt": _string,
    "title": _string,
    "create_ns": _time,
    "update_ns": _time,
    "state": _one_of(_STATES, "a session state"),
    "source_context": _optional(_SOURCE_CONTEXT),
    "require_plan_approval": _boolean,
    "automation_mode": _optional(_one_of(_AUTOMATION_MODES, "an automation mode")),
    "archived": _boolean,
    "outputs": _list_of(_object),
    "activities": _activities,
    "script": _list_of(_STEP),
    "next_due_ns": _optional(_time),
    "replies": _list_of(_REPLY),
    "waiting_for": _optional(_one_of(_WAITS, '"approval" or "user"')),
    "files": _list_of(_file),
    "follow_ups": _count,
    "pull_request": _optional(_object),
    "activities_ready_ns": _time,
}


_BRANCH = _fields({"displayName": _string}, {})
# A connected repository as the emulator keeps it: the API's Source, plus the branches
# that exist without being listed (state.INACTIVE_BRANCHES), never shown to clients.
_SOURCE = _fields(
    {"name": _string, "id": _string},
    {
        "githubRepo": _fields(
            {},
            {
                "owner": _string,
                "repo": _string,
                "isPrivate": _boolean,
                "defaultBranch": _BRANCH,
                "branches": _list_of(_BRANCH),
            },
        ),
        "_inactiveBranches": _list_of(_string),
    },
)


def _pull_numbers(value: Any) -> Problem:
    if type(value) is not dict:
        return "", "expected an object"
    if all(_count(number) is None for number in value.values()):
        return None
    return "", "expected whole numbers of 0 or more"


_TOP_LEVEL: dict[str, Checker] = {
    "speed": _optional(_positive),
    "apiKey": _optional(_string),
    "activities404Seconds": _seconds,
    "offsetNs": _offset,
    "seq": _count,
    "pullNumbers": _pull_numbers,
    "seed": _optional(_object),
    "sources": _list_of(_SOURCE),
}
