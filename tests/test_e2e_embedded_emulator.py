"""The embedded emulator (`--emulator` / JULES_EMULATOR=1) as a newcomer meets it.

The README's first command, run as written in a real terminal, shows a whole session
from creation to its pull request with no key and no server; state survives between
processes; commands running at the same time leave one valid state file.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import jules_command

README = Path(__file__).resolve().parent.parent / "README.md"
NOTE = "note: using the built-in Jules emulator, not the API"
# Only to keep the suite short: the README runs at the default speed (10x).
FAST = {"JULES_EMULATOR_SPEED": "200"}


def readme_first_command() -> str:
    section = README.read_text(encoding="utf-8").split("## The two commands", 1)[1]
    return re.findall(r"```sh\n(.*?)```", section, flags=re.S)[0].strip()


def jules_part(command: str) -> list[str]:
    """The `jules ...` invocation at the end of the README's install-and-run line."""
    steps = [step.strip() for step in command.split("&&")]
    assert steps[-1].startswith(".venv/bin/jules "), steps
    return shlex.split(steps[-1])[1:]


def test_the_first_command_installs_and_runs_a_session_in_emulator_mode():
    command = readme_first_command()
    assert "pip install ." in command
    args = jules_part(command)
    assert args[:3] == ["--emulator", "session", "new"]
    assert "--follow" in args and "--auto-pr" in args
    assert "JULES_API_KEY" not in command


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pty")
def test_the_first_command_shows_plan_progress_and_pull_request_in_a_terminal(
    isolated_config,
):
    from tests.test_e2e_pty import Terminal

    env = {k: v for k, v in os.environ.items() if k not in ("CI", "JULES_TTY", "NO_COLOR")}
    env.update(FAST, TERM="xterm-256color", COLUMNS="120", LINES="50")
    term = Terminal(jules_part(readme_first_command()), env)
    try:
        term.expect(NOTE)
        term.expect("Explore the repository")
        term.expect("Ran bash command")
        term.expect("session completed")
        term.expect("Pull request: https://github.com/jules-demo/hello-world/pull/")
        assert term.finish() == 0, term.text
        assert "Traceback" not in term.text
    finally:
        term.close()
    state = json.loads((isolated_config / "emulator-state.json").read_text())
    assert len(state["sessions"]) == 1


def test_the_first_command_in_a_pipe_keeps_data_and_diagnostics_apart(run_jules):
    result = run_jules(*jules_part(readme_first_command()), env=FAST)
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith(NOTE)
    assert "planGenerated" in result.stdout and "sessionCompleted" in result.stdout
    assert "Pull request: https://github.com/jules-demo/hello-world/pull/" in result.stderr
    assert NOTE not in result.stdout


def test_json_output_stays_clean_while_stderr_says_emulator(run_jules):
    result = run_jules("--emulator", "sources", "list", "--json")
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)) == 3
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(NOTE)
    # Commands that never talk to the API say nothing about it.
    assert run_jules("--emulator", "config", "path").stderr == ""


def test_a_session_made_by_one_process_progresses_and_is_seen_by_the_next(run_jules):
    env = {"JULES_EMULATOR": "1", **FAST}
    created = run_jules("session", "new", "--json", "Add a health check",
                        "--repo", "jules-demo/hello-world", "--auto-pr", env=env)  # fmt: skip
    assert created.returncode == 0, created.stderr
    session = json.loads(created.stdout)
    assert session["state"] == "QUEUED"
    waited = run_jules("session", "wait", session["id"], "--json", env=env)
    assert waited.returncode == 0, waited.stderr
    shown = json.loads(run_jules("session", "show", session["id"], "--json", env=env).stdout)
    assert shown["state"] == "COMPLETED"
    assert shown["outputs"][0]["pullRequest"]["url"].startswith("https://github.com/")
    listed = json.loads(run_jules("session", "list", "--json", env=env).stdout)
    assert [s["id"] for s in listed] == [session["id"]]


