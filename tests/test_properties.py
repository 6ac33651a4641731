"""Property-based tests (hypothesis): parsing what users type, rendering what the API sends.

Parsers: any text either parses to a safe value or raises UsageError, never anything else.
Renderers: any JSON in the shape of an activity or a session, however broken (missing or
wrong-typed fields, unknown kinds, huge strings, terminal escapes), renders in every output
mode without an exception, and no control character from the data reaches the output.
"""

from __future__ import annotations

import io
import json
import math
import re
import string
from datetime import timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from jules_cli.api import names
from jules_cli.artifacts import iter_artifacts, select_patch
from jules_cli.errors import JulesError, UsageError
from jules_cli.follow import Condition, parse_duration
from jules_cli.render import activities as render_activities
from jules_cli.render import artifacts as render_artifacts
from jules_cli.render import live as render_live
from jules_cli.render import sessions as render_sessions
from jules_cli.render.output import Output
from jules_cli.sessions import STATES, parse_states
from jules_cli.states import ALL_STATES, CONDITION_CHOICES
from jules_cli.times import format_time, parse_time

# Derandomized: the same examples on every run and machine, so the suite stays
# deterministic; widen max_examples locally to search harder.
SETTINGS = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FEW = settings(SETTINGS, max_examples=60)

# -- ids ---------------------------------------------------------------------------------

UNSAFE_IN_ID = re.compile(r"[/?#%\s]|\.\.")
# Text made of the characters that matter for ids and paths, so that hypothesis finds the
# interesting cases (dot segments, separators, escapes) far more often than st.text() would.
ID_ALPHABET = st.sampled_from(list("0123456789abcAZ_-./?#% \t\n\r\x00\x1b:") + ["sessions/"])
ID_TEXT = st.one_of(st.text(), st.lists(ID_ALPHABET, max_size=12).map("".join))


@SETTINGS
@given(ID_TEXT)
@example("sessions/12\n/")
@example("12\n")
@example("sessions/1/../2")
@example("%2F")
@example("١٢٣")  # digits of another script are not the API's ids
def test_session_id_is_safe_or_a_usage_error(text: str) -> None:
    try:
        sid = names.session_id(text)
    except UsageError:
        return
    assert re.fullmatch(r"[0-9A-Za-z_-]+", sid), sid
    assert names.session_id(f"sessions/{sid}") == sid
    assert names.session_id(sid) == sid
    assert names.session_id(f"https://jules.google.com/session/{sid}") == sid


@SETTINGS
@given(st.text(alphabet="0123456789", min_size=1, max_size=20))
def test_session_id_round_trips_bare_and_resource_name(digits: str) -> None:
    assert names.session_id(digits) == digits
    assert names.session_id(f"sessions/{digits}") == digits
    assert names.session_id(f"  sessions/{digits}/ ") == digits


@SETTINGS
@given(
    st.text(alphabet=string.ascii_letters + string.digits + "-_", min_size=1, max_size=24),
    st.sampled_from(["", "/", "/diff", "?tab=plan", "#activity", "/a/b?x=1#y"]),
    st.sampled_from(["https://jules.google.com/session/", "https://jules.google.com/task/"]),
)
def test_session_url_gives_its_id_whatever_follows(sid: str, tail: str, prefix: str) -> None:
    assert names.session_id(prefix + sid + tail) == sid
    assert names.is_id(sid)


@pytest.mark.parametrize(
    "text",
    [
        "https://jules.google.com/session/",
        "https://jules.google.com/session/1%2F2",
        "https://jules.google.com/session/..",
        "https://evil.example/session/1",
        "https://jules.google.com.evil.example/session/1",
        "https://jules.google.com/settings",
    ],
)
def test_session_urls_that_do_not_name_an_id_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError):
        names.session_id(text)


@SETTINGS
@given(ID_TEXT)
@example("sessions/1/activities/..")
@example("sessions/x/activities/a")
@example("a?b")
def test_activity_id_is_safe_or_a_usage_error(text: str) -> None:
    try:
        owner, activity = names.activity_id(text)
    except UsageError:
        return
    assert activity and not UNSAFE_IN_ID.search(activity) and activity not in (".", "..")
    assert owner is None or re.fullmatch(r"[0-9A-Za-z_-]+", owner)
    if owner is not None:
        assert names.activity_id(f"sessions/{owner}/activities/{activity}") == (owner, activity)


