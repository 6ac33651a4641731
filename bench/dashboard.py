"""The `jules dashboard` figures of issue 18, called from bench/run.py (`dashboard_figures`).

* start to the first complete table, with 1,000 and with 10,000 sessions in the emulator,
  against a minimal Textual app that shows a static DataTable of the same first rows
  (read from a file): each a fresh child process, headless at 120x40, timed from its start
  until the table has been drawn once and the app has exited; medians, the two sides run
  in turn. Budget: at most 1.5x.
* ListActivities calls a minute with 50 active sessions (each changes every simulated
  second), counted in the emulator's request log over a window. Budget: at most 30.
* peak memory (ru_maxrss) of the dashboard holding all 10,000 sessions (every page read,
  the table drawn with every row), against the minimal app holding the same 10,000 rows.
  Budget: at most 2x.

The children run the dashboard's own app class (jules_cli.tui.app.Dashboard) headless over
loopback HTTP, with the real pacer, exactly as `jules dashboard` builds it; only the exit
after the first table (or after the window) is added.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

SIZE = "120, 40"
WINDOW_SECONDS = 60.0
ACTIVE_SESSIONS = 50

DASHBOARD_CHILD = """
import os, sys, time
url, key, mode, window = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
from jules_cli.api.client import JulesClient
from jules_cli.overview import Tracker
from jules_cli.pacing import Pacer

# As `jules dashboard` starts (jules_cli/cli/dashboard.py): the first page is read while
# Textual is imported.
client = JulesClient(key, url)
since = time.time() - 20 * 365 * 86400
tracker = Tracker(client, since, pacer=Pacer())
first = tracker.start_first_poll() if mode == "first" else None

from jules_cli.tui.app import Dashboard

class Bench(Dashboard):
    def on_mount(self):
        # (Textual calls Dashboard.on_mount too, along the MRO: no super() here, or it
        # would start two polling timers.)
        if mode == "memory":
            self.run_worker(self.read_everything, thread=True)
        elif mode == "rate":
            self.set_timer(window, self.exit)

    def read_everything(self):
        self.tracker.poll_sessions()
        while self.tracker.scanning:
            self.tracker.poll_sessions()
        self.call_from_thread(self.drawn_all)

    def drawn_all(self):
        self.refresh_screens()
        self.call_after_refresh(self.exit)

    def _polled(self, error, final):
        super()._polled(error, final)
        if mode == "first" and self.first_table.is_set() and not self.told:
            self.told = True
            self.call_after_refresh(drawn, self)

def drawn(app):
    # Straight to fd 1 (Textual captures print()); the parent times this line.
    os.write(1, b"drawn\\n")
    app.exit()

Bench.told = False

interval = 5.0 if mode == "rate" else 3600.0
app = Bench(
    client, since=since, since_text="20y", pacer=tracker.pacer, interval=interval,
    tracker=tracker, first_poll=first,
)
app.run(headless=True, size=(SIZE))
""".replace("SIZE", SIZE)

STATIC_CHILD = """
import json, os, sys
from textual.app import App
from textual.widgets import DataTable, Footer, Header

rows = json.load(open(sys.argv[1], encoding="utf-8"))

class StaticTable(App):
    def compose(self):
        yield Header()
        yield DataTable()
        yield Footer()

    def on_mount(self):
        table = self.query_one(DataTable)
        table.add_columns("STATE", "AGE", "REPO", "TITLE")
        for row in rows:
            table.add_row(*row)
        self.call_after_refresh(self.drawn)

    def drawn(self):
        os.write(1, b"drawn\\n")
        self.exit()

