#!/usr/bin/env python3
"""The `jules` benchmark: the performance budgets of issues 8 and 15, measured in one run.

    python bench/run.py [--runs N] [--json-out FILE] [--idle-window SECONDS] [--idle-samples N]

It starts the emulator in its own process (`jules emulator serve --port 0`, seeded with
10,000 sessions), runs the installed `jules` console script next to sys.executable against
it over loopback, and compares each figure with a baseline measured in the same run on the
same machine (`python -c pass`, or a minimal httpx script making the same requests and
printing the same bytes), so the ratios stay comparable between a laptop and a busy CI
runner. Times are medians of N runs, the two sides interleaved. It prints a table and
writes the figures as JSON (with the git commit, Python version and CPU count) to compare
commits. It is a measuring tool: it never fails on a figure over its budget (exit 0), only
on a broken setup. See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import select
import statistics
import subprocess
import sys
import tempfile
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


@dataclass
class Figure:
    name: str
    measured: str  # for people: what was measured, with units
    value: float  # what is compared with the budget (a ratio, calls a minute, seconds)
    budget: float
    unit: str  # "x", "/min", "s"
    details: dict[str, Any] = field(default_factory=dict)
    extra_ok: bool = True  # a second condition of the same budget (e.g. one request a poll)
    budget_text: str = ""

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
    stdout: bytes


def run_once(command: list[str], env: dict[str, str], *, keep_stdout: bool = False) -> Run:
    """One fresh child: wall time, and its own peak memory from wait4's rusage."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE if keep_stdout else subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    output = process.stdout.read() if process.stdout is not None else b""
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.stdout is not None:
        process.stdout.close()
    # ru_maxrss is KiB on Linux, bytes on macOS.
    rss = usage.ru_maxrss // (1024 if sys.platform == "darwin" else 1)
    return Run(elapsed, rss, process.returncode, output)


def paired_medians(
    left: tuple[list[str], dict[str, str]],
    right: tuple[list[str], dict[str, str]],
    runs: int,
) -> tuple[list[Run], list[Run]]:
    """Run two commands alternately (after one warm-up each), so drift on a shared machine
    hits both sides alike."""
    for command, env in (left, right):
        run_once(command, env)
    lefts, rights = [], []
    for _ in range(runs):
        lefts.append(run_once(*left))
        rights.append(run_once(*right))
    return lefts, rights


def median_seconds(results: list[Run]) -> float:
    return statistics.median(r.seconds for r in results)


def check(results: list[Run], what: str) -> None:
    failed = [r.returncode for r in results if r.returncode != 0]
    if failed:
        sys.exit(f"bench: {what} exited with {failed[0]}")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


# -- the emulator, in its own process ---------------------------------------------------------


