#!/usr/bin/env python3
"""The `jules` benchmark: the performance budgets of issues 8, 15 and 17, measured in one run.

    python bench/run.py [--runs N] [--json-out FILE] [--idle-window SECONDS] [--idle-samples N]
                        [--only GROUP ...]

It starts the emulator in its own processes (`jules emulator serve --port 0`), runs the
installed `jules` console script next to sys.executable against them over loopback, and
compares each figure with a baseline measured in the same run on the same machine
(`python -c pass`, a minimal httpx script making the same requests and printing the same
bytes, the same pages served from memory, or the same command at a smaller size).

Method. Every child is started by a small spawner process (not by this one), which times
it from fork to exit and reads its own peak memory (`os.wait4`'s `ru_maxrss`), so neither
figure includes this process (a child forked from a big parent inherits its size as the
starting high-water mark). The cases of a group run round by round, each round running
every case's command and its baseline back to back (which one goes first alternates), and
each figure is the median of the per-round ratios, with their spread (min-max): drift on a
shared machine hits both sides of a pair alike. It prints a table and writes the figures
as JSON (with the git commit, Python version, CPU count and load) to compare commits. It
is a measuring tool: it never fails on a figure over its budget (exit 0), only on a
broken setup. See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import select
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from jules_cli.follow import SETTLE_READS
from jules_cli.pacing import CALLS_PER_MINUTE, SPACING

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SEEDED_SESSIONS = 10_000
SMALL_LIST = 1_000
PAGE_SIZE = 100  # what `jules` asks for, and so what the baselines ask for
SCALE_SIZES = (1_000, 10_000, 100_000)  # emulator sessions for the scale figures
TAIL_ACTIVITIES = 10_000  # time to first line of `activities tail --no-follow`
TAIL_MEMORY_SIZES = (1_000, 50_000)  # peak memory of `activities tail`
LOAD_CLIENTS = 200
LOAD_SECONDS = 20.0

# The minimal scripts `jules` is compared with: the same URL, header, page size and output
# bytes (`json.dumps(..., indent=2)` of the API objects), and nothing else.
HTTPX_ONE_PAGE = """
import json, sys, httpx
url, key = sys.argv[1], sys.argv[2]
with httpx.Client(headers={"X-Goog-Api-Key": key}) as client:
    page = client.get(url + "/sources", params={"pageSize": PAGE_SIZE}).raise_for_status().json()
sys.stdout.write(json.dumps(page.get("sources", []), indent=2, ensure_ascii=False) + "\\n")
""".replace("PAGE_SIZE", str(PAGE_SIZE))

HTTPX_PAGING = """
import json, sys, httpx
url, key, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
items, token = [], None
with httpx.Client(headers={"X-Goog-Api-Key": key}) as client:
    while len(items) < limit:
        params = {"pageSize": PAGE_SIZE}
        if token:
            params["pageToken"] = token
        page = client.get(url + "/sessions", params=params).raise_for_status().json()
        items += page.get("sessions", [])
        token = page.get("nextPageToken")
        if not token:
            break
sys.stdout.write(json.dumps(items[:limit], indent=2, ensure_ascii=False) + "\\n")
""".replace("PAGE_SIZE", str(PAGE_SIZE))

# The spawner: starts each measured child itself, so the child's ru_maxrss starts from
# this small process (about 9 MiB) instead of the benchmark's (40+ MiB), and the time is
# fork to exit with nothing of the benchmark in between. One JSON job per line in, one
# JSON result per line out. With "first_line", the child's stdout is read here, the
# moment its first line arrives is recorded, and the child is then stopped (SIGKILL):
# what follows does not count.
SPAWNER = r"""
import json, os, signal, sys, time
for line in sys.stdin:
    job = json.loads(line)
    read_end, write_end = os.pipe() if job["first_line"] else (None, None)
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            null = os.open(os.devnull, os.O_RDWR)
            os.dup2(null, 0)
            os.dup2(write_end if write_end is not None else null, 1)
            os.dup2(null, 2)
            os.execve(job["argv"][0], job["argv"], job["env"])
        finally:
            os._exit(127)
    first = None
    if read_end is not None:
        os.close(write_end)
        while True:
            chunk = os.read(read_end, 1 << 16)
            if not chunk:
                break
            if first is None and b"\n" in chunk:
                first = time.perf_counter() - started
                os.kill(pid, signal.SIGKILL)
                break
        os.close(read_end)
    _, status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - started
    rss = usage.ru_maxrss // (1024 if sys.platform == "darwin" else 1)
    code = os.waitstatus_to_exitcode(status)
    if first is not None and code == -signal.SIGKILL:
        code = 0
    sys.stdout.write(json.dumps([seconds, first, rss, code]) + "\n")
    sys.stdout.flush()
"""

# A static server for the pages of a list, from memory: the emulator's own HTTP server
# class with a WSGI app that looks the page up by its pageToken. The baseline for what
# the emulator's bookkeeping costs.
STATIC_SERVER = r"""
import json, sys
from jules_cli.emulator.server import _RequestHandler, _ThreadingServer
from urllib.parse import parse_qs
pages = {token: body.encode() for token, body in json.load(open(sys.argv[1])).items()}
def app(environ, start_response):
    token = parse_qs(environ.get("QUERY_STRING", "")).get("pageToken", [""])[0]
    body = pages.get(token)
    if body is None:
        start_response("404 Not Found", [("Content-Length", "0")])
        return [b""]
    start_response("200 OK", [("Content-Type", "application/json; charset=UTF-8"),
                              ("Content-Length", str(len(body)))])
    return [body]
