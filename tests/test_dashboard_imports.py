"""Textual is the dashboard's alone: no other command, no --help, --version or TAB press
imports it (the probe of tests/test_import_budget.py lists what a run left imported)."""

from __future__ import annotations

import pytest

from tests.test_import_budget import probe

TEXTUAL = ("textual", "jules_cli.tui")


@pytest.mark.parametrize(
    "args",
    [
        ["--version"],
        ["--help"],
        ["dashboard", "--help"],
        ["status", "--help"],
        ["--emulator", "status"],
        ["--emulator", "status", "--json"],
        ["--emulator", "session", "list"],
        ["--emulator", "sources", "list"],
    ],
    ids=lambda args: " ".join(args),
)
def test_no_other_command_imports_textual(tmp_path, args):
    run = probe(tmp_path, *args)
    assert run.code == 0, run.stderr
    assert run.heavy(TEXTUAL) == []


def test_a_tab_press_imports_no_textual(tmp_path):
    env = {"_JULES_COMPLETE": "complete_bash", "_JULES_COMPLETE_LINE": "jules das"}
    run = probe(tmp_path, env=env)
    assert (run.code, run.stdout) == (0, "dashboard\n")
    assert run.heavy(TEXTUAL) == []


def test_dashboard_without_a_terminal_is_exit_2_before_textual(tmp_path):
    run = probe(tmp_path, "--emulator", "dashboard")
    assert run.code == 2
    assert run.stderr.splitlines()[-1] == (
        "Error: jules dashboard needs a terminal - use `jules status` "
        "(or `jules status --json`) in scripts and pipes"
    )
    assert run.heavy(TEXTUAL) == []