def test_state_lives_in_the_user_data_folder_by_default(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "JULES_CONFIG_DIR"}
    env.update(XDG_DATA_HOME=str(tmp_path / "data"), XDG_CONFIG_HOME=str(tmp_path / "config"))
    env.update(XDG_STATE_HOME=str(tmp_path / "state"), HOME=str(tmp_path))
    result = subprocess.run(
        [*jules_command(), "--emulator", "session", "new", "-q", "--no-repo", "x"],
        capture_output=True, text=True, env=env, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    if sys.platform.startswith("linux"):
        state = tmp_path / "data" / "jules" / "emulator-state.json"
        assert state.exists()
        assert f"(state: {state})" in result.stderr
    reset = subprocess.run(
        [*jules_command(), "emulator", "reset"], capture_output=True, text=True, env=env
    )
    assert reset.returncode == 0, reset.stderr


def test_commands_running_at_once_leave_one_valid_state_file(isolated_config):
    env = {**os.environ, "JULES_EMULATOR": "1", **FAST}
    creators = [
        subprocess.Popen(
            [*jules_command(), "session", "new", "-q", "--no-repo", f"task {n}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            env=env,
            text=True,
        )  # fmt: skip
        for n in range(5)
    ]
    readers = [
        subprocess.Popen(
            [*jules_command(), "session", "list", "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            env=env,
            text=True,
        )  # fmt: skip
        for _ in range(3)
    ]
    created_ids = set()
    for process in creators:
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        created_ids.add(out.strip())
    for process in readers:
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        json.loads(out)  # every read saw a consistent state
    assert len(created_ids) == 5
    state = json.loads((isolated_config / "emulator-state.json").read_text())
    assert {session["id"] for session in state["sessions"]} >= created_ids
    assert not list(isolated_config.glob(".*.tmp")), "no temporary file left behind"
    listed = subprocess.run(
        [*jules_command(), "session", "list", "-q"], capture_output=True, text=True, env=env
    )
    assert set(listed.stdout.split()) == created_ids


def test_emulator_speed_sets_how_fast_sessions_progress(run_jules):
    slow = run_jules(
        "--emulator", "--emulator-speed", "1", "session", "new", "-q", "--no-repo", "x"
    )
    assert slow.returncode == 0, slow.stderr
    session_id = slow.stdout.strip()
    # At real-time speed a default session needs about a minute: a 1 s wait times out.
    waited = run_jules("--emulator", "--emulator-speed", "1", "session", "wait", session_id,
                       "--timeout", "1")  # fmt: skip
    assert waited.returncode == 10, waited.stderr
    fast = run_jules(
        "--emulator", "session", "wait", session_id, env={"JULES_EMULATOR_SPEED": "1000"}
    )
    assert fast.returncode == 0, fast.stderr


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["--emulator-speed", "0"], {}),
        (["--emulator-speed", "-3"], {}),
        ([], {"JULES_EMULATOR_SPEED": "fast"}),
    ],
)
def test_a_bad_emulator_speed_is_a_usage_error(run_jules, args, env):
    result = run_jules("--emulator", *args, "sources", "list", env=env)
    assert result.returncode == 2
    assert result.stderr.count("Error:") == 1 and "speed" in result.stderr
    assert "Traceback" not in result.stderr


def test_everything_jules_keeps_in_the_users_folders_is_private(tmp_path):
    """Config folder, completion cache and emulator state: 0700 folders, 0600 files,
    whichever command creates them first (a list command used to make the folders 0755
    and the cache and state 0644)."""
    import stat

    env = {k: v for k, v in os.environ.items() if k != "JULES_CONFIG_DIR"}
    env.update(XDG_DATA_HOME=str(tmp_path / "data"), XDG_CONFIG_HOME=str(tmp_path / "config"))
    env.update(XDG_STATE_HOME=str(tmp_path / "state"), HOME=str(tmp_path), **FAST)
    for args in (["--emulator", "session", "new", "-q", "--no-repo", "x"],
                 ["--emulator", "session", "list"], ["config", "set", "repo", "o/r"]):  # fmt: skip
        result = subprocess.run(
            [*jules_command(), *args], capture_output=True, text=True, env=env, timeout=60,
            stdin=subprocess.DEVNULL, cwd=tmp_path,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
    written = [p for p in tmp_path.rglob("*") if "jules" in p.relative_to(tmp_path).parts]
    assert len([p for p in written if p.is_file()]) >= 4, written  # config, cache, state
    for path in [*written, *(p.parent for p in written)]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))


def test_an_emulator_state_that_cannot_be_saved_is_one_clear_line(run_jules, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n")
    env = {"JULES_EMULATOR_STATE": str(blocker / "state.json"), **FAST}
    result = run_jules("--emulator", "session", "list", env=env)
    assert result.returncode == 1, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert errors == [line for line in result.stderr.splitlines() if not line.startswith("note:")]
    assert len(errors) == 1 and "cannot save the emulator's state" in errors[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("setting", "kinds"), [("0", ["changeSet"]), ("on", ["bashOutput", "changeSet"])]
)
def test_the_in_process_emulator_runs_with_or_without_bash_output(run_jules, setting, kinds):
    # jules-api.md 13: whether the API still sends bashOutput is disputed, so the
    # in-process emulator runs both ways ($JULES_EMULATOR_BASH_OUTPUT; serve has an option).
    env = {"JULES_EMULATOR_BASH_OUTPUT": setting, "JULES_EMULATOR_SPEED": "2000"}
    made = run_jules("--emulator", "session", "new", "--no-repo", "-q", "--wait", "x", env=env)
    assert made.returncode == 0, made.stderr
    listed = run_jules("--emulator", "session", "artifacts", made.stdout.strip(), "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    assert sorted({kind for artifact in json.loads(listed.stdout) for kind in artifact}) == kinds


def test_a_bad_bash_output_setting_is_a_usage_error(run_jules):
    result = run_jules("--emulator", "session", "list", env={"JULES_EMULATOR_BASH_OUTPUT": "maybe"})
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "Error: JULES_EMULATOR_BASH_OUTPUT must be on or off (1/0), not 'maybe' - set it to 1 "
        "(on) or 0 (off)"
    ]
    assert result.stdout == ""