SEGMENT = st.text(alphabet=string.ascii_letters + string.digits + "_-.", min_size=1, max_size=8)


@SETTINGS
@given(ID_TEXT)
@example("o/../r")
@example("sources/github/o/r?x")
@example("github/o/r#frag")
@example("a%2Fb/c")
def test_source_name_is_safe_or_a_usage_error(text: str) -> None:
    try:
        name = names.source_name(text)
    except UsageError:
        return
    assert name.startswith("sources/")
    segments = name.split("/")
    assert all(s and s not in (".", "..") for s in segments), name
    assert not re.search(r"[?#%\s\x00-\x1f]", name), name


@SETTINGS
@given(SEGMENT, SEGMENT)
def test_source_name_forms_agree(owner: str, repo: str) -> None:
    assume(owner not in (".", "..") and repo not in (".", "..") and owner != "sources")
    full = f"sources/github/{owner}/{repo}"
    assert names.source_name(f"{owner}/{repo}") == full
    assert names.source_name(f"github/{owner}/{repo}") == full
    assert names.source_name(full) == full


# -- durations, times, states, conditions ------------------------------------------------

NUMBER = st.one_of(
    st.integers(min_value=0, max_value=10**6).map(str),
    st.decimals(min_value=0, max_value=10**5, places=3, allow_nan=False).map(str),
)


@SETTINGS
@given(NUMBER, st.sampled_from(["", "s", "m", "h", "S", "M", "H"]))
def test_duration_units(number: str, unit: str) -> None:
    factor = {"": 1, "s": 1, "m": 60, "h": 3600}[unit.lower()]
    assert parse_duration(f" {number}{unit} ") == pytest.approx(float(number) * factor)


@SETTINGS
@given(
    st.integers(min_value=0, max_value=99),
    st.integers(min_value=0, max_value=99),
    st.integers(min_value=0, max_value=99),
)
def test_duration_combined_units(hours: int, minutes: int, seconds: int) -> None:
    assert parse_duration(f"{hours}h{minutes}m{seconds}s") == hours * 3600 + minutes * 60 + seconds


@SETTINGS
@given(
    st.one_of(
        st.text(),
        st.lists(st.sampled_from(list("0123456789.hms -+e_nainf")), max_size=10).map("".join),
    )
)
@example("-5")
@example("1e3")
@example("nan")
@example("inf")
@example("")
def test_duration_is_a_finite_number_or_a_usage_error(text: str) -> None:
    try:
        seconds = parse_duration(text)
    except UsageError:
        return
    assert seconds >= 0 and not math.isnan(seconds), (text, seconds)


def test_a_duration_too_long_for_a_float_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        parse_duration("9" * 400)


# RFC 3339 offsets are whole minutes (historical zones such as -00:16:44 are not).
OFFSETS = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)


@SETTINGS
@given(st.datetimes(timezones=OFFSETS).filter(lambda d: 2 <= d.year <= 9998))
def test_time_round_trip(moment) -> None:
    text = moment.isoformat()
    assert parse_time(text) == pytest.approx(moment.timestamp(), abs=1e-6)
    again = format_time(moment.timestamp())
    assert parse_time(again) == pytest.approx(moment.timestamp(), abs=1e-6)


@SETTINGS
@given(st.one_of(st.text(), st.integers(), st.floats(), st.none(), st.lists(st.text())))
@example("2026-01-17")
@example("2026-01-17T00:00:00")
@example("9999-12-31T23:59:59-23:59")
@example("0001-01-01T00:00:00+23:59")
@example("2026-02-30T00:00:00Z")
def test_parse_time_never_raises(value: Any) -> None:
    result = parse_time(value)
    assert result is None or math.isfinite(result)


@SETTINGS
@given(st.floats(allow_nan=True, allow_infinity=True))
def test_format_time_never_raises(stamp: float) -> None:
    assert parse_time(format_time(stamp)) is not None


@SETTINGS
@given(st.lists(st.one_of(st.text(), st.sampled_from([*STATES, *(s.lower() for s in STATES)]))))
def test_states_parse_or_usage_error(values: list[str]) -> None:
    try:
        states = parse_states(values)
    except UsageError:
        return
    assert states <= set(STATES)


