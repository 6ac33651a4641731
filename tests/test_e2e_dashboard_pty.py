"""The installed `jules dashboard` in a real pseudo-terminal, read through pyte
(tests/screen.py): what a person sees at 80x24 and 120x40, keys typed as a person would."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("textual")
from jules_cli.emulator import Emulator  # noqa: E402
from tests.screen import spawn  # noqa: E402


def seed(state: Path) -> None:
    """Three sessions already where they wait (two for you, one running), saved as the
    in-process emulator's state: no `session new` commands to run, and no waiting for
    the sessions to get there in real time."""
    emulator = Emulator(rng_seed=18)
    for prompt, extra in (
        ("Refactor the parser", {"requirePlanApproval": True}),
        ("Add a greeting [ask]", {}),
        ("Port to Rust [stall:in_progress]", {}),
    ):
        emulator.create_session({"prompt": prompt, **extra})
    emulator.settle()
    state.write_text(emulator.state_json())


def test_the_dashboard_in_a_terminal(tmp_path):
    state = tmp_path / "emulator-state.json"
    seed(state)
    # A browser that runs in the terminal (as lynx does): `o` hands the terminal over.
    browser = tmp_path / "browser"
    browser.write_text('#!/bin/sh\necho "BROWSER SHOWS $1"\nread line\n')
    browser.chmod(0o755)
    env = {"JULES_EMULATOR_STATE": str(state), "BROWSER": str(browser)}
    cols, rows = 80, 24
    with spawn(["--emulator", "dashboard"], env=env, cols=cols, rows=rows) as term:
        term.expect("Running (1)", timeout=30)
        term.expect("Needs you (2)")
        screen = term.display
        assert len(screen) == rows and max(len(line) for line in screen) <= cols
        assert "AWAITING_PLAN_APPROVAL" in term.text and "Refactor the parser" in term.text
        # State colours: each state its own (the cursor is on the first row, not these).
        waiting, running = term.style_at("AWAITING_PLAN_APPROVAL"), term.style_at("IN_PROGRESS")
        assert waiting is not None and running is not None
        assert "default" not in (waiting.fg, running.fg) and waiting.fg != running.fg
        term.send("?")
        term.expect("approve its plan")
        term.send("\x1b")
        term.expect_gone("approve its plan")
        term.send("\r")  # enter: the newest session, its question and plan
        term.expect("Jules asks:")
        term.expect("1. Explore the repository")
        term.send("\x1b")
        term.expect("Needs you (2)")
        term.send("o")  # the browser gets the whole terminal, then gives it back
        term.expect("BROWSER SHOWS https://jules.google.com/session/")
        term.send("\r")
        term.expect("Opened https://jules.google.com/session/")
        term.expect("Needs you (2)")
        term.resize(120, 40)  # a wider window shows what each session is at
        term.expect("NOW")
        assert len(term.display) == 40 and max(len(line) for line in term.display) <= 120
        term.expect("plan with 4 steps")
        term.send("q")
        assert term.wait() == 0


def test_the_dashboard_piped_is_exit_2_pointing_to_status(run_jules):
    result = run_jules("--emulator", "dashboard")
    assert result.returncode == 2
    assert "use `jules status`" in result.stderr.splitlines()[-1]
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--interval", "0.5"], "Error: --interval must be at least 1 second, not 0.5"),
        (["--since", "soon"], "Error: invalid duration 'soon'"),
    ],
)
def test_bad_options_are_exit_2_before_anything(run_jules, args, message):
    result = run_jules("--emulator", "dashboard", *args)
    assert result.returncode == 2
    assert result.stderr.startswith(message)
