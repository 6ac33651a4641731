"""The saved state is checked whole when it is loaded (jules_cli/emulator/saved.py).

A session entry of the wrong shape inside a valid JSON file used to be read only when a
request first touched it: a 500, and the CLI's exit 7. Now any problem anywhere in the
file sets the file aside as `.corrupt` with one note, and a fresh emulator starts.
"""

from __future__ import annotations

import json
from dataclasses import fields

import httpx
import pytest

from jules_cli.emulator import PersistentEmulatorApp, saved
from jules_cli.emulator.state import (
    _RECORD_REQUIRED,
    AUTOMATION_MODES,
    INACTIVE_BRANCHES,
    STATES,
    Emulator,
    SessionRecord,
)
from tests.emulator_fixture import FakeClock

URL = "http://127.0.0.1/v1alpha"
SOURCE = "sources/github/jules-demo/hello-world"


def test_the_checks_know_every_field_and_value_the_emulator_has():
    # A field added to SessionRecord without a checker would go unchecked: fail here.
    assert set(saved._SESSION_FIELDS) == {f.name for f in fields(SessionRecord)}
    assert set(saved._REQUIRED) == _RECORD_REQUIRED
    assert set(STATES) == saved._STATES
    assert set(AUTOMATION_MODES) == saved._AUTOMATION_MODES


def lived_state() -> dict:
    """A state with every kind of session the emulator makes, caught mid-life: scripts
    with steps pending, replies due, plans waiting, pull requests, archived, bulk."""
    clock = FakeClock()
    emulator = Emulator(clock=clock, speed=10)
    context = {"source": SOURCE, "githubRepoContext": {"startingBranch": "develop"}}
    prompts = [
        "plain",
        "Ask first [ask]",
        "Pause [pause]",
        "Fail [fail:broken]",
        "Stall [stall:planning]",
        "Many [many:5] [same-time]",
        "Media [media] [bash-fail]",
        "Readme [patch:readme] [hostile] [unknown-kind]",
        "No changes [no-changes] [slow:2]",
    ]
    ids = [emulator.create_session({"prompt": p})["id"] for p in prompts]
    approval = emulator.create_session(
        {"prompt": "Plan first", "requirePlanApproval": True, "sourceContext": context}
    )["id"]
    emulator.create_session(
        {"prompt": "PR", "automationMode": "AUTO_CREATE_PR", "sourceContext": context}
    )
    replanned = emulator.create_session(
        {"prompt": "Plan again", "requirePlanApproval": True, "sourceContext": context}
    )["id"]
    emulator.bulk_seed({"sessions": 3, "activities": 2, "archived": True})
    clock.advance(3)
    emulator.approve_plan(approval)
    emulator.send_message(replanned, {"prompt": "Cover the edge cases too [replan]"})
    emulator.send_message(ids[1], {"prompt": "yes please"})
    emulator.archive_session(ids[0])
    clock.advance(2)  # replies due, scripts half played
    return json.loads(emulator.state_json())


def test_every_state_the_emulator_saves_passes_the_check():
    state = lived_state()
    fresh = json.loads(Emulator(clock=FakeClock()).state_json())
    saved.check_state(fresh)  # the demo sources as they are kept
    assert Emulator.from_dict(fresh).to_dict() == fresh
    saved.check_state(state)
    assert any(s.get("script") for s in state["sessions"])
    assert any(s.get("replies") for s in state["sessions"])
    assert any(s.get("activities") for s in state["sessions"])
    restored = Emulator.from_dict(state, clock=FakeClock())
    restored.settle()
    again = json.loads(restored.state_json())
    saved.check_state(again)  # and once every session has ended
    assert any(s.get("pull_request") for s in again["sessions"])
    assert any(s.get("files") for s in again["sessions"])


def _set(path: str, value):
    """A change to one place of a saved state: `sessions.0.title` and the like."""

    def change(state: dict) -> None:
        *parents, last = path.split(".")
        target = state
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if isinstance(target, list):
            target[int(last)] = value
        elif value is _DROP:
            del target[last]
        else:
            target[last] = value

    return change


_DROP = object()


def _sessions(state: dict) -> list[dict]:
    return state["sessions"]


def _with_script(state: dict) -> dict:
    return next(s for s in _sessions(state) if s.get("script"))