@SETTINGS
@given(st.one_of(st.text(), st.sampled_from(CONDITION_CHOICES)))
def test_until_parses_or_usage_error(text: str) -> None:
    try:
        condition = Condition.parse(text)
    except UsageError:
        return
    assert condition.name in CONDITION_CHOICES


def test_every_until_choice_parses_in_any_case() -> None:
    for choice in CONDITION_CHOICES:
        for form in (choice, choice.lower(), choice.upper(), choice.replace("_", "-")):
            assert Condition.parse(form).name == choice


# -- rendering arbitrary API JSON --------------------------------------------------------

HOSTILE = st.sampled_from(
    [
        "\x1b[31mred\x1b[0m",
        "\x1b]0;pwned\x07",
        "\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\",
        "\x1b[2J\x1b[H",
        "\x1b[1A\x1b[2K",
        "\x9b31m",
        "\x9d0;title\x9c",
        "bell\x07",
        "back\x08\x08",
        "car\rriage",
        "nul\x00",
        "tab\tand\nnewline",
        "[bold]markup[/bold] :smile:",
        "é中🙂\u200b\u202e",
        "A" * 2_000,
    ]
)
TEXT = st.one_of(st.text(max_size=40), HOSTILE)
JSON_SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    TEXT,
)
JSON = st.recursive(
    JSON_SCALAR,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(TEXT, inner, max_size=3)),
    max_leaves=8,
)
TIME = st.one_of(
    st.just("2026-01-17T00:03:53.123456789Z"),
    st.datetimes().map(lambda d: d.isoformat() + "Z"),
    TEXT,
)
PATCH = st.one_of(
    st.just("diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-old\n+new \x1b[2J\n"),
    st.just("diff --git a/\x1b]0;t\x07 b/\x1b]0;t\x07\nnew file mode 100644\n"),
    TEXT,
)


def shaped(template: Any) -> st.SearchStrategy:
    """Values in the shape of `template`, where any part may instead be arbitrary JSON."""
    if isinstance(template, st.SearchStrategy):
        right = template
    elif isinstance(template, dict):
        right = st.fixed_dictionaries({}, optional={k: shaped(v) for k, v in template.items()})
    elif isinstance(template, list):
        right = st.lists(shaped(template[0]), max_size=4)
    else:
        raise TypeError(template)
    return st.one_of(right, right, right, JSON)


ARTIFACT = {
    "changeSet": {
        "source": TEXT,
        "gitPatch": {
            "unidiffPatch": PATCH,
            "baseCommitId": TEXT,
            "suggestedCommitMessage": TEXT,
        },
    },
    "bashOutput": {"command": TEXT, "output": TEXT, "exitCode": JSON_SCALAR},
    "media": {
        "data": st.one_of(st.just("iVBORw0KGgo="), TEXT),
        "mimeType": st.one_of(st.just("image/png"), TEXT),
    },
}
ACTIVITY = {
    "name": TEXT,
    "id": TEXT,
    "description": TEXT,
    "createTime": TIME,
    "originator": TEXT,
    "planGenerated": {
        "plan": {
            "id": TEXT,
            "steps": [{"id": TEXT, "index": JSON_SCALAR, "title": TEXT, "description": TEXT}],
            "createTime": TIME,
        }
    },
    "planApproved": {"planId": TEXT},
    "userMessaged": {"userMessage": TEXT},
    "agentMessaged": {"agentMessage": TEXT},
    "progressUpdated": {"title": TEXT, "description": TEXT},
    "sessionCompleted": st.just({}),
    "sessionFailed": {"reason": TEXT},
    "artifacts": [ARTIFACT],
}
SESSION = {
    "name": TEXT,
    "id": TEXT,
    "title": TEXT,
    "prompt": TEXT,
    "state": st.one_of(st.sampled_from(ALL_STATES), TEXT),
    "createTime": TIME,
    "updateTime": TIME,
    "url": TEXT,
    "archived": JSON_SCALAR,
    "sourceContext": {
        "source": st.one_of(st.just("sources/github/o/r"), TEXT),
        "githubRepoContext": {"startingBranch": TEXT},
        "workingBranch": TEXT,
    },
    "outputs": [
        {
            "pullRequest": {"url": TEXT, "title": TEXT, "description": TEXT},
            "changeSet": ARTIFACT["changeSet"],
        }
    ],
}


