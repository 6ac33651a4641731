"""The fault matrix: every injected fault against every kind of call, end to end.

The installed `jules` runs as a subprocess (as in a CI job) against a real loopback
emulator that injects the fault. Kinds of call:

    list     `session list --json`              GET sessions               idempotent
    get      `session show ID --json`           GET sessions/ID            idempotent
    poll     `session wait ID --json`           GET sessions/ID (polled)   idempotent
    create   `session new --json PROMPT`        POST sessions              never repeated
    send     `session send ID MESSAGE --json`   POST sessions/ID:sendMessage  never repeated
    approve  `session approve ID --json`        POST sessions/ID:approvePlan  never repeated

What each cell proves (the retry policy, see jules_cli/api/client.py):

* idempotent calls, fault twice (fewer times than the retry budget of 5 tries; the 5xx
  entry: 500, 502, 503 and 504 once each): they recover, exit 0 with the right output,
  after exactly one try more than there were faults;
* idempotent calls, fault forever: exactly 5 tries, then exit 6 (429) or 7 (the rest) and
  one `Error: ...` line on stderr, nothing else;
* create/send/approve: a 429 is retried like a read (the server refused the request
  before doing anything); every other fault is NOT retried (one try), because the request
  may have reached the server: exit 7, one error line that says how to check whether it
  happened, and the work is done at most once - exactly once when the server processed
  it before the fault (drop/reset after processing, a time-out, a cut or mangled answer);
* connection refused (nothing listens): every kind exits 7 with "connection refused";
  even a create may be retried there, since the request never left;
* the key (SECRET-KEY-abc123, also echoed into an HTML error page) appears in no stdout
  or stderr, also under --debug.

A non-JSON answer (a 200 whose body is not JSON, an HTML page, a cut-off body) counts as
a failing service: exit 7, retried for reads, like a 5xx.

Cost: one emulator for the module, reset between batches; the kinds of a batch run
concurrently (each fault is bound to its own method and path), and a batch runs once and
serves all its cells. JULES_RETRY_DELAY_SCALE shrinks the waits between retries. Cells
whose outcome the client cannot tell apart are run once: reads meet the 5xx statuses in
one sequence, and faults that differ only in what the server did (reset after
processing, a 200 HTML page) run against create/send/approve, where that matters.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from jules_cli.emulator import Emulator, ServerHandle, start_server
from tests.conftest import jules_command

KEY = "SECRET-KEY-abc123"
SOURCE = "sources/github/jules-demo/hello-world"
CREATE_PROMPT = "matrix create"
MESSAGE = "matrix message"
RETRY_BUDGET = 5  # RetryPolicy.attempts
TRANSIENT_TIMES = 2  # fewer than the budget: the third try gets through
HTTP_TIMEOUT = 0.5  # JULES_HTTP_TIMEOUT in the time-out batches
SLOW_ANSWER = 1.5  # the delay of the time-out fault: longer than HTTP_TIMEOUT

KINDS = ("list", "get", "poll", "create", "send", "approve")
IDEMPOTENT_KINDS = ("list", "get", "poll")
UNSAFE_KINDS = ("create", "send", "approve")
# What an unsafe call's error line tells the user to check.
CHECK_HINTS = {
    "create": "jules session list",
    "send": "jules activities list",
    "approve": "jules session show",
}

# An HTML error page as a proxy sends it, long, with the key echoed in it.
PROXY_PAGE = (
    "<!DOCTYPE html><html><head><title>502 Bad Gateway</title>"
    "<style>body { font-family: sans-serif }</style></head><body><h1>Bad Gateway</h1>"
    f"<p>The upstream answered nothing. Request headers: X-Goog-Api-Key: {KEY}</p>"
    + "<p>padding</p>" * 200
    + "</body></html>"
)
LOGIN_PAGE = (
    "<html><head><title>Sign in to the guest Wi-Fi</title></head>"
    "<body><form>...</form></body></html>"
)


@dataclass(frozen=True)
class Fault:
    name: str
    spec: dict[str, Any]
    processed: bool  # the server did the work before the fault hit the answer
    exit_code: int  # when it persists
    message: str  # regex the error line must match
    unsafe_retry: bool = False  # create/send/approve may be retried on it
    slow: bool = False  # a time-out fault: the server is still busy after the client left
    kinds: tuple[str, ...] = KINDS  # the kinds of call it is tried against
    # Idempotent calls see these specs one after the other (e.g. each 5xx once), instead
    # of `spec` again and again.
    sequence: tuple[dict[str, Any], ...] = ()

    def specs(self, kind: str, times: int | None) -> list[dict[str, Any]]:
        """The faults to queue for one kind of call; times=None: forever."""
        if not self.sequence or kind not in IDEMPOTENT_KINDS:
            return [{**self.spec, "times": times}]
        count = RETRY_BUDGET if times is None else len(self.sequence)
        steps = [self.sequence[i % len(self.sequence)] for i in range(count)]
        if times is None:
            steps[-1] = {**steps[-1], "times": None}
        return steps

    @property
    def unsafe_differs_when_persistent(self) -> bool:
        """Whether create/send/approve behave differently when the fault persists: only
        when they retry it (else they fail on the first try anyway), or when the key is
        echoed back (then they run again, under --debug)."""
        return self.unsafe_retry or KEY in json.dumps(self.spec)


FAULTS = [
    Fault(
        "429",
        {"status": 429, "retryAfter": 1},
        processed=False,
        exit_code=6,
        message=r"RESOURCE_EXHAUSTED \(429\)",
        unsafe_retry=True,
    ),
    # Reads meet every 5xx in turn: recovering uses four of the five tries.
    Fault(
        "5xx",
        {"status": 500},
        False,
        7,
        r"(INTERNAL|UNAVAILABLE|DEADLINE_EXCEEDED) \(50[0234]\)",
        kinds=IDEMPOTENT_KINDS,
        sequence=({"status": 500}, {"status": 502}, {"status": 503}, {"status": 504}),
    ),
    Fault("500", {"status": 500}, False, 7, r"INTERNAL \(500\)", kinds=UNSAFE_KINDS),
    Fault("502", {"status": 502}, False, 7, r"UNAVAILABLE \(502\)", kinds=UNSAFE_KINDS),
    Fault("503", {"status": 503}, False, 7, r"UNAVAILABLE \(503\)", kinds=UNSAFE_KINDS),
    Fault("504", {"status": 504}, False, 7, r"DEADLINE_EXCEEDED \(504\)", kinds=UNSAFE_KINDS),
    Fault("reset-before", {"reset": True}, False, 7, r"connection to 127\.0\.0\.1:\d+ was reset"),
    # For a read, reset after processing is the same as before; for a create it is not.
    Fault(
        "reset-after",
        {"reset": True, "after": True},
        True,
        7,
        r"connection to 127\.0\.0\.1:\d+ was reset",
        kinds=UNSAFE_KINDS,
    ),
    Fault(
        "drop-after",
        {"drop": True, "after": True},
        True,
        7,
        r"closed the connection without answering",
    ),
    Fault(
        "timeout",
        {"delay": SLOW_ANSWER},
        True,
        7,
        rf"no answer from 127\.0\.0\.1:\d+ (within {HTTP_TIMEOUT:g} s|in the time left)",
        slow=True,
    ),
    Fault("truncated", {"truncate": 20}, True, 7, r"cut short"),
    Fault(
        "garbage-200",
        {"body": '{"sessions": [{"id": ', "contentType": "application/json"},
        True,
        7,
        r"the answer \(200\) is not JSON",
    ),
    Fault(
        "html-200",
        {"body": LOGIN_PAGE},
        True,
        7,
        r'the answer \(200\) is not JSON: an HTML page "Sign in to the guest Wi-Fi"',
        kinds=UNSAFE_KINDS,
    ),
    Fault(
        "text-500",
        {"status": 500, "body": "upstream connect error", "contentType": "text/plain"},
        False,
        7,
        r'HTTP 500 Internal Server Error: "upstream connect error"',
    ),
    Fault(
        "html-502",
        {"status": 502, "body": PROXY_PAGE},
        False,
        7,
        r'HTTP 502 Bad Gateway: an HTML page "502 Bad Gateway" \(from a proxy',
    ),
]
FAULTS_BY_NAME = {fault.name: fault for fault in FAULTS}


@dataclass
class Cell:
    kind: str
    debug: bool
    returncode: int
    stdout: str
    stderr: str
    tries: int  # requests that reached the faulted method and path
    effects: int  # sessions created / messages arrived / plans approved
    targets: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        return (
            f"{self.kind}: exit {self.returncode}, {self.tries} tries, {self.effects} effects\n"
            f"stdout: {self.stdout[:500]!r}\nstderr: {self.stderr[-1500:]!r}"
        )


def free_port() -> int:
    """A port nothing listens on (bound and released at once): connection refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def base_env(config_dir: Path, api_url: str) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("JULES_") and name not in ("CI", "NO_COLOR", "FORCE_COLOR")
    }
    env.update(
        JULES_CONFIG_DIR=str(config_dir),
        JULES_API_URL=api_url,
        JULES_API_KEY=KEY,
        JULES_RETRY_DELAY_SCALE="0.01",  # keep the retry budget, not the waiting
        CI="1",
        NO_COLOR="1",
    )
    return env