server = _ThreadingServer(("127.0.0.1", 0), _RequestHandler)
server.set_app(app)
print(server.server_address[1], flush=True)
server.serve_forever(poll_interval=0.05)
"""


@dataclass
class Figure:
    name: str
    measured: str  # for people: what was measured, with units
    value: float  # what is compared with the budget (a ratio, calls a minute, seconds)
    budget: float
    unit: str  # "x", "/min", "s", "errors"
    details: dict[str, Any] = field(default_factory=dict)
    extra_ok: bool = True  # a second condition of the same budget (e.g. one request a poll)
    budget_text: str = ""
    spread: tuple[float, float] | None = None  # min and max of the per-round ratios

    @property
    def ok(self) -> bool:
        return self.value <= self.budget and self.extra_ok


# -- running things -----------------------------------------------------------------------


def jules_command() -> list[str]:
    script = Path(sys.executable).parent / ("jules.exe" if os.name == "nt" else "jules")
    if not script.exists():
        sys.exit(f"bench: no `jules` console script next to {sys.executable}; pip install -e .")
    return [str(script)]


@dataclass
class Run:
    seconds: float
    max_rss_kib: int
    returncode: int
    first_line_seconds: float | None = None


class Spawner:
    """The small process that starts, times and measures each child (see SPAWNER)."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-S", "-E", "-c", SPAWNER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def run(self, command: list[str], env: dict[str, str], *, first_line: bool = False) -> Run:
        assert self.process.stdin is not None and self.process.stdout is not None
        job = {"argv": command, "env": env, "first_line": first_line}
        self.process.stdin.write(json.dumps(job) + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline()
        if not answer:
            sys.exit("bench: the spawner died")
        seconds, first, rss, code = json.loads(answer)
        return Run(seconds, rss, code, first)

    def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=10)


SPAWNER_PROCESS: Spawner | None = None


def run_once(command: list[str], env: dict[str, str], *, first_line: bool = False) -> Run:
    """One fresh child, alone: its wall time and its own peak memory."""
    assert SPAWNER_PROCESS is not None
    return SPAWNER_PROCESS.run(command, env, first_line=first_line)


def check(results: list[Run], what: str) -> None:
    failed = [r.returncode for r in results if r.returncode != 0]
    if failed:
        sys.exit(f"bench: {what} exited with {failed[0]}")


def output_of(command: list[str], env: dict[str, str]) -> tuple[int, bytes]:
    """A child's exit code and stdout (for checks, never timed)."""
    done = subprocess.run(command, env=env, stdin=subprocess.DEVNULL, capture_output=True)
    return done.returncode, done.stdout


@dataclass
class Case:
    """A command measured against its baseline, in pairs, round by round."""

    name: str
    command: list[str]
    baseline: list[str]
    env: dict[str, str]
    baseline_env: dict[str, str] | None = None
    metric: str = "seconds"  # or "first_line_seconds", "max_rss_kib"
    pairs: list[tuple[Run, Run]] = field(default_factory=list)

    def run_pair(self, baseline_first: bool) -> None:
        first_line = self.metric == "first_line_seconds"
        sides = [(self.command, self.env), (self.baseline, self.baseline_env or self.env)]
        if baseline_first:
            sides.reverse()
        runs = [run_once(command, env, first_line=first_line) for command, env in sides]
        if baseline_first:
            runs.reverse()
        for run, what in zip(runs, ("command", "baseline"), strict=True):
            if run.returncode != 0:
                sys.exit(f"bench: {self.name}: the {what} exited with {run.returncode}")
        self.pairs.append((runs[0], runs[1]))

    def values(self) -> tuple[list[float], list[float]]:
        return (
            [float(getattr(ours, self.metric)) for ours, _ in self.pairs],
            [float(getattr(theirs, self.metric)) for _, theirs in self.pairs],
        )

    def ratios(self) -> list[float]:
        ours, theirs = self.values()
        return [a / b for a, b in zip(ours, theirs, strict=True)]


def run_rounds(cases: list[Case], rounds: int, *, warm_up: bool = True) -> None:
    """Every case once per round, in turn, so slow drift spreads over all of them; within
    a pair the side that runs first alternates from round to round."""
    if warm_up:
        for case in cases:
            run_once(case.command, case.env)
            run_once(case.baseline, case.baseline_env or case.env)
    for number in range(rounds):
        for case in cases:
            case.run_pair(baseline_first=number % 2 == 1)


def ratio_figure(case: Case, budget: float, measured: str, **details: Any) -> Figure:
    ratios = case.ratios()
    ours, theirs = case.values()
    return Figure(
        case.name,
        measured,
        statistics.median(ratios),
        budget,
        "x",
        {
            "metric": case.metric,
            "rounds": len(ratios),
            "ratios": ratios,
            "values": ours,
            "baseline_values": theirs,
            **details,
        },
        spread=(min(ratios), max(ratios)),
    )


def median(values: list[float]) -> float:
    return statistics.median(values)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def mib(kib: float) -> str:
    return f"{kib / 1024:.0f} MiB"