def object_like(template: dict[str, Any]) -> st.SearchStrategy:
    """A dict in the shape of `template` (each field possibly broken), plus unknown fields."""
    return st.builds(
        lambda known, extra: {**extra, **known},
        st.fixed_dictionaries({}, optional={k: shaped(v) for k, v in template.items()}),
        st.dictionaries(TEXT, JSON, max_size=2),
    )


ACTIVITIES = object_like(ACTIVITY)
SESSIONS = object_like(SESSION)
MODES = ("terminal", "pipe", "json")
# Rich's own styling in a terminal; anything else that is a control character came from
# the data.
SGR = re.compile(r"\x1b\[[0-9;]*m")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Rich's cursor work for a live region: hide/show the cursor, erase the region at the
# end (restore), and erase it before a line is printed above it (position).
LIVE_CURSOR = re.compile(r"\x1b\[\?25[lh]|\r(?:\x1b\[1A\x1b\[2K)+|\r\x1b\[2K(?:\x1b\[1A\x1b\[2K)*")


def make_output(mode: str) -> Output:
    out = Output(json_mode=mode == "json", stdout=io.StringIO(), stderr=io.StringIO())
    if mode == "terminal":
        out.is_terminal = out.err_is_terminal = True
    return out


def written(out: Output) -> str:
    return out.stdout.getvalue() + out.stderr.getvalue()


# json.dumps escapes C0 characters; DEL and C1 ones (0x7f-0x9f) are valid JSON text and stay.
C0 = re.compile(r"[\x00-\x08\x0b-\x1f]")


def assert_no_control(out: Output, mode: str) -> None:
    text = written(out)
    if mode == "terminal":
        text = SGR.sub("", text)
    leaked = (C0 if mode == "json" else CONTROL).findall(text)
    assert not leaked, (mode, leaked[:5], text[:400])


@SETTINGS
@given(st.lists(ACTIVITIES, max_size=4), st.sampled_from(MODES))
def test_activity_renderers_never_crash_nor_leak_escapes(activities, mode) -> None:
    out = make_output(mode)
    out.items(list(activities), render_activities.print_activities)
    for activity in activities:
        out.item(activity, render_activities.print_activity)
        out.print(render_activities.stream_line(activity, terminal=mode == "terminal"))
        for part in render_activities.activity_details(activity, terminal=mode == "terminal"):
            out.print(part)
        render_activities.print_reply(out, activity)
    render_activities.print_reply(out, None)
    assert_no_control(out, mode)


@SETTINGS
@given(st.lists(SESSIONS, min_size=1, max_size=3), st.sampled_from(MODES))
def test_session_renderers_never_crash_nor_leak_escapes(sessions, mode) -> None:
    out = make_output(mode)
    out.items(list(sessions), render_sessions.print_sessions)
    for session in sessions:
        out.item(session, render_sessions.print_session)
        render_sessions.print_state_change(out, "Message sent", session)
        assert isinstance(render_sessions.session_url(session), str)
    render_sessions.print_created(out, sessions)
    assert_no_control(out, mode)


@FEW
@given(SESSIONS, st.lists(ACTIVITIES, max_size=4), st.sampled_from(MODES), TEXT)
def test_live_renderers_never_crash_nor_leak_escapes(session, activities, mode, state) -> None:
    out = make_output(mode)
    watcher = render_live.Watcher(out, "123", live=False)
    with watcher:
        watcher.state_change(None, state, session)
        for activity in activities:
            watcher.activity(activity)
        watcher.state_change(state, "COMPLETED", session)
    view = render_live.SessionView("123", clock=lambda: 0.0)
    view.update(session, state)
    for activity in activities:
        view.add(activity)
    out.console.print(view)  # what the Live region draws, straight to the console
    for outcome in ("completed", "failed", "needs_user", "timeout", "reached"):
        render_live.print_outcome(out, session, state, outcome)
    assert_no_control(out, mode)


