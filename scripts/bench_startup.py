#!/usr/bin/env python3
"""How long `jules` takes to start, and to answer a TAB press, against bare Python.

    python scripts/bench_startup.py [--runs N]

Every TAB press runs the program, so completion speed is startup speed. This prints the
median wall time of each case over N runs and its ratio to `python -c pass` on the same
machine, which is what stays comparable between a laptop and a busy CI runner. It is a
measuring tool, not a test: nothing here passes or fails (tests/test_import_budget.py
guards what these paths import).

It measures the `jules` next to the interpreter that runs it, so run it with the Python of
the environment to measure, e.g. a fresh non-editable one:

    python3 -m venv /tmp/v && /tmp/v/bin/pip install -q .
    /tmp/v/bin/python scripts/bench_startup.py

An editable install adds its import hook to every start, and PYTHONDONTWRITEBYTECODE=1
makes every run compile the package's sources again: both make the figures worse than
what users of an installed package see.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def jules() -> list[str]:
    script = Path(sys.executable).parent / ("jules.exe" if os.name == "nt" else "jules")
    return [str(script)] if script.exists() else [sys.executable, "-m", "jules_cli"]


def cases() -> list[tuple[str, list[str], dict[str, str]]]:
    tab = {"_JULES_COMPLETE": "complete_bash"}
    return [
        ("python -c pass", [sys.executable, "-c", "pass"], {}),
        ("python -c 'import typer'", [sys.executable, "-c", "import typer"], {}),
        ("jules --version", [*jules(), "--version"], {}),
        ("TAB: jules ses", jules(), {**tab, "_JULES_COMPLETE_LINE": "jules ses"}),
        (
            "TAB: jules session show <id>",
            jules(),
            {**tab, "_JULES_COMPLETE_LINE": "jules session show "},
        ),
        (
            "TAB: jules session list --state <s>",
            jules(),
            {**tab, "_JULES_COMPLETE_LINE": "jules session list --state "},
        ),
        (
            "TAB (zsh): jules session list --",
            [*jules(), "session", "list"],
            {"_JULES_COMPLETE": "complete_zsh", "_JULES_COMPLETE_CURRENT": "--"},
        ),
        ("jules --help", [*jules(), "--help"], {}),
        ("jules session --help", [*jules(), "session", "--help"], {}),
        ("jules session new --help", [*jules(), "session", "new", "--help"], {}),
        # A real command, for scale: builds the Typer app and reads the config.
        ("jules config path", [*jules(), "config", "path"], {}),
    ]


def fill_completion_cache() -> None:
    """A cache like a day's work leaves, so that completing ids reads a real file."""
    from jules_cli.completion import remember_sessions, remember_sources

    remember_sessions(
        {"id": f"{n:019d}", "title": f"Task number {n}", "state": "COMPLETED"} for n in range(50)
    )
    remember_sources({"name": f"sources/github/octo/repo{n}"} for n in range(20))


def seconds(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="runs per case (default 20)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as config:
        # A private config folder: no key, nothing from the user's setup, a filled cache.
        base = {**os.environ, "JULES_CONFIG_DIR": config}
        base.pop("_JULES_COMPLETE", None)
        os.environ["JULES_CONFIG_DIR"] = config
        fill_completion_cache()
        runs = [(label, command, {**base, **extra}) for label, command, extra in cases()]
        for _, command, env in runs:
            seconds(command, env)  # warm the file cache
        # Round after round of every case, not case after case: a neighbour's load on a
        # shared machine then slows all cases alike and the ratios stay fair.
        times: dict[str, list[float]] = {label: [] for label, _, _ in runs}
        for _ in range(options.runs):
            for label, command, env in runs:
                times[label].append(seconds(command, env))
    medians = [(label, statistics.median(found)) for label, found in times.items()]
    baseline = medians[0][1]
    print(f"median of {options.runs} runs, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    for label, median in medians:
        print(f"{label:<36} {median * 1000:7.1f} ms  {median / baseline:5.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
