"""Pytest fixtures around the Jules API emulator (registered by conftest.py).

    emulator_server  a real HTTP server on 127.0.0.1 with a free port, fresh per test,
                     at speed 200 (a default session runs in about 0.3 s); the value is
                     a jules_cli.emulator.ServerHandle: .url, .env, .requests(),
                     .clear_requests(), .fault(**spec), .advance(s), .settle(), .emulator
    emulator_server_factory
                     start(**Emulator kwargs) -> ServerHandle, for a required key
                     (api_key=...), a seed (seed={...}) or another speed; all stopped
                     after the test
    emulator_wsgi    the same emulator in-process on a fake clock that only moves when
                     told to (or when the client "sleeps"): fully deterministic
    FakeClock        the clock itself, for tests that build their own Emulator
    emulator_bash_output
                     whether the emulators emit bashOutput artifacts (the live API may
                     no longer send them, jules-api.md 13): `pytest --emulator-bash-output
                     off` runs the whole suite without them (every Emulator, and every
                     `jules --emulator` subprocess, follows); key tests parametrize it
                     with indirect=True to run both ways

Both are cheap: no subprocess, the server binds in a millisecond and stops in ~50 ms.
For deterministic tests over the real server, do not wait for real time to pass: call
`.settle()` (runs every scheduled step now) or `.advance(seconds)`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest

from jules_cli.api.client import JulesClient, RetryPolicy
from jules_cli.emulator import DEMO_API_KEY, Emulator, EmulatorApp, ServerHandle, start_server
from jules_cli.emulator.state import BASH_OUTPUT_ENV, bash_output_default

FIXTURE_SPEED = 200.0
START_TIME = 1_767_225_600.0  # 2026-01-01T00:00:00Z


class FakeClock:
    """A clock for Emulator(clock=...) and JulesClient(clock=..., sleep=...)."""

    def __init__(self, start: float = START_TIME) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)


@dataclass
class InProcessEmulator:
    emulator: Emulator
    app: EmulatorApp
    clock: FakeClock
    client: JulesClient
    http: httpx.Client  # raw access, with the key header set
    url: str


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--emulator-bash-output",
        choices=("on", "off"),
        default=None,
        help="run the emulator-backed tests with bashOutput artifacts on or off "
        f"(default: ${BASH_OUTPUT_ENV}, else on)",
    )


@pytest.fixture(autouse=True)
def _emulator_bash_output_mode(request: pytest.FixtureRequest, monkeypatch) -> None:
    mode = request.config.getoption("--emulator-bash-output", default=None)
    if mode is not None:
        monkeypatch.setenv(BASH_OUTPUT_ENV, "1" if mode == "on" else "0")


@pytest.fixture
def emulator_bash_output(request: pytest.FixtureRequest, monkeypatch, _emulator_bash_output_mode):
    """True when this test's emulators emit bashOutput artifacts; parametrize it
    (indirect=True) with True/False to run a test both ways."""
    wanted = getattr(request, "param", None)
    if wanted is not None:
        monkeypatch.setenv(BASH_OUTPUT_ENV, "1" if wanted else "0")
    return bash_output_default()


@pytest.fixture
def emulator_server(emulator_bash_output) -> Iterator[ServerHandle]:
    handle = start_server(Emulator(speed=FIXTURE_SPEED))
    try:
        yield handle
    finally:
        handle.shutdown()


@pytest.fixture
def emulator_server_factory(emulator_bash_output) -> Iterator[Callable[..., ServerHandle]]:
    handles: list[ServerHandle] = []

    def start(**emulator_kwargs) -> ServerHandle:
        emulator_kwargs.setdefault("speed", FIXTURE_SPEED)
        handle = start_server(Emulator(**emulator_kwargs))
        handles.append(handle)
        return handle

    try:
        yield start
    finally:
        for handle in handles:
            handle.shutdown()


@pytest.fixture
def emulator_wsgi(emulator_bash_output) -> Iterator[InProcessEmulator]:
    clock = FakeClock()
    emulator = Emulator(speed=1.0, clock=clock, rng_seed=1234)
    app = EmulatorApp(emulator, sleep=clock.sleep)
    url = "http://127.0.0.1/v1alpha"
    transport = httpx.WSGITransport(app=app)
    client = JulesClient(
        DEMO_API_KEY,
        url,
        transport=transport,
        retry=RetryPolicy(jitter=0),
        sleep=clock.sleep,
        clock=clock,
    )
    http = httpx.Client(
        transport=transport, base_url=url + "/", headers={"X-Goog-Api-Key": DEMO_API_KEY}
    )
    try:
        yield InProcessEmulator(emulator, app, clock, client, http, url)
    finally:
        client.close()
        http.close()
