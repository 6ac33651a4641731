"""Start-up budget guards, by what is imported rather than by the clock.

A TAB press runs `jules` once; `--help` and `--version` are the first thing people run.
These are answered from the generated command tree (jules_cli/cli/_tab.py, _help.py)
without Typer, the command modules, httpx or Rich. Timing on a shared machine is noise, so
the guard is the list of modules in `sys.modules` after each run of the installed `jules`
(the console script itself, run by runpy in a probe process). A heavy import added on one
of these paths, or at the top of a command module, fails here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from jules_cli import __version__
from jules_cli import completion as cache
from tests.conftest import jules_command

# Run the installed console script (or `python -m jules_cli`) in this process, then report
# its exit code and every module it left imported, in a file so that stdout stays its own.
PROBE = textwrap.dedent(
    """
    import json, runpy, sys
    report, command = sys.argv[1], sys.argv[2:]
    code = 0
    try:
        if command[0] == "-m":
            sys.argv = [command[1], *command[2:]]
            runpy.run_module(command[1], run_name="__main__", alter_sys=True)
        else:
            sys.argv = command
            runpy.run_path(command[0], run_name="__main__")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    sys.stdout.flush()
    with open(report, "w") as handle:
        # A None entry is a module blocked from importing, not one that was imported.
        loaded = [name for name, module in sys.modules.items() if module is not None]
        json.dump({"code": code, "modules": sorted(loaded)}, handle)
    """
)

# Modules no fast path may import: Typer (the app), the command modules, the HTTP client
# and the terminal renderer.
HEAVY = ("typer", "httpx", "rich", "jules_cli.cli.app", "jules_cli.api", "jules_cli.render")


class Probed:
    def __init__(self, code: int, stdout: str, stderr: str, modules: list[str]) -> None:
        self.code, self.stdout, self.stderr, self.modules = code, stdout, stderr, set(modules)

    def heavy(self, prefixes=HEAVY) -> list[str]:
        return sorted(
            m for m in self.modules if any(m == p or m.startswith(p + ".") for p in prefixes)
        )


def probe(tmp_path: Path, *args: str, env: dict[str, str] | None = None, command=None) -> Probed:
    """Run `jules ARGS` (or `command`) in a probe process."""
    report = tmp_path / "report.json"
    runner = command or jules_command()
    if runner[0] == sys.executable:  # no console script: `python -m jules_cli`
        runner = runner[1:]
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(report), *runner, *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert report.exists(), result.stderr
    found = json.loads(report.read_text())
    return Probed(found["code"], result.stdout, result.stderr, found["modules"])


def test_version_imports_no_typer_and_no_command_tree(tmp_path):
    run = probe(tmp_path, "--version")
    assert (run.code, run.stdout) == (0, f"jules {__version__}\n")
    assert run.heavy() == []
    assert "jules_cli.errors" not in run.modules


def test_python_dash_m_version_is_as_light(tmp_path):
    run = probe(tmp_path, "--version", command=[sys.executable, "-m", "jules_cli"])
    assert (run.code, run.stdout) == (0, f"jules {__version__}\n")
    assert run.heavy() == []


@pytest.mark.parametrize(
    ("args", "usage"),
    [
        (["--help"], "Usage: jules [OPTIONS] COMMAND [ARGS]..."),
        (["-h"], "Usage: jules [OPTIONS] COMMAND [ARGS]..."),
        (["session", "--help"], "Usage: jules session [OPTIONS] COMMAND [ARGS]..."),
        (["session", "new", "--help"], "Usage: jules session new [OPTIONS] [PROMPT | -]"),
        (
            ["--profile", "work", "activities", "tail", "ID", "-h"],
            "Usage: jules activities tail [OPTIONS] ID",
        ),
        (["sessions", "list", "--json", "--help"], "Usage: jules sessions list [OPTIONS]"),
    ],
)
def test_help_imports_neither_typer_nor_httpx_nor_rich(tmp_path, args, usage):
    run = probe(tmp_path, *args)
    assert (run.code, run.stderr) == (0, "")
    assert run.stdout.startswith(usage + "\n")
    assert run.heavy() == []


def test_help_for_a_group_run_without_a_command_is_as_light(tmp_path):
    run = probe(tmp_path)
    assert (run.code, run.stderr) == (0, "")
    assert run.stdout.startswith("Usage: jules [OPTIONS] COMMAND [ARGS]...")
    assert run.heavy() == []


SESSIONS = [{"id": "1111", "title": "Fix the flaky test", "state": "COMPLETED"}]
SOURCES = [{"name": "sources/github/octo/app", "githubRepo": {"owner": "octo", "repo": "app"}}]


@pytest.mark.parametrize(
    ("env", "args", "expected"),
    [
        ({"_JULES_COMPLETE_LINE": "jules ses"}, [], "session\n"),
        ({"_JULES_COMPLETE_LINE": "jules session show "}, [], "1111\n"),
        ({"_JULES_COMPLETE_LINE": "jules session new --repo oc"}, [], "octo/app\n"),
        ({"_JULES_COMPLETE_LINE": "jules session list --state COMP"}, [], "COMPLETED\n"),
        ({"_JULES_COMPLETE_LINE": "jules session diff 1111 -o "}, [], ":files\n"),
    ],
    ids=["command", "session-id", "repo", "state", "file"],
)
def test_bash_tab_press_imports_nothing_heavy(tmp_path, env, args, expected):
    cache.remember_sessions(SESSIONS)
    cache.remember_sources(SOURCES)
    run = probe(tmp_path, *args, env={"_JULES_COMPLETE": "complete_bash", **env})
    assert (run.code, run.stdout, run.stderr) == (0, expected, "")
    assert run.heavy() == []


@pytest.mark.parametrize(
    ("args", "current", "expected"),
    [
        (["session"], "sh", "show:One session: state, title, source, branch, times, we...\n"),
        (["session", "wait"], "", "1111:COMPLETED Fix the flaky test\n"),
        (["session", "wait", "1111", "--until"], "se", "settled\n"),
    ],
)
def test_zsh_tab_press_imports_nothing_heavy(tmp_path, args, current, expected):
    cache.remember_sessions(SESSIONS)
    run = probe(
        tmp_path,
        *args,
        env={"_JULES_COMPLETE": "complete_zsh", "_JULES_COMPLETE_CURRENT": current},
    )
    assert (run.code, run.stdout, run.stderr) == (0, expected, "")
    assert run.heavy() == []


def test_building_the_app_and_its_help_imports_neither_httpx_nor_rich_tables(tmp_path):
    """The guard for the command modules themselves: the fast paths above skip them, so an
    `import httpx` at the top of one would go unnoticed there. Every real command imports
    them all, and Typer prints help through them when the fast path leaves it a case."""
    script = tmp_path / "typer_help.py"
    script.write_text(
        textwrap.dedent(
            """
            import sys
            from jules_cli.cli.app import app
            for words in (["session", "new", "--help"], ["api", "--help"], ["--help"]):
                try:
                    app(args=words, prog_name="jules", standalone_mode=False)
                except SystemExit:
                    pass
            """
        )
    )
    run = probe(tmp_path, command=[str(script)])
    assert run.code == 0, run.stderr
    assert "Usage: jules session new" in run.stdout
    assert "typer" in run.modules  # the probe does see what was imported
    assert run.heavy(("httpx", "rich.table", "rich.markdown", "rich.console")) == []


def test_a_command_imports_only_its_own_command_module(tmp_path, emulator_server):
    """A run builds the app with just the command it runs: `sources list` never loads the
    session commands, the follow engine, the in-process emulator or Rich (--json)."""
    run = probe(tmp_path, "--no-color", "sources", "list", "--json", env=emulator_server.env)
    assert run.code == 0, run.stderr
    assert run.stdout.startswith("[")
    assert "jules_cli.cli.sources" in run.modules
    assert run.heavy(("jules_cli.cli.session", "jules_cli.cli.activities")) == []
    assert run.heavy(("jules_cli.follow", "jules_cli.emulator", "rich")) == []


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["sources", "list"], "sources"),
        (["--profile", "work", "--debug", "sessions", "list"], "session"),
        (["--api-url", "session", "activity", "tail", "1"], "activities"),
        (["api", "sources"], "api"),
        (["bogus", "list"], None),
        (["--emulator"], None),
        (["--no-such-option", "session"], None),
    ],
)
def test_the_command_a_run_builds_is_read_like_click_reads_it(argv, command):
    from jules_cli.cli.app import command_of

    assert command_of(argv) == command


def test_an_unknown_command_is_still_reported_by_the_full_app(run_jules):
    result = run_jules("sesion", "list")
    assert result.returncode == 2
    assert "No such command 'sesion'" in result.stderr


def test_a_typo_is_answered_with_visible_command_names_only(run_jules):
    result = run_jules("sesions", "list")
    assert result.returncode == 2
    assert "Did you mean 'session'?" in result.stderr  # not the hidden alias 'sessions'
