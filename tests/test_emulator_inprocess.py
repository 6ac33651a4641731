"""PersistentEmulatorApp: the CLI's --emulator mode, state kept in a file between commands."""

from __future__ import annotations

import json
import threading

import httpx
import pytest

from jules_cli.api.client import JulesClient
from jules_cli.emulator import PersistentEmulatorApp
from tests.emulator_fixture import FakeClock

URL = "http://127.0.0.1/v1alpha"


def command(state_path, clock, **kwargs) -> httpx.Client:
    """One `jules --emulator ...` invocation: a new app object over the same file."""
    app = PersistentEmulatorApp(state_path, clock=clock, **kwargs)
    return httpx.Client(transport=httpx.WSGITransport(app=app), base_url=URL + "/")


def test_state_is_kept_between_commands(tmp_path):
    clock = FakeClock()
    state = tmp_path / "state" / "emulator.json"
    created = command(state, clock).post("sessions", json={"prompt": "hi [ask]"}).json()
    assert state.exists()
    clock.advance(1000)
    session = command(state, clock).get(f"sessions/{created['id']}").json()
    assert session["state"] == "AWAITING_USER_FEEDBACK"
    reply = command(state, clock).post(
        f"sessions/{created['id']}:sendMessage", json={"prompt": "yes"}
    )
    assert reply.status_code == 200
    clock.advance(1000)
    assert command(state, clock).get(f"sessions/{created['id']}").json()["state"] == "COMPLETED"
    # Saved atomically: no temporary file is left behind.
    assert sorted(p.name for p in state.parent.iterdir()) == ["emulator.json", "emulator.json.lock"]


def test_any_key_or_none(tmp_path):
    clock = FakeClock()
    client = command(tmp_path / "s.json", clock)
    assert client.get("sessions").status_code == 200
    assert client.get("sessions", headers={"X-Goog-Api-Key": "whatever"}).status_code == 200


def test_jules_client_through_the_persistent_app(tmp_path):
    clock = FakeClock()
    app = PersistentEmulatorApp(tmp_path / "s.json", speed=10, clock=clock)
    client = JulesClient("ignored", URL, transport=httpx.WSGITransport(app=app), clock=clock)
    sid = client.create_session({"prompt": "x"})["id"]
    clock.advance(10)  # 100 simulated seconds at speed 10
    assert client.get_session(sid)["state"] == "COMPLETED"
    saved = json.loads((tmp_path / "s.json").read_text())
    assert saved["speed"] == 10 and len(saved["sessions"]) == 1


def test_corrupt_state_is_set_aside(tmp_path):
    state = tmp_path / "s.json"
    state.write_text("{ not json")
    response = command(state, FakeClock()).get("sessions")
    assert response.status_code == 200 and response.json() == {}
    assert (tmp_path / "s.json.corrupt").read_text() == "{ not json"
    assert json.loads(state.read_text())["format"] == "jules-emulator-state"


def test_a_state_set_aside_again_keeps_the_one_set_aside_before(tmp_path):
    state = tmp_path / "s.json"
    for text in ("{ first", "{ second", "{ third"):
        state.write_text(text)
        assert command(state, FakeClock()).get("sessions").status_code == 200
    assert (tmp_path / "s.json.corrupt").read_text() == "{ first"
    assert (tmp_path / "s.json.corrupt.1").read_text() == "{ second"
    assert (tmp_path / "s.json.corrupt.2").read_text() == "{ third"


def test_concurrent_commands_do_not_lose_sessions(tmp_path):
    state = tmp_path / "s.json"
    clock = FakeClock()
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            client = command(state, clock)
            for n in range(8):
                assert client.post("sessions", json={"prompt": f"p{n}"}).status_code == 200
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    listed = command(state, clock).get("sessions", params={"pageSize": 100}).json()
    assert len(listed["sessions"]) == 24


def test_control_plane_reset_persists(tmp_path):
    clock = FakeClock()
    state = tmp_path / "s.json"
    command(state, clock).post("sessions", json={"prompt": "x"})
    command(state, clock).post("http://127.0.0.1/_emulator/reset")
    assert command(state, clock).get("sessions").json() == {}


def test_bad_speed():
    with pytest.raises(ValueError):
        PersistentEmulatorApp("x.json", speed=0)