def command(kind: str, targets: dict[str, str], persistent: bool) -> list[str]:
    return {
        "list": ["session", "list", "--json"],
        "get": ["session", "show", targets["get"], "--json"],
        # A persistent fault would be waited out for minutes (the poll loop tolerates
        # outages); --timeout bounds it.
        "poll": [
            "session",
            "wait",
            targets["poll"],
            "--json",
            "--timeout",
            "1" if persistent else "30",
        ],
        "create": ["session", "new", "--source", SOURCE, "--json", CREATE_PROMPT],
        "send": ["session", "send", targets["send"], MESSAGE, "--json"],
        "approve": ["session", "approve", targets["approve"], "--json"],
    }[kind]


def fault_route(kind: str, targets: dict[str, str]) -> tuple[str, str]:
    return {
        "list": ("GET", "sessions"),
        "get": ("GET", f"sessions/{targets['get']}"),
        "poll": ("GET", f"sessions/{targets['poll']}"),
        "create": ("POST", "sessions"),
        "send": ("POST", f"sessions/{targets['send']}:sendMessage"),
        "approve": ("POST", f"sessions/{targets['approve']}:approvePlan"),
    }[kind]


class Matrix:
    """Runs one batch per (fault, mode) on first demand and keeps its cells."""

    def __init__(self, server: ServerHandle, config_dir: Path) -> None:
        self.server = server
        self.config_dir = config_dir
        self._batches: dict[tuple[str, str], dict[str, Cell]] = {}

    def cell(self, fault: Fault, mode: str, kind: str) -> Cell:
        key = (fault.name, mode)
        if key not in self._batches:
            self._batches[key] = self._run_batch(fault, mode)
        return self._batches[key][kind]

    def _prepare(self) -> dict[str, str]:
        server = self.server
        server.reset()
        emulator = server.emulator
        source = {"source": SOURCE}
        targets = {
            kind: emulator.create_session({"prompt": f"{kind} target", "sourceContext": source})[
                "id"
            ]
            for kind in ("get", "poll", "send")
        }
        targets["approve"] = emulator.create_session(
            {"prompt": "approve target", "sourceContext": source, "requirePlanApproval": True}
        )["id"]
        server.settle()
        server.clear_requests()
        return targets

    def _run_batch(self, fault: Fault, mode: str) -> dict[str, Cell]:
        persistent = mode == "persistent"
        kinds = fault.kinds
        if persistent and not fault.unsafe_differs_when_persistent:
            kinds = tuple(kind for kind in kinds if kind in IDEMPOTENT_KINDS)
        targets = self._prepare()
        env = base_env(self.config_dir, self.server.url)
        if fault.slow:
            env["JULES_HTTP_TIMEOUT"] = f"{HTTP_TIMEOUT:g}"
        for kind in kinds:
            method, path = fault_route(kind, targets)
            retried = kind in IDEMPOTENT_KINDS or fault.unsafe_retry
            times = None if persistent else (TRANSIENT_TIMES if retried else 1)
            for spec in fault.specs(kind, times):
                self.server.fault(**spec, method=method, path=path)
        # Successes are traced (--debug) to prove the key stays out of the trace; failures
        # run plain to prove the error is a single line, except the unsafe calls in the
        # persistent batch, which repeat their failure under --debug.
        debug = {kind: (kind in UNSAFE_KINDS) == persistent for kind in kinds}
        processes = {
            kind: subprocess.Popen(
                [*jules_command(), *(["--debug"] if debug[kind] else []),
                 *command(kind, targets, persistent)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
            for kind in kinds
        }  # fmt: skip
        outputs = {kind: process.communicate(timeout=60) for kind, process in processes.items()}
        # Requests the clients gave up on (time-outs) are still being handled; their work
        # counts too.
        assert self.server.wait_idle(timeout=SLOW_ANSWER + 10)
        log = self.server.requests()
        cells = {}
        for kind in kinds:
            method, path = fault_route(kind, targets)
            tries = sum(1 for r in log if r["method"] == method and r["path"] == f"/v1alpha/{path}")
            stdout, stderr = outputs[kind]
            cells[kind] = Cell(
                kind,
                debug[kind],
                processes[kind].returncode,
                stdout,
                stderr,
                tries,
                self._effects(kind, targets),
                targets,
            )
        return cells

    def _effects(self, kind: str, targets: dict[str, str]) -> int:
        emulator = self.server.emulator
        if kind == "create":
            sessions = emulator.list_sessions(
                filter="archived = true OR archived = false", page_size=100
            ).get("sessions", [])
            return sum(1 for s in sessions if s.get("prompt") == CREATE_PROMPT)
        if kind in ("send", "approve"):
            activities = emulator.list_activities(targets[kind], page_size=100).get(
                "activities", []
            )
            wanted = "userMessaged" if kind == "send" else "planApproved"
            return sum(1 for a in activities if wanted in a)
        return 0


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matrix]:
    server = start_server(Emulator(speed=200))
    try:
        yield Matrix(server, tmp_path_factory.mktemp("fault-matrix-config"))
    finally:
        server.shutdown()


# -- what every cell must show ---------------------------------------------------------


def assert_no_leak(cell: Cell) -> None:
    assert KEY not in cell.stdout and KEY not in cell.stderr, cell.describe()
    assert "Traceback" not in cell.stderr, cell.describe()


def assert_one_error_line(cell: Cell, fault: Fault) -> str:
    """The failure is one line: `Error: what failed - what to do`, with no HTML in it."""
    errors = [line for line in cell.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, cell.describe()
    if not cell.debug:
        assert cell.stderr.splitlines() == errors, cell.describe()
    line = errors[0]
    assert re.search(fault.message, line), f"{fault.message!r} not in {line!r}"
    assert "<" not in line and len(line) < 400, line
    assert " - " in line, f"no hint in {line!r}"
    return line


def assert_success_output(cell: Cell) -> None:
    assert cell.returncode == 0, cell.describe()
    data = json.loads(cell.stdout)
    targets = cell.targets
    if cell.kind == "list":
        assert {targets["get"], targets["poll"], targets["send"]} <= {s["id"] for s in data}
    elif cell.kind == "create":
        assert data["prompt"] == CREATE_PROMPT and data["id"]
    elif cell.kind == "poll":
        assert data["id"] == targets["poll"] and data["state"] == "COMPLETED"
    else:
        assert data["id"] == targets[cell.kind], cell.describe()


def case_id(value: Any) -> str:
    return value.name if isinstance(value, Fault) else str(value)


# -- the matrix -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", IDEMPOTENT_KINDS)
@pytest.mark.parametrize("fault", [f for f in FAULTS if "get" in f.kinds], ids=case_id)
def test_idempotent_call_recovers_from_a_transient_fault(matrix, fault, kind):
    cell = matrix.cell(fault, "transient", kind)
    assert_no_leak(cell)
    assert_success_output(cell)
    failures = len(fault.specs(kind, TRANSIENT_TIMES)) if fault.sequence else TRANSIENT_TIMES
    if fault.slow:
        # A busy machine may time out one more try on its own; a retry covers that too.
        assert failures + 1 <= cell.tries <= RETRY_BUDGET, cell.describe()
    else:
        assert cell.tries == failures + 1, cell.describe()
    assert "retrying in" in cell.stderr  # the --debug trace shows the retries


@pytest.mark.parametrize("kind", IDEMPOTENT_KINDS)
@pytest.mark.parametrize("fault", [f for f in FAULTS if "get" in f.kinds], ids=case_id)
def test_idempotent_call_gives_up_after_its_budget(matrix, fault, kind):
    cell = matrix.cell(fault, "persistent", kind)
    assert_no_leak(cell)
    assert cell.returncode == fault.exit_code, cell.describe()
    assert cell.stdout == ""
    line = assert_one_error_line(cell, fault)
    if kind == "poll":
        # `wait --timeout 1` bounds everything, the retries included: a slow fault may
        # leave time for fewer tries than the budget (tests/test_hostile_server.py times it).
        assert re.search(r"\(tried [2-5] times\)", line) or fault.slow, line
        return
    assert f"(tried {RETRY_BUDGET} times)" in line
    assert cell.tries >= RETRY_BUDGET, cell.describe()


@pytest.mark.parametrize("kind", UNSAFE_KINDS)
@pytest.mark.parametrize("fault", [f for f in FAULTS if "create" in f.kinds], ids=case_id)
def test_unsafe_call_is_done_at_most_once(matrix, fault, kind):
    cell = matrix.cell(fault, "transient", kind)
    assert_no_leak(cell)
    if fault.unsafe_retry:
        # Refused before any work: retried, and done exactly once.
        assert_success_output(cell)
        assert cell.tries == TRANSIENT_TIMES + 1, cell.describe()
        assert cell.effects == 1, cell.describe()
        return
    assert cell.returncode == 7, cell.describe()
    assert cell.stdout == ""
    assert cell.tries == 1, cell.describe()  # never repeated: it may have been done
    assert cell.effects == (1 if fault.processed else 0), cell.describe()
    line = assert_one_error_line(cell, fault)
    assert CHECK_HINTS[kind] in line, line


@pytest.mark.parametrize("kind", UNSAFE_KINDS)
@pytest.mark.parametrize(
    "fault",
    [f for f in FAULTS if "create" in f.kinds and f.unsafe_differs_when_persistent],
    ids=case_id,
)
def test_unsafe_call_failing_for_good_under_debug(matrix, fault, kind):
    cell = matrix.cell(fault, "persistent", kind)
    assert cell.debug
    assert_no_leak(cell)
    assert cell.returncode == fault.exit_code, cell.describe()
    assert_one_error_line(cell, fault)
    assert cell.effects == (1 if fault.processed else 0), cell.describe()
    assert cell.tries == (RETRY_BUDGET if fault.unsafe_retry else 1), cell.describe()


@pytest.fixture(scope="module")
def refused_cells(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Cell]:
    """Every kind against a port nothing listens on, concurrently."""
    url = f"http://127.0.0.1:{free_port()}/v1alpha"
    env = base_env(tmp_path_factory.mktemp("refused-config"), url)
    targets = {kind: "1234567890123456789" for kind in KINDS}
    processes = {
        kind: subprocess.Popen(
            [*jules_command(), *command(kind, targets, persistent=True)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for kind in KINDS
    }
    cells = {}
    for kind, process in processes.items():
        stdout, stderr = process.communicate(timeout=60)
        cells[kind] = Cell(kind, False, process.returncode, stdout, stderr, 0, 0, targets)
    return cells


@pytest.mark.parametrize("kind", KINDS)
def test_connection_refused(refused_cells, kind):
    cell = refused_cells[kind]
    assert_no_leak(cell)
    assert cell.returncode == 7, cell.describe()
    refused = Fault(
        "refused", {}, False, 7, r"cannot connect to 127\.0\.0\.1:\d+ \(connection refused\)"
    )
    line = assert_one_error_line(cell, refused)
    # The request never left, so every kind (a create too) used its whole budget.
    assert f"(tried {RETRY_BUDGET} times)" in line