def _with_activities(state: dict) -> dict:
    return next(s for s in _sessions(state) if len(s.get("activities") or []) > 2)


def _swap_activity_times(state: dict) -> None:
    activities = _with_activities(state)["activities"]
    activities[0]["ns"], activities[1]["ns"] = activities[1]["ns"] + 1, activities[0]["ns"]


def _duplicate_id(state: dict) -> None:
    _sessions(state)[1]["id"] = _sessions(state)[0]["id"]


def _bad_script_delay(value):
    return lambda state: _with_script(state)["script"][0].__setitem__("delay", value)


# (what, how the state is spoilt, where the note says the problem is)
BAD_STATES = [
    ("title a number", _set("sessions.0.title", 5), "sessions[0].title"),
    ("activities a string", _set("sessions.0.activities", "x"), "sessions[0].activities"),
    ("create_ns a string", _set("sessions.0.create_ns", "12"), "sessions[0].create_ns"),
    ("seq a boolean", _set("sessions.0.seq", True), "sessions[0].seq"),
    ("unknown state", _set("sessions.0.state", "DONE"), "sessions[0].state"),
    ("id not numeric", _set("sessions.0.id", "abc"), "sessions[0].id"),
    ("id a number", _set("sessions.0.id", 42), "sessions[0].id"),
    ("no prompt", _set("sessions.0.prompt", _DROP), "sessions[0]: no `prompt`"),
    ("entry a number", _set("sessions.0", 5), "sessions[0]: expected an object"),
    ("time past 9999", _set("sessions.0.update_ns", 10**30), "sessions[0].update_ns"),
    ("archived a string", _set("sessions.0.archived", "yes"), "sessions[0].archived"),
    ("delay a string", _bad_script_delay("soon"), ".script[0].delay"),
    ("delay NaN", _bad_script_delay(float("nan")), ".script[0].delay"),
    ("delay infinite", _bad_script_delay(float("inf")), ".script[0].delay"),
    (
        "step without delay",
        lambda state: _with_script(state)["script"][0].pop("delay"),
        ".script[0]: no `delay`",
    ),
    (
        "reply without activity",
        lambda state: _with_script(state).__setitem__("replies", [{"due_ns": 1}]),
        ".replies[0]: no `activity`",
    ),
    ("activities out of order", _swap_activity_times, ".activities[1].ns"),
    (
        "activity without id",
        lambda state: _with_activities(state)["activities"][0]["body"].pop("id"),
        ".activities[0].body: no `id`",
    ),
    (
        "planGenerated a string",
        lambda state: _with_activities(state)["activities"][0]["body"].update(planGenerated="x"),
        ".activities[0].body.planGenerated",
    ),
    (
        "cursor on some activities only",
        lambda state: _with_activities(state)["activities"][1].pop("cur"),
        ".activities[1]: a page cursor on some activities only",
    ),
    (
        "source context without source",
        _set("sessions.0.source_context", {"githubRepoContext": {}}),
        "sessions[0].source_context: no `source`",
    ),
    ("a file of two parts", _set("sessions.0.files", [["a.txt", None]]), ".files[0]"),
    ("duplicate ids", _duplicate_id, "sessions[1].id: the same id"),
    ("sessions an object", _set("sessions", {}), "sessions: expected a list"),
    ("pull numbers of text", _set("pullNumbers", {SOURCE: "many"}), "pullNumbers"),
    ("negative offset", _set("offsetNs", -1), "offsetNs"),
    ("a source a number", _set("sources.0", 5), "sources[0]"),
    (
        "unlisted branches a number",
        lambda state: state["sources"][0].__setitem__(INACTIVE_BRANCHES, 5),
        f"sources[0].{INACTIVE_BRANCHES}: expected a list",
    ),
    ("a source without id", _set("sources.0", {"name": SOURCE}), "sources[0]: no `id`"),
    (
        "a branch a number",
        lambda state: state["sources"][0]["githubRepo"]["branches"].append(5),
        "sources[0].githubRepo.branches[2]",
    ),
    ("a seed that cannot load", _set("seed", {"sessions": 5}), "seed:"),
    ("a newer version", _set("version", 2), "unsupported emulator state version 2"),
]