# -- the emulator, in its own process ---------------------------------------------------------


class EmulatorProcess:
    def __init__(self, seed_file: Path | None, env: dict[str, str]) -> None:
        command = [*jules_command(), "emulator", "serve", "--port", "0", "--speed", "1"]
        self.process = subprocess.Popen(
            command + (["--seed", str(seed_file)] if seed_file else []),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.url = ""
        self.key = ""
        assert self.process.stdout is not None
        for line in self.process.stdout:  # the two `export` lines come first
            if line.startswith("export JULES_API_URL="):
                self.url = line.split("=", 1)[1].strip()
            elif line.startswith("export JULES_API_KEY="):
                self.key = line.split("=", 1)[1].strip()
            if self.url and self.key:
                break
        if not self.url:
            self.stop()
            sys.exit(f"bench: the emulator did not start: {self.process.stderr.read()}")
        self.control = self.url.rsplit("/v1alpha", 1)[0] + "/_emulator"
        self.port = int(self.url.rsplit(":", 1)[1].split("/", 1)[0])
        self.http = httpx.Client(headers={"X-Goog-Api-Key": self.key}, timeout=300)

    def env(self, env: dict[str, str]) -> dict[str, str]:
        return {**env, "JULES_API_URL": self.url, "JULES_API_KEY": self.key}

    def api(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        response = self.http.request(method, f"{self.url}/{path}", json=body, params=params)
        response.raise_for_status()
        return response.json()

    def control_plane(self, method: str, path: str = "", body: Any = None) -> Any:
        url = f"{self.control}/{path}".rstrip("/")
        response = self.http.request(method, url, json=body)
        response.raise_for_status()
        return response.json() if response.content else None

    def bulk(self, **spec: Any) -> list[str]:
        return self.control_plane("POST", "bulk", spec)["sessions"]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def write_seed(path: Path) -> None:
    """SEEDED_SESSIONS ended sessions: static, so every listing sees the same objects."""
    sessions = [
        {
            "prompt": f"Seeded task number {number}: refactor module {number % 97}",
            "title": f"Seeded task {number}",
            "state": "COMPLETED" if number % 5 else "FAILED",
            "createTime": f"2026-01-{1 + number // 1000:02d}T{number // 60 % 24:02d}:"
            f"{number % 60:02d}:{number % 7:02d}.{number:06d}Z",
            "sourceContext": {"source": "sources/github/jules-demo/hello-world"},
        }
        for number in range(SEEDED_SESSIONS)
    ]
    path.write_text(json.dumps({"sessions": sessions}), encoding="utf-8")


# -- the figures ----------------------------------------------------------------------------


def startup_figures(env: dict[str, str], runs: int) -> list[Figure]:
    jules = jules_command()
    baseline = [sys.executable, "-c", "pass"]
    # What bash's completion function runs for `jules ses<TAB>` (completions/jules.bash).
    tab_env = {**env, "_JULES_COMPLETE": "complete_bash", "_JULES_COMPLETE_LINE": "jules ses"}
    code, answer = output_of(jules, tab_env)
    if b"session" not in answer:
        print(f"bench: warning: TAB completion answered {answer[:200]!r}", file=sys.stderr)
    cases = [
        (Case("jules --version vs python -c pass", [*jules, "--version"], baseline, env), 3.0),
        (Case("jules --help vs python -c pass", [*jules, "--help"], baseline, env), 8.0),
        (Case("bash TAB `jules ses` vs python -c pass", jules, baseline, tab_env, env), 5.0),
    ]
    run_rounds([case for case, _ in cases], runs)
    figures = []
    for case, budget in cases:
        ours, theirs = case.values()
        figures.append(ratio_figure(case, budget, f"{ms(median(ours))} vs {ms(median(theirs))}"))
    return figures


def list_figures(emulator: EmulatorProcess, env: dict[str, str], runs: int) -> list[Figure]:
    jules = jules_command()
    sources = Case(
        "`sources list --json` (one page) vs minimal httpx",
        [*jules, "sources", "list", "--json"],
        [sys.executable, "-c", HTTPX_ONE_PAGE, emulator.url, emulator.key],
        env,
    )
    limit = str(SEEDED_SESSIONS)
    sessions = Case(
        f"`session list --json --limit {limit}` vs httpx paging loop",
        [*jules, "session", "list", "--json", "--limit", limit],
        [sys.executable, "-c", HTTPX_PAGING, emulator.url, emulator.key, limit],
        env,
    )
    for case in (sources, sessions):
        same_output(case.command, case.baseline, env, case.name)
    # Peak memory, 10,000 sessions against 1,000, in both streaming modes.
    memory = [
        Case(
            f"peak memory `session list {mode}` 10,000 vs 1,000",
            [*jules, "session", "list", mode, "--limit", str(SEEDED_SESSIONS)],
            [*jules, "session", "list", mode, "--limit", str(SMALL_LIST)],
            env,
            metric="max_rss_kib",
        )
        for mode in ("--json", "--jsonl")
    ]
    run_rounds([sources, sessions, *memory], max(3, (runs + 1) // 2))
    figures = []
    for case, budget in ((sources, 1.3), (sessions, 1.5)):
        ours, theirs = case.values()
        measured = (
            f"{ms(median(ours))} vs {ms(median(theirs))}"
            if median(ours) < 1
            else f"{median(ours):.2f} s vs {median(theirs):.2f} s"
        )
        figures.append(ratio_figure(case, budget, measured))
    worst = max(memory, key=lambda case: median(case.ratios()))
    figures.append(
        ratio_figure(
            worst,
            1.3,
            ", ".join(
                f"{case.command[3][2:]} {mib(median(case.values()[0]))}"
                f"/{mib(median(case.values()[1]))}"
                for case in memory
            ),
            every_mode={case.command[3]: case.ratios() for case in memory},
        )
    )
    figures[-1].name = "peak memory listing 10,000 vs 1,000 sessions (worse mode)"
    return figures


def same_output(command: list[str], baseline: list[str], env: dict[str, str], what: str) -> None:
    ours = output_of(command, env)
    theirs = output_of(baseline, env)
    if ours[0] or theirs[0] or ours[1] != theirs[1]:
        sys.exit(f"bench: {what}: the command and its baseline do not print the same bytes")


# -- the emulator at scale -------------------------------------------------------------------


def timed_get(port: int, path: str, key: str) -> float:
    """One request on a fresh connection (the emulator speaks HTTP/1.0), timed."""
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("GET", path, headers={"X-Goog-Api-Key": key})
    response = connection.getresponse()
    response.read()
    connection.close()
    if response.status != 200:
        sys.exit(f"bench: GET {path} answered {response.status}")
    return time.perf_counter() - started


def scale_figures(
    scaled: dict[int, EmulatorProcess], static_port: int, env: dict[str, str], runs: int
) -> list[Figure]:
    """Session read and page latency at each size, the growth from the smallest to the
    largest as paired per-round ratios; and listing every session of the largest against
    the same pages from a static server."""
    targets = {}
    for size, emulator in scaled.items():
        first = emulator.api("GET", "sessions", pageSize=PAGE_SIZE)
        middle = first["sessions"][len(first["sessions"]) // 2]["id"]
        targets[size] = {
            "read": f"/v1alpha/sessions/{middle}",
            "page": f"/v1alpha/sessions?pageSize={PAGE_SIZE}&pageToken={first['nextPageToken']}",
        }
    samples: dict[str, dict[int, list[float]]] = {"read": {}, "page": {}}
    per_round = 15
    for kind in samples:
        for size in scaled:
            samples[kind][size] = []
            for _ in range(3):  # warm-up
                timed_get(scaled[size].port, targets[size][kind], scaled[size].key)
    rounds = max(5, runs)
    for number in range(rounds):
        order = list(scaled) if number % 2 == 0 else list(scaled)[::-1]
        for size in order:
            for kind in samples:
                times = [
                    timed_get(scaled[size].port, targets[size][kind], scaled[size].key)
                    for _ in range(per_round)
                ]
                samples[kind][size].append(median(times))
    small, big = min(scaled), max(scaled)
    figures = []
    for kind, label in (("read", "session read (GET)"), ("page", "page of 100 sessions")):
        ratios = [b / a for a, b in zip(samples[kind][small], samples[kind][big], strict=True)]
        figures.append(
            Figure(
                f"emulator {label}: {big // 1000}k vs {small // 1000}k sessions",
                ", ".join(
                    f"{size // 1000}k {median(samples[kind][size]) * 1000:.1f} ms"
                    for size in scaled
                ),
                median(ratios),
                2.0,
                "x",
                {
                    "median_seconds": {str(n): median(v) for n, v in samples[kind].items()},
                    "round_medians": {str(n): v for n, v in samples[kind].items()},
                    "requests_per_round": per_round,
                    "ratios": ratios,
                },
                spread=(min(ratios), max(ratios)),
            )
        )

    emulator = scaled[big]
    command = [*jules_command(), "session", "list", "--jsonl"]
    static_env = {
        **env,
        "JULES_API_URL": f"http://127.0.0.1:{static_port}/v1alpha",
        "JULES_API_KEY": emulator.key,
    }
    case = Case(
        f"`session list --jsonl` of all {big // 1000}k: emulator vs static pages",
        command,
        command,
        emulator.env(env),
        static_env,
    )
    same_output_envs(command, emulator.env(env), static_env, case.name)
    run_rounds([case], 3, warm_up=False)
    ours, theirs = case.values()
    figures.append(ratio_figure(case, 1.5, f"{median(ours):.2f} s vs {median(theirs):.2f} s"))
    return figures


# The baseline of the saved-state figure: only reading and parsing the state file, then
# printing the one session asked for (the least any `--emulator` command must do).
READ_STATE = """
import json, sys
state = json.load(open(sys.argv[1], encoding="utf-8"))
print(json.dumps(next(s for s in state["sessions"] if s["id"] == sys.argv[2])))
"""


def saved_state_figure(
    emulator: EmulatorProcess, folder: Path, env: dict[str, str], runs: int
) -> Figure:
    """`jules --emulator session show ID --json` over a saved state of the biggest size
    (every command loads and checks the whole file), against reading and parsing that
    JSON file in a bare Python."""
    response = emulator.http.get(f"{emulator.control}/state")
    response.raise_for_status()
    path = folder / "saved-state.json"
    path.write_bytes(response.content)
    state = response.json()
    size = len(state["sessions"])
    session_id = state["sessions"][size // 2]["id"]
    del state
    state_env = {**env, "JULES_EMULATOR_STATE": str(path)}
    command = [*jules_command(), "--emulator", "session", "show", session_id, "--json"]
    baseline = [sys.executable, "-c", READ_STATE, str(path), session_id]
    for what, argv in (("jules", command), ("the baseline", baseline)):
        code, out = output_of(argv, state_env)
        if code or session_id.encode() not in out:
            sys.exit(f"bench: {what} cannot read the saved state of {size} sessions")
    written = path.stat().st_mtime_ns
    case = Case(
        f"`--emulator session show` over a saved state of {size // 1000}k sessions "
        "vs parsing its JSON",
        command,
        baseline,
        state_env,
    )
    run_rounds([case], max(3, min(runs, 5)))
    if path.stat().st_mtime_ns != written:
        sys.exit("bench: reading a session rewrote the saved state")
    ours, theirs = case.values()
    megabytes = path.stat().st_size / 1e6
    return ratio_figure(
        case,
        3.0,
        f"{median(ours):.2f} s vs {median(theirs):.2f} s ({megabytes:.0f} MB)",
        state_bytes=path.stat().st_size,
    )


def same_output_envs(command: list[str], env: dict[str, str], other: dict[str, str], what: str):
    ours, theirs = output_of(command, env), output_of(command, other)
    if ours[0] or theirs[0] or ours[1] != theirs[1]:
        sys.exit(f"bench: {what}: the two servers' listings differ")


def capture_pages(emulator: EmulatorProcess, path: Path) -> None:
    """Every page of the sessions list as the emulator serves it, keyed by pageToken."""
    pages: dict[str, str] = {}
    token = ""
    while True:
        params = {"pageSize": PAGE_SIZE, **({"pageToken": token} if token else {})}
        response = emulator.http.get(f"{emulator.url}/sessions", params=params)
        response.raise_for_status()
        pages[token] = response.text
        token = response.json().get("nextPageToken", "")
        if not token:
            break
    path.write_text(json.dumps(pages), encoding="utf-8")


class StaticServer:
    def __init__(self, pages: Path, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", STATIC_SERVER, str(pages)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.port = int(self.process.stdout.readline())

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait()


def tail_stream_figures(emulator: EmulatorProcess, env: dict[str, str], runs: int) -> list[Figure]:
    """`activities tail` prints the backlog page by page: its first line against
    `activities list`'s, and its peak memory at a small and a large backlog."""
    jules = jules_command()
    (big,) = emulator.bulk(activities=TAIL_ACTIVITIES)
    first_line = Case(
        f"`activities tail --no-follow` first line, {TAIL_ACTIVITIES // 1000}k activities, "
        "vs `activities list`",
        [*jules, "activities", "tail", big, "--no-follow"],
        [*jules, "activities", "list", big],
        env,
        metric="first_line_seconds",
    )
    small_id, large_id = (emulator.bulk(activities=n)[0] for n in TAIL_MEMORY_SIZES)
    small, large = (f"{n // 1000}k" for n in TAIL_MEMORY_SIZES)
    # The default, following tail on an ended session: it prints the backlog, sees the
    # session is done and exits (the mode that used to hold the whole backlog); and
    # --no-follow. Following keeps to the ListActivities quota (30 calls a minute, so a
    # 50k backlog takes 17 minutes): JULES_POLL_SCALE shrinks the pace, as the tests do,
    # since memory is what is measured here.
    fast = {**env, "JULES_POLL_SCALE": "0.0001"}
    memory = [
        Case(
            f"peak memory `activities tail{flag}` {large} vs {small} activities",
            [*jules, "activities", "tail", large_id, *flag.split()],
            [*jules, "activities", "tail", small_id, *flag.split()],
            fast,
            metric="max_rss_kib",
        )
        for flag in ("", " --no-follow")
    ]
    run_rounds([first_line], max(5, runs))
    run_rounds(memory, 2, warm_up=False)  # 500 pages a run: slow, and memory is steady
    ours, theirs = first_line.values()
    figures = [ratio_figure(first_line, 1.2, f"{ms(median(ours))} vs {ms(median(theirs))}")]
    worst = max(memory, key=lambda case: median(case.ratios()))
    figures.append(
        ratio_figure(
            worst,
            1.3,
            ", ".join(
                f"{'no-follow' if '--no-follow' in case.command else 'follow'} "
                f"{mib(median(case.values()[0]))}/{mib(median(case.values()[1]))}"
                for case in memory
            ),
            every_mode={case.name: case.ratios() for case in memory},
        )
    )
    figures[-1].name = f"peak memory `activities tail` {large} vs {small} activities (worse mode)"
    return figures


def load_figure(env: dict[str, str]) -> Figure:
    """`jules emulator serve` under LOAD_CLIENTS concurrent clients for LOAD_SECONDS: each
    connects at the same moment, then reads a page of sessions in a loop, a fresh
    connection per request. Every answer must be a 200."""
    emulator = EmulatorProcess(None, env)
    try:
        emulator.bulk(sessions=1000)
        barrier = threading.Barrier(LOAD_CLIENTS)
        lock = threading.Lock()
        errors: list[str] = []
        latencies: list[float] = []

        def client() -> None:
            barrier.wait()
            deadline = time.perf_counter() + LOAD_SECONDS
            mine = []
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    connection = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=30)
                    connection.request(
                        "GET", "/v1alpha/sessions?pageSize=10", headers={"X-Goog-Api-Key": "k"}
                    )
                    response = connection.getresponse()
                    body = response.read()
                    connection.close()
                    if response.status != 200 or not body.startswith(b"{"):
                        with lock:
                            errors.append(f"HTTP {response.status}")
                except OSError as exc:
                    with lock:
                        errors.append(type(exc).__name__)
                mine.append(time.perf_counter() - started)
            with lock:
                latencies.extend(mine)

        threads = [threading.Thread(target=client, daemon=True) for _ in range(LOAD_CLIENTS)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(LOAD_SECONDS + 120)
        elapsed = time.perf_counter() - started
        still = sum(thread.is_alive() for thread in threads)
    finally:
        emulator.stop()
    latencies.sort()
    count = len(latencies)
    p99 = latencies[int(count * 0.99)] if count else 0.0
    return Figure(
        f"`jules emulator serve`, {LOAD_CLIENTS} concurrent clients for {LOAD_SECONDS:g} s",
        f"{count} requests ({count / elapsed:.0f}/s), {len(errors)} errors, "
        f"p50 {ms(latencies[count // 2] if count else 0)}, p99 {ms(p99)}",
        float(len(errors) + still),
        0,
        "errors",
        {
            "requests": count,
            "errors": len(errors),
            "error_kinds": sorted(set(errors)),
            "clients_not_finished": still,
            "seconds": elapsed,
            "p50_seconds": latencies[count // 2] if count else None,
            "p99_seconds": p99,
        },
        budget_text="0 errors",
    )


class LineReader:
    """Lines from a child's stdout pipe, without blocking past a deadline."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.process = process
        self.buffer = b""

    def next_line(self, timeout: float) -> bytes | None:
        deadline = time.perf_counter() + timeout
        while b"\n" not in self.buffer:
            left = deadline - time.perf_counter()
            if left <= 0:
                return None
            ready, _, _ = select.select([self.process.stdout], [], [], left)
            if ready:
                chunk = os.read(self.process.stdout.fileno(), 65536)
                if not chunk:
                    return None
                self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line

    def drain(self, quiet_for: float) -> int:
        count = 0
        while self.next_line(quiet_for) is not None:
            count += 1
        return count


def stalled_session(emulator: EmulatorProcess, label: str) -> str:
    # [stall]: it stops IN_PROGRESS until a message comes; [slow:1000] keeps what follows
    # so slow that it stays IN_PROGRESS (only the replies to messages come, 3 s after each).
    created = emulator.api("POST", "sessions", {"prompt": f"{label} [stall] [slow:1000]"})
    return created["id"]


# An idle tail polls every 10 s once 2.1 + 3 + 4.5 + 6.75 s passed without news.
IDLE_AFTER = 17.0
BUSY_WINDOW = 60.0  # the busy tail's calls are counted over one whole minute
IDLE_POLL = 10.0


def tail_figures(
    emulator: EmulatorProcess, env: dict[str, str], window: float, idle_samples: int
) -> list[Figure]:
    """Three followers, each its own `activities tail --json` process with the default
    schedule, at once: one on an idle session (calls a minute), one on a session that gets
    a message every 0.5 s (calls a minute while active, and the delay from each message
    to its line), and one that is left to become idle before each message (the delay
    while idle)."""
    jules = jules_command()
    idle_id = stalled_session(emulator, "Idle for the poll count")
    active_id = stalled_session(emulator, "Busy for the active figures")
    latency_id = stalled_session(emulator, "Idle for the latency")
    emulator.control_plane("POST", "settle")  # all reach their stall at once
    emulator.control_plane("DELETE", "requests")

    def start_tail(session_id: str) -> subprocess.Popen:
        return subprocess.Popen(
            [*jules, "activities", "tail", session_id, "--json"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )

    def requests_for(session_id: str) -> tuple[int, int]:
        lists = gets = 0
        for request in emulator.control_plane("GET", "requests"):
            path = request["path"]
            if path == f"/v1alpha/sessions/{session_id}/activities":
                lists += 1
            elif path == f"/v1alpha/sessions/{session_id}" and request["method"] == "GET":
                gets += 1
        return lists, gets

    def post(session_id: str, marker: str) -> float:
        posted = time.perf_counter()
        emulator.api("POST", f"sessions/{session_id}:sendMessage", {"prompt": marker})
        return posted

    tails = {sid: start_tail(sid) for sid in (idle_id, active_id, latency_id)}
    try:
        readers = {sid: LineReader(process) for sid, process in tails.items()}
        for reader in readers.values():
            if reader.next_line(30) is None:
                sys.exit("bench: `activities tail` printed nothing")
            reader.drain(quiet_for=1.5)  # the activities so far; now it only polls
        # Idle means settled: past the first cycle's reads (the session, then again after
        # the list that brought the activities so far) and the SETTLE_READS polls after it
        # that read the session first too.
        settled_by = time.perf_counter() + 30
        while requests_for(idle_id)[1] < 2 + SETTLE_READS and time.perf_counter() < settled_by:
            time.sleep(0.1)
        time.sleep(0.5)
        idle_start = time.perf_counter()
        idle_before = requests_for(idle_id)

        # Busy, in two threads of its own: a message every 0.5 s for a minute, and the tail
        # read, each message timed to its line.
        active = readers[active_id]
        # First wake it from its idle pace (a busy session is what is measured here).
        warm_up = f"bench warm-up {random.random()}"
        post(active_id, warm_up)
        while warm_up.encode() not in (active.next_line(IDLE_POLL + 10) or warm_up.encode()):
            pass
        posted_at: dict[str, float] = {}
        active_latencies: list[float] = []
        active_before = requests_for(active_id)[0]
        active_start = time.perf_counter()
        busy: dict[str, Any] = {}

        def feed() -> None:
            number = 0
            while time.perf_counter() - active_start < BUSY_WINDOW:
                marker = f"bench busy {number} {random.random()}"
                posted_at[marker] = time.perf_counter()  # before: the line may come first
                post(active_id, marker)
                number += 1
                time.sleep(0.5)
            busy["lists"] = requests_for(active_id)[0] - active_before
            busy["elapsed"] = time.perf_counter() - active_start

        def read_busy() -> None:
            while feeder.is_alive() or posted_at:
                line = active.next_line(10)
                if line is None:
                    return
                shown = time.perf_counter()
                for marker, posted in list(posted_at.items()):
                    if marker.encode() in line:
                        active_latencies.append(shown - posted)
                        del posted_at[marker]

        import threading

        feeder = threading.Thread(target=feed, daemon=True)
        busy_reader = threading.Thread(target=read_busy, daemon=True)
        feeder.start()
        busy_reader.start()

        # Idle latency: wait until the tail polls at its idle pace (no line for IDLE_AFTER),
        # then post at a random moment of its 10 s cycle.
        latency = readers[latency_id]
        idle_latencies: list[float] = []
        give_up = time.perf_counter() + idle_samples * 90
        while len(idle_latencies) < idle_samples and time.perf_counter() < give_up:
            latency.drain(quiet_for=IDLE_AFTER)  # the agent's reply to the last one, too
            if latency.next_line(random.uniform(0, IDLE_POLL)) is not None:
                continue  # something came after all: not idle, start over
            marker = f"bench ping {len(idle_latencies)} {random.random()}"
            posted = post(latency_id, marker)
            while True:
                line = latency.next_line(IDLE_POLL + 10)
                if line is None:
                    sys.exit("bench: the idle tail never printed the posted message")
                if marker.encode() in line:
                    idle_latencies.append(time.perf_counter() - posted)
                    break
        time.sleep(max(0.0, window - (time.perf_counter() - idle_start)))
        feeder.join()
        busy_reader.join()
        idle_elapsed = time.perf_counter() - idle_start
        idle_after = requests_for(idle_id)
        if posted_at or not active_latencies:
            sys.exit("bench: the busy tail never printed some of the posted messages")
        active_lists, active_elapsed = busy["lists"], busy["elapsed"]
    finally:
        for process in tails.values():
            process.terminate()
            process.wait()
    lists = idle_after[0] - idle_before[0]
    gets = idle_after[1] - idle_before[1]
    # An idle poll is one list; the session is read only at the once-a-minute refresh.
    reads_ok = gets <= idle_elapsed / 60 + 1
    figures = [
        Figure(
            "idle `activities tail`: list-activities calls",
            f"{lists} lists + {gets} session reads in {idle_elapsed:.0f} s",
            lists * 60 / idle_elapsed,
            CALLS_PER_MINUTE,
            "/min",
            {
                "lists": lists,
                "session_gets": gets,
                "window_seconds": idle_elapsed,
                "schedule": "default (adaptive)",
            },
            extra_ok=reads_ok,
            budget_text=f"<= {CALLS_PER_MINUTE}/min, a session read <= 1/min",
        ),
        Figure(
            "busy `activities tail` (a message every 0.5 s): list-activities calls",
            f"{active_lists} lists in {active_elapsed:.0f} s",
            active_lists * 60 / active_elapsed,
            CALLS_PER_MINUTE,
            "/min",
            {"lists": active_lists, "window_seconds": active_elapsed},
        ),
        Figure(
            "new activity shown, busy session",
            f"median {statistics.median(active_latencies):.2f} s, "
            f"max {max(active_latencies):.2f} s of {len(active_latencies)}",
            max(active_latencies),
            SPACING + 0.5,
            "s",
            {"latencies": active_latencies},
        ),
    ]
    if idle_latencies:
        figures.append(
            Figure(
                "new activity shown, idle session",
                f"median {statistics.median(idle_latencies):.2f} s, "
                f"max {max(idle_latencies):.2f} s of {len(idle_latencies)}",
                max(idle_latencies),
                IDLE_POLL + 0.5,
                "s",
                {"latencies": idle_latencies},
            )
        )
    return figures


# -- report -------------------------------------------------------------------------------------


def value_text(figure: Figure) -> str:
    if figure.unit == "x":
        if figure.spread is not None:
            low, high = figure.spread
            return f"{figure.value:.2f}x ({low:.2f}-{high:.2f})"
        return f"{figure.value:.2f}x"
    if figure.unit == "errors":
        return f"{figure.value:.0f} errors"
    if figure.unit == "/min":
        return f"{figure.value:.1f}/min"
    return f"{figure.value:.2f} s"


def budget_text(figure: Figure) -> str:
    if figure.budget_text:
        return figure.budget_text
    return f"<= {figure.budget:g}{'x' if figure.unit == 'x' else ' ' + figure.unit}"


def print_table(figures: list[Figure], header: str) -> None:
    rows = [("figure", "measured", "ratio (min-max) / value", "budget", "")]
    rows += [
        (f.name, f.measured, value_text(f), budget_text(f), "ok" if f.ok else "OVER")
        for f in figures
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    print(header)
    for number, row in enumerate(rows):
        print("| " + " | ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) + " |")
        if number == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")


def git_commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, check=False
        ).stdout.strip()

    commit = git("rev-parse", "HEAD") or "unknown"
    return commit + ("-dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


def fresh_bytecode() -> None:
    """Compile jules_cli's bytecode, as `pip install` does. In a source checkout (editable
    install) a module edited since its .pyc was written, with PYTHONDONTWRITEBYTECODE set,
    is compiled again on every run: that measures the compiler, not jules."""
    import jules_cli

    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    package = str(Path(jules_cli.__file__).parent)
    subprocess.run([sys.executable, "-m", "compileall", "-q", package], env=env, check=False)


def load_average() -> list[float] | None:
    try:
        return [round(value, 1) for value in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def main() -> int:
    global SPAWNER_PROCESS
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="rounds per figure (default 7)")
    parser.add_argument(
        "--json-out", type=Path, default=HERE / "results.json", help="default bench/results.json"
    )
    parser.add_argument(
        "--idle-window",
        type=float,
        default=30.0,
        help="seconds of idle tail counted, at least (30)",
    )
    parser.add_argument(
        "--idle-samples",
        type=int,
        default=3,
        help="messages timed on an idle tail, each up to half a minute (3)",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=("startup", "lists", "scale", "tail", "load", "dashboard"),
        help="run only these groups (repeatable; default: all)",
    )
    options = parser.parse_args()
    runs = max(1, options.runs)
    groups = set(options.only or ("startup", "lists", "scale", "tail", "load", "dashboard"))
    started = time.perf_counter()
    load_before = load_average()
    fresh_bytecode()
    SPAWNER_PROCESS = Spawner()
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="jules-bench-") as scratch:
        folder = Path(scratch)
        # A private, empty config folder: nothing from the user's setup, no completion cache.
        env = {**os.environ, "JULES_CONFIG_DIR": str(folder / "config")}
        for name in (
            "_JULES_COMPLETE",
            "JULES_DEBUG",
            "JULES_EMULATOR",
            "JULES_PROFILE",
            "JULES_POLL_SCALE",  # the real pace is what is measured
            "CI",
        ):
            env.pop(name, None)
        try:
            if "startup" in groups:
                figures += startup_figures(env, max(runs, 10))
            if groups & {"lists", "tail"}:
                seed = folder / "seed.json"
                write_seed(seed)
                emulator = EmulatorProcess(seed, env)
                try:
                    emulator_env = emulator.env(env)
                    if "lists" in groups:
                        figures += list_figures(emulator, emulator_env, runs)
                    if "tail" in groups:
                        figures += tail_stream_figures(emulator, emulator_env, runs)
                        figures += tail_figures(
                            emulator,
                            emulator_env,
                            options.idle_window,
                            max(1, options.idle_samples),
                        )
                finally:
                    emulator.stop()
            if "scale" in groups:
                scaled: dict[int, EmulatorProcess] = {}
                static = None
                try:
                    for size in SCALE_SIZES:
                        scaled[size] = EmulatorProcess(None, env)
                        scaled[size].bulk(sessions=size)
                    pages = folder / "pages.json"
                    capture_pages(scaled[max(SCALE_SIZES)], pages)
                    static = StaticServer(pages, env)
                    figures += scale_figures(scaled, static.port, env, runs)
                    figures.append(saved_state_figure(scaled[max(SCALE_SIZES)], folder, env, runs))
                finally:
                    for emulator in scaled.values():
                        emulator.stop()
                    if static is not None:
                        static.stop()
            if "load" in groups:
                figures.append(load_figure(env))
            if "dashboard" in groups:
                # Issue 18's dashboard figures, with emulators of their own (bench/dashboard.py).
                import importlib.util

                if importlib.util.find_spec("textual") is None:
                    print("bench: no Textual installed: dashboard figures skipped", file=sys.stderr)
                else:
                    from dashboard import dashboard_figures

                    figures += dashboard_figures(sys.modules[__name__], env, runs, folder)
        finally:
            SPAWNER_PROCESS.stop()
    header = (
        f"jules benchmark: commit {git_commit()[:12]}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, load {load_before}, {runs} rounds, "
        f"{time.perf_counter() - started:.0f} s"
    )
    print_table(figures, header)
    result = {
        "commit": git_commit(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "runs": runs,
        "seconds": time.perf_counter() - started,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "method": (
            "each child started, timed (fork to exit) and measured (wait4 ru_maxrss) by a "
            "small spawner process; cases interleaved round by round, command and baseline "
            "back to back (alternating which goes first); each figure is the median of the "
            "per-round ratios, with their min-max spread"
        ),
        "figures": [{**asdict(f), "ok": f.ok, "budget_text": budget_text(f)} for f in figures],
    }
    options.json_out.parent.mkdir(parents=True, exist_ok=True)
    options.json_out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"figures written to {options.json_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