def test_a_big_state_is_saved_only_when_it_changes(tmp_path):
    # 20,000 bulk sessions: reads of settled sessions leave the file alone (a state of
    # 100,000 costs its size to write), and a change is saved with the indexes intact.
    clock = FakeClock()
    state = tmp_path / "s.json"
    app = PersistentEmulatorApp(state, clock=clock)
    control = httpx.Client(transport=httpx.WSGITransport(app=app))
    made = control.post("http://127.0.0.1/_emulator/bulk", json={"sessions": 20_000}).json()
    ids = made["sessions"]
    written = state.stat().st_mtime_ns, state.stat().st_ino
    client = command(state, clock)
    clock.advance(5)
    page = client.get("sessions", params={"pageSize": 3}).json()
    assert [s["id"] for s in page["sessions"]] == ids[::-1][:3]
    assert client.get(f"sessions/{ids[7]}").json()["id"] == ids[7]
    assert (state.stat().st_mtime_ns, state.stat().st_ino) == written
    client.post(f"sessions/{ids[-1]}:archive")
    assert (state.stat().st_mtime_ns, state.stat().st_ino) != written
    after = command(state, clock).get("sessions", params={"pageSize": 2}).json()["sessions"]
    assert [s["id"] for s in after] == [ids[-2], ids[-3]]
    # What was saved without being touched is still the compact form.
    saved = json.loads(state.read_text())["sessions"][0]
    assert set(saved) == {"id", "seq", "prompt", "title", "create_ns", "update_ns", "state"}


# -- hostile state files and folders ---------------------------------------------------------

CORRUPT_STATES = {
    "not-utf8": b"\xff\xfe{}",
    "deep": b"[" * 100_000 + b"]" * 100_000,
    "a-list": b"[1, 2, 3]",
    "null": b"null",
    "wrong-types": json.dumps(
        {"format": "jules-emulator-state", "version": 1, "offsetNs": [], "sessions": "x"}
    ).encode(),
    "bad-sessions": json.dumps(
        {"format": "jules-emulator-state", "version": 1, "sessions": [{"id": "1"}]}
    ).encode(),
    "bad-numbers": json.dumps(
        {"format": "jules-emulator-state", "version": 1, "seq": "many", "pullNumbers": [1]}
    ).encode(),
}


@pytest.mark.parametrize("content", CORRUPT_STATES.values(), ids=CORRUPT_STATES.keys())
def test_any_corrupt_state_is_set_aside_and_a_fresh_one_starts(tmp_path, content):
    from jules_cli.emulator.state import STATE_FORMAT, STATE_VERSION

    assert (STATE_FORMAT, STATE_VERSION) == ("jules-emulator-state", 1)  # as written above
    state = tmp_path / "s.json"
    state.write_bytes(content)
    response = command(state, FakeClock()).get("sessions")
    assert response.status_code == 200, response.text
    assert (tmp_path / "s.json.corrupt").read_bytes() == content
    assert json.loads(state.read_text())["format"] == STATE_FORMAT


def test_the_state_and_its_folder_are_private(tmp_path):
    import os
    import stat

    state = tmp_path / "new" / "data" / "s.json"
    command(state, FakeClock()).post("sessions", json={"prompt": "hi"})
    assert stat.S_IMODE(os.stat(state).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(state.with_name("s.json.lock")).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "new").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(tmp_path / "new" / "data").st_mode) == 0o700


def test_a_full_disk_is_one_clear_error(tmp_path, monkeypatch):
    from jules_cli import files
    from jules_cli.emulator.inprocess import EmulatorStateError

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", full)
    with pytest.raises(EmulatorStateError) as raised:
        command(tmp_path / "s.json", FakeClock()).post("sessions", json={"prompt": "hi"})
    assert "cannot save the emulator's state" in str(raised.value)
    assert "No space left on device" in str(raised.value)
    assert [p.name for p in tmp_path.iterdir()] == ["s.json.lock"]  # no temporary file


def test_reset_waits_for_a_running_request_and_is_not_undone(tmp_path):
    """A request holds the state while it is handled; a reset meanwhile waits for it, so
    the request's save cannot bring the old sessions back after the reset."""
    from jules_cli.emulator.inprocess import reset_state

    clock = FakeClock()
    state = tmp_path / "s.json"
    created = command(state, clock).post("sessions", json={"prompt": "hi"}).json()
    app = PersistentEmulatorApp(state, clock=clock)
    entered, release = threading.Event(), threading.Event()

    class Slow:
        """The emulator's WSGI app, taking its time over the request."""

        def __init__(self, inner) -> None:
            self.inner = inner

        @property
        def emulator(self):
            return self.inner.emulator

        @emulator.setter
        def emulator(self, value) -> None:
            self.inner.emulator = value

        def __call__(self, environ, start_response):
            entered.set()
            release.wait(10)
            return self.inner(environ, start_response)

    app._app = Slow(app._app)

    def request():
        client = httpx.Client(transport=httpx.WSGITransport(app=app), base_url=URL + "/")
        client.get(f"sessions/{created['id']}")

    worker = threading.Thread(target=request)
    worker.start()
    assert entered.wait(10)
    resetter = threading.Thread(target=lambda: reset_state(state))
    resetter.start()
    resetter.join(0.3)
    assert resetter.is_alive()  # waiting for the lock
    release.set()
    worker.join(10)
    resetter.join(10)
    assert not state.exists()
    missing = command(state, clock).get(f"sessions/{created['id']}")
    assert missing.status_code == 404