@pytest.mark.parametrize(
    ("spoil", "where"), [case[1:] for case in BAD_STATES], ids=[case[0] for case in BAD_STATES]
)
def test_a_bad_state_anywhere_is_set_aside_with_one_note(tmp_path, spoil, where):
    state = lived_state()
    spoil(state)
    path = tmp_path / "s.json"
    content = json.dumps(state).encode()
    path.write_bytes(content)
    notes: list[str] = []
    app = PersistentEmulatorApp(path, clock=FakeClock(), note=notes.append)
    client = httpx.Client(transport=httpx.WSGITransport(app=app), base_url=URL + "/")
    # Every session of the bad file, by id and in pages: none is a 500 any more.
    for raw in state["sessions"] if isinstance(state["sessions"], list) else []:
        if isinstance(raw, dict) and isinstance(raw.get("id"), str):
            assert client.get(f"sessions/{raw['id']}").status_code == 404
    assert client.get("sessions").json() == {}
    assert (tmp_path / "s.json.corrupt").read_bytes() == content
    assert json.loads(path.read_text())["sessions"] == []
    assert len(notes) == 1, notes
    assert where in notes[0]
    assert notes[0].startswith(f"the emulator's state {path} is unusable (")
    assert notes[0].endswith("; kept it as s.json.corrupt and started a fresh emulator")


def test_the_note_never_quotes_the_files_values(tmp_path):
    state = lived_state()
    _sessions(state)[0]["title"] = ["\x1b[31mred", "x" * 10_000]
    path = tmp_path / "s.json"
    path.write_text(json.dumps(state))
    notes: list[str] = []
    app = PersistentEmulatorApp(path, clock=FakeClock(), note=notes.append)
    httpx.Client(transport=httpx.WSGITransport(app=app)).get(URL + "/sessions")
    assert notes == [
        f"the emulator's state {path} is unusable (sessions[0].title: expected a string); "
        "kept it as s.json.corrupt and started a fresh emulator"
    ]


def test_a_good_state_is_loaded_without_a_note(tmp_path):
    state = lived_state()
    state["offsetNs"] = 300 * 365 * 86_400 * 10**9  # time jumped 300 years ahead: still fine
    path = tmp_path / "s.json"
    path.write_text(json.dumps(state))
    notes: list[str] = []
    app = PersistentEmulatorApp(path, clock=FakeClock(), note=notes.append)
    client = httpx.Client(transport=httpx.WSGITransport(app=app), base_url=URL + "/")
    listed = client.get("sessions", params={"pageSize": 100}).json()["sessions"]
    unarchived = {s["id"] for s in state["sessions"] if not s.get("archived")}
    assert {s["id"] for s in listed} == unarchived and len(unarchived) == 11
    assert notes == [] and not (tmp_path / "s.json.corrupt").exists()


def test_a_bad_session_entry_is_not_a_500_for_the_cli(run_jules, isolated_config):
    """The leftover this module is for: `jules --emulator` on a state whose one session
    entry is wrong inside exits 0 with a fresh emulator and one note, never 7."""
    made = run_jules("--emulator", "session", "new", "-q", "--no-repo", "hello")
    assert made.returncode == 0, made.stderr
    session_id = made.stdout.strip()
    again = run_jules("--emulator", "session", "show", session_id, "--json")
    assert again.returncode == 0 and "unusable" not in again.stderr, again.stderr
    path = isolated_config / "emulator-state.json"
    state = json.loads(path.read_text())
    state["sessions"][0]["activities"] = "x"
    path.write_text(json.dumps(state))
    listed = run_jules("--emulator", "session", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == []
    notes = [line for line in listed.stderr.splitlines() if "unusable" in line]
    assert notes == [
        f"note: the emulator's state {path} is unusable (sessions[0].activities: expected "
        "a list); kept it as emulator-state.json.corrupt and started a fresh emulator"
    ]
    assert "Traceback" not in listed.stderr and "INTERNAL" not in listed.stderr
    assert json.loads((isolated_config / "emulator-state.json.corrupt").read_text()) == state
    # The next command meets the fresh state quietly: the old session is simply gone.
    shown = run_jules("--emulator", "session", "show", session_id)
    assert shown.returncode == 3, shown.stderr  # not found (CLI.md)
    assert "unusable" not in shown.stderr
