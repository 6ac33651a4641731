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


@pytest.fixture
def emulator_server() -> Iterator[ServerHandle]:
    handle = start_server(Emulator(speed=FIXTURE_SPEED))
    try:
        yield handle
    finally:
        handle.shutdown()


@pytest.fixture
def emulator_server_factory() -> Iterator[Callable[..., ServerHandle]]:
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
def emulator_wsgi() -> Iterator[InProcessEmulator]:
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