StaticTable().run(headless=True, size=(SIZE))
""".replace("SIZE", SIZE)


def write_seed(path: Path, count: int) -> None:
    """`count` sessions, most ended, some waiting for the user or running (stalled)."""
    states = ["COMPLETED"] * 14 + ["FAILED", "AWAITING_USER_FEEDBACK", "IN_PROGRESS"]
    sessions = []
    for number in range(count):
        sessions.append(
            {
                "prompt": f"Dashboard task {number}: tidy module {number % 97}",
                "title": f"Dashboard task {number}",
                "state": states[number % len(states)],
                "createTime": f"2026-01-{1 + number // 1000 % 28:02d}T{number // 60 % 24:02d}:"
                f"{number % 60:02d}:{number % 7:02d}.{number:06d}Z",
                "sourceContext": {"source": "sources/github/jules-demo/hello-world"},
            }
        )
    path.write_text(json.dumps({"sessions": sessions}), encoding="utf-8")


def time_to_drawn(command: list[str], env: dict[str, str]) -> float:
    """Seconds from starting `command` until it says its table is drawn (its teardown
    after that is not counted: the table is on screen)."""
    started = time.perf_counter()
    child = subprocess.Popen(
        command,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert child.stdout is not None
    line = child.stdout.readline()
    elapsed = time.perf_counter() - started
    child.stdout.close()
    if child.wait(timeout=60) != 0 or line.strip() != b"drawn":
        sys.exit(f"bench: {command[:3]} did not draw its table (exit {child.returncode})")
    return elapsed


def paired(left: list[str], right: list[str], env: dict[str, str], runs: int):
    """Median seconds to the drawn table of each, run in turn after one warm-up each."""
    time_to_drawn(left, env)
    time_to_drawn(right, env)
    lefts, rights = [], []
    for _ in range(runs):
        lefts.append(time_to_drawn(left, env))
        rights.append(time_to_drawn(right, env))
    return statistics.median(lefts), statistics.median(rights)


def first_rows(emulator: Any, count: int | None = None) -> list[list[str]]:
    """The rows the dashboard's table shows (the first `count`, or all), for the static
    app: state, age, repo, title."""
    rows: list[list[str]] = []
    params: dict[str, Any] = {"pageSize": 100}
    for _ in range(10_000):  # at most that many pages, whatever the server does
        answer = emulator.http.get(f"{emulator.url}/sessions", params=params)
        page = answer.raise_for_status().json()
        for session in page.get("sessions", []):
            state, title = session.get("state", ""), session.get("title", "")
            rows.append([state, "1mo ago", "jules-demo/hello-world", title])
        token = page.get("nextPageToken")
        if (count is not None and len(rows) >= count) or not token:
            break
        params["pageToken"] = token
    return rows[:count] if count is not None else rows


def dashboard_figures(run: Any, env: dict[str, str], runs: int, scratch: Path) -> list[Any]:
    """`run` is bench/run.py's module (its Figure, EmulatorProcess, run_once...)."""
    figures = []
    dashboard = [sys.executable, "-c", DASHBOARD_CHILD]
    static = [sys.executable, "-c", STATIC_CHILD]
    base_env = {k: v for k, v in env.items() if k not in ("JULES_API_URL", "JULES_API_KEY")}
    memory: dict[str, float] = {}
    for count in (1_000, 10_000):
        seed = scratch / f"dashboard-{count}.json"
        write_seed(seed, count)
        emulator = run.EmulatorProcess(seed, base_env)
        try:
            rows_file = scratch / f"rows-{count}.json"
            rows_file.write_text(json.dumps(first_rows(emulator, 100)), encoding="utf-8")
            args = [emulator.url, emulator.key]
            mine, base = paired(
                [*dashboard, *args, "first", "0"], [*static, str(rows_file)], base_env, runs
            )
            figures.append(
                run.Figure(
                    f"dashboard first table, {count:,} sessions",
                    f"{run.ms(mine)} vs {run.ms(base)} (static Textual table, same rows)",
                    mine / base,
                    1.5,
                    "x",
                    {"sessions": count, "dashboard_s": mine, "static_s": base},
                )
            )
            if count == 10_000:
                every = scratch / "rows-all.json"
                every.write_text(json.dumps(first_rows(emulator)), encoding="utf-8")
                # One run each: peak memory hardly varies, and reading all 100 pages
                # one at a time takes a while.
                held = [run.run_once([*dashboard, *args, "memory", "0"], base_env)]
                run.check(held, "the dashboard (all sessions)")
                plain = [run.run_once([*static, str(every)], base_env)]
                run.check(plain, "the static Textual table (all rows)")
                memory["dashboard"] = held[0].max_rss_kib
                memory["static"] = plain[0].max_rss_kib
        finally:
            emulator.stop()
    figures.append(
        run.Figure(
            "dashboard peak memory, 10,000 sessions",
            f"{memory['dashboard'] / 1024:.0f} MiB vs {memory['static'] / 1024:.0f} MiB "
            "(static Textual table of the same 10,000 rows)",
            memory["dashboard"] / memory["static"],
            2.0,
            "x",
            {"dashboard_kib": memory["dashboard"], "static_kib": memory["static"]},
        )
    )
    figures.append(activity_rate(run, dashboard, base_env, scratch))
    return figures


def activity_rate(run: Any, dashboard: list[str], env: dict[str, str], scratch: Path) -> Any:
    seed = scratch / "dashboard-empty.json"
    seed.write_text(json.dumps({"sessions": []}), encoding="utf-8")
    emulator = run.EmulatorProcess(seed, env)
    try:
        for number in range(ACTIVE_SESSIONS):
            # [many:N]: a progress note every simulated second, so every poll finds each
            # session's updateTime moved.
            emulator.api("POST", "sessions", {"prompt": f"Busy task {number} [many:1000]"})
        time.sleep(1.0)
        emulator.control_plane("DELETE", "requests")
        started = time.perf_counter()
        child = subprocess.run(
            [*dashboard, emulator.url, emulator.key, "rate", str(WINDOW_SECONDS)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=WINDOW_SECONDS + 60,
        )
        elapsed = time.perf_counter() - started
        if child.returncode != 0:
            sys.exit(f"bench: the dashboard failed: {child.stderr.decode()[-500:]}")
        log = emulator.control_plane("GET", "requests")
    finally:
        emulator.stop()
    lists = sum(1 for r in log if r["path"].endswith("/activities"))
    pages = sum(1 for r in log if r["path"] == "/v1alpha/sessions" and r["method"] == "GET")
    # Per minute of the app's polling window (its start-up, before the window, makes none).
    per_minute = lists * 60 / WINDOW_SECONDS
    return run.Figure(
        f"dashboard ListActivities, {ACTIVE_SESSIONS} active sessions",
        f"{lists} calls and {pages} session pages in {elapsed:.0f} s",
        per_minute,
        30,
        "/min",
        {"lists": lists, "session_pages": pages, "window_seconds": elapsed},
    )


if __name__ == "__main__":  # pragma: no cover - run through bench/run.py
    sys.exit("run bench/run.py, which calls dashboard_figures()")