class EmulatorProcess:
    def __init__(self, seed_file: Path, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [*jules_command(), "emulator", "serve", "--port", "0", "--speed", "1"]
            + ["--seed", str(seed_file)],
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
        self.http = httpx.Client(headers={"X-Goog-Api-Key": self.key}, timeout=30)

    def api(self, method: str, path: str, body: Any = None) -> Any:
        response = self.http.request(method, f"{self.url}/{path}", json=body)
        response.raise_for_status()
        return response.json()

    def control_plane(self, method: str, path: str = "") -> Any:
        response = self.http.request(method, f"{self.control}/{path}".rstrip("/"))
        response.raise_for_status()
        return response.json() if response.content else None

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
    baseline = ([sys.executable, "-c", "pass"], env)
    # What bash's completion function runs for `jules ses<TAB>` (completions/jules.bash).
    tab_env = {**env, "_JULES_COMPLETE": "complete_bash", "_JULES_COMPLETE_LINE": "jules ses"}
    answer = run_once(jules, tab_env, keep_stdout=True)
    if b"session" not in answer.stdout:
        print(f"bench: warning: TAB completion answered {answer.stdout[:200]!r}", file=sys.stderr)
    cases = [
        ("jules --version vs python -c pass", [*jules, "--version"], env, 3.0),
        ("jules --help vs python -c pass", [*jules, "--help"], env, 8.0),
        ("bash TAB `jules ses` vs python -c pass", jules, tab_env, 5.0),
    ]
    figures = []
    for name, command, case_env, budget in cases:
        measured, base = paired_medians((command, case_env), baseline, runs)
        check(measured, name)
        ratio = median_seconds(measured) / median_seconds(base)
        figures.append(
            Figure(
                name,
                f"{ms(median_seconds(measured))} vs {ms(median_seconds(base))}",
                ratio,
                budget,
                "x",
                {"seconds": median_seconds(measured), "baseline_seconds": median_seconds(base)},
            )
        )
    return figures


def list_figures(emulator: EmulatorProcess, env: dict[str, str], runs: int) -> list[Figure]:
    jules = jules_command()
    figures = []

    sources_cmd = [*jules, "sources", "list", "--json"]
    baseline = [sys.executable, "-c", HTTPX_ONE_PAGE, emulator.url, emulator.key]
    same_output(sources_cmd, baseline, env, "sources list --json")
    measured, base = paired_medians((sources_cmd, env), (baseline, env), runs)
    check(measured + base, "sources list")
    figures.append(
        Figure(
            "`sources list --json` (one page) vs minimal httpx",
            f"{ms(median_seconds(measured))} vs {ms(median_seconds(base))}",
            median_seconds(measured) / median_seconds(base),
            1.3,
            "x",
            {"seconds": median_seconds(measured), "baseline_seconds": median_seconds(base)},
        )
    )

    limit = str(SEEDED_SESSIONS)
    sessions_cmd = [*jules, "session", "list", "--json", "--limit", limit]
    baseline = [sys.executable, "-c", HTTPX_PAGING, emulator.url, emulator.key, limit]
    same_output(sessions_cmd, baseline, env, "session list --json --limit 10000")
    big_runs = max(3, (runs + 1) // 2)
    measured, base = paired_medians((sessions_cmd, env), (baseline, env), big_runs)
    check(measured + base, "session list")
    figures.append(
        Figure(
            f"`session list --json --limit {limit}` vs httpx paging loop",
            f"{median_seconds(measured):.2f} s vs {median_seconds(base):.2f} s",
            median_seconds(measured) / median_seconds(base),
            1.5,
            "x",
            {
                "seconds": median_seconds(measured),
                "baseline_seconds": median_seconds(base),
                "runs": big_runs,
                "max_rss_kib": statistics.median(r.max_rss_kib for r in measured),
                "baseline_max_rss_kib": statistics.median(r.max_rss_kib for r in base),
            },
        )
    )

    # Peak memory, 10,000 sessions against 1,000, in both streaming modes. Each is the
    # median ru_maxrss of fresh children.
    memory: dict[str, dict[str, float]] = {}
    for mode in ("--json", "--jsonl"):
        memory[mode] = {}
        for count in (SMALL_LIST, SEEDED_SESSIONS):
            command = [*jules, "session", "list", mode, "--limit", str(count)]
            results = [run_once(command, env) for _ in range(3)]
            check(results, f"session list {mode}")
            memory[mode][str(count)] = statistics.median(r.max_rss_kib for r in results)
    ratios = {
        mode: memory[mode][str(SEEDED_SESSIONS)] / memory[mode][str(SMALL_LIST)] for mode in memory
    }
    worst = max(ratios, key=ratios.get)  # type: ignore[arg-type]
    figures.append(
        Figure(
            "peak memory listing 10,000 vs 1,000 sessions",
            ", ".join(
                f"{mode[2:]} {memory[mode][str(SEEDED_SESSIONS)] / 1024:.0f}"
                f"/{memory[mode][str(SMALL_LIST)] / 1024:.0f} MiB"
                for mode in memory
            ),
            ratios[worst],
            1.3,
            "x",
            {"max_rss_kib": memory, "ratios": ratios},
        )
    )
    return figures


def same_output(command: list[str], baseline: list[str], env: dict[str, str], what: str) -> None:
    ours = run_once(command, env, keep_stdout=True)
    theirs = run_once(baseline, env, keep_stdout=True)
    if ours.returncode or theirs.returncode or ours.stdout != theirs.stdout:
        sys.exit(f"bench: `jules {what}` and its baseline do not print the same bytes")


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
        return f"{figure.value:.2f}x"
    if figure.unit == "/min":
        return f"{figure.value:.1f}/min"
    return f"{figure.value:.2f} s"


def budget_text(figure: Figure) -> str:
    if figure.budget_text:
        return figure.budget_text
    return f"<= {figure.budget:g}{'x' if figure.unit == 'x' else ' ' + figure.unit}"


def print_table(figures: list[Figure], header: str) -> None:
    rows = [("figure", "measured", "ratio/value", "budget", "")]
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per figure (default 7)")
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
    options = parser.parse_args()
    runs = max(1, options.runs)
    started = time.perf_counter()
    fresh_bytecode()
    with tempfile.TemporaryDirectory(prefix="jules-bench-") as scratch:
        folder = Path(scratch)
        seed = folder / "seed.json"
        write_seed(seed)
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
        figures = startup_figures(env, max(runs, 10))
        emulator = EmulatorProcess(seed, env)
        try:
            env.update({"JULES_API_URL": emulator.url, "JULES_API_KEY": emulator.key})
            figures += list_figures(emulator, env, runs)
            figures += tail_figures(
                emulator, env, options.idle_window, max(1, options.idle_samples)
            )
        finally:
            emulator.stop()
        # Issue 18's dashboard figures, with emulators of their own (bench/dashboard.py).
        from dashboard import dashboard_figures

        figures += dashboard_figures(sys.modules[__name__], env, runs, folder)
    header = (
        f"jules benchmark: commit {git_commit()[:12]}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, {runs} runs, {time.perf_counter() - started:.0f} s"
    )
    print_table(figures, header)
    result = {
        "commit": git_commit(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "runs": runs,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "figures": [{**asdict(f), "ok": f.ok, "budget_text": budget_text(f)} for f in figures],
    }
    options.json_out.parent.mkdir(parents=True, exist_ok=True)
    options.json_out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"figures written to {options.json_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