@FEW
@given(SESSIONS, st.lists(ACTIVITIES, max_size=3))
def test_live_view_in_a_terminal_never_crashes(session, activities) -> None:
    out = make_output("terminal")
    with render_live.Watcher(out, "123", live=True) as watcher:
        watcher.state_change(None, "IN_PROGRESS", session)
        for activity in activities:
            watcher.activity(activity)
    # Only Rich's own cursor work may remain (LIVE_CURSOR).
    text = LIVE_CURSOR.sub("", SGR.sub("", written(out)))
    leaked = CONTROL.findall(text)
    assert not leaked, leaked[:5]


@SETTINGS
@given(SESSIONS, st.lists(ACTIVITIES, max_size=4), st.sampled_from(MODES))
def test_artifact_renderers_never_crash_nor_leak_escapes(session, activities, mode) -> None:
    out = make_output(mode)
    refs = iter_artifacts(session, activities)
    if mode == "json":
        out.json([ref.raw for ref in refs])
    else:
        render_artifacts.print_artifacts(out, refs)
    try:
        patch = select_patch(session, activities, None)
    except JulesError:
        patch = None
    if patch is not None and mode == "terminal":
        # In a pipe the diff is written byte for byte (for `| git apply`); in a terminal
        # it must not drive the screen.
        render_artifacts.print_diff(out, patch.unidiff)
        render_artifacts.print_stat(out, patch.unidiff)
    assert_no_control(out, mode)


@SETTINGS
@given(PATCH, st.sampled_from(MODES))
def test_diff_rendering_never_crashes(unidiff: str, mode: str) -> None:
    out = make_output(mode)
    render_artifacts.print_diff(out, unidiff)
    render_artifacts.print_stat(out, unidiff)
    if mode == "terminal":
        assert_no_control(out, mode)
    else:
        assert unidiff in out.stdout.getvalue()  # raw, so `| git apply` gets the bytes


@SETTINGS
@given(st.lists(ACTIVITIES, max_size=3))
def test_json_mode_prints_the_objects_unchanged(activities) -> None:
    out = make_output("json")
    out.items(list(activities), render_activities.print_activities)
    assert json.loads(out.stdout.getvalue()) == activities


# -- JSON output is always JSON ------------------------------------------------------------

# Any text, lone surrogates included (the API may send "\ud800"), and any float, NaN and
# the infinities included (Python reads them from an answer).
ANY_TEXT = st.text(alphabet=st.characters(codec=None, exclude_categories=()))
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | ANY_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ANY_TEXT, inner, max_size=4),
    max_leaves=20,
)


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not JSON")


@SETTINGS
@given(JSONISH, st.booleans())
@example({"t": "\ud800", "x": float("nan"), "y": [float("inf"), float("-inf")]}, False)
def test_to_json_is_always_valid_utf8_json(data, compact) -> None:
    from jules_cli.render.output import to_json

    text = to_json(data, compact=compact)
    text.encode("utf-8")  # writable to any UTF-8 stream: no lone surrogate left raw
    assert "\n" not in text or not compact
    decoded = json.loads(text, parse_constant=_refuse_constant)
    # Everything else survives unchanged (NaN and the infinities as proto3's strings).
    assert to_json(decoded, compact=compact) == text


@SETTINGS
@given(st.text(alphabet="zq-PROP1a2b3cXY \n", max_size=40), st.integers(0, 40))
def test_a_key_split_over_two_writes_is_still_redacted(prefix, cut) -> None:
    from jules_cli import errors
    from jules_cli.render.streams import GuardedStream

    key = "zq-PROP-1a2b3c4d5e6f-KEY"
    saved = (list(errors._secrets), dict(errors._windows_of), set(errors._short_pieces))
    errors.register_secret(key)
    try:
        sink = io.StringIO()
        stream = GuardedStream(sink, "standard output", reader_may_leave=True)
        text = f"{prefix}{key} and more"
        stream.write(text[: len(prefix) + cut])
        stream.write(text[len(prefix) + cut :])
        stream.flush()
        written = sink.getvalue()
    finally:  # this process's other tests know no such secret
        errors._secrets[:], errors._windows_of, errors._short_pieces = saved
    assert not any(key[i : i + 8] in written for i in range(len(key) - 7)), written
    assert written.endswith(" and more")
