"""`jules emulator serve` as a user runs it: in one terminal, with the CLI in another."""

from __future__ import annotations

import json
import os
import signal
import subprocess

from tests.conftest import jules_command


def start_serving(*args: str) -> tuple[subprocess.Popen, dict[str, str]]:
    process = subprocess.Popen(
        [*jules_command(), "emulator", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    env = {}
    for _ in range(2):
        line = process.stdout.readline()
        assert line.startswith("export "), line
        name, _, value = line[len("export ") :].strip().partition("=")
        env[name] = value
    return process, env


def test_serve_prints_the_environment_and_serves_the_cli(run_jules):
    process, env = start_serving("--speed", "100", "--key", "my-secret-key-1")
    try:
        assert env["JULES_API_KEY"] == "my-secret-key-1"
        assert env["JULES_API_URL"].startswith("http://127.0.0.1:")
        assert env["JULES_API_URL"].endswith("/v1alpha")
        listed = run_jules("sources", "list", "-q", env=env)
        assert listed.returncode == 0, listed.stderr
        assert listed.stdout.startswith("sources/github/")
        wrong = run_jules("sources", "list", env={**env, "JULES_API_KEY": "other-key"})
        assert wrong.returncode == 4
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=10)
    assert process.returncode == 0
    assert "Traceback" not in err


def test_serve_rejects_bad_options_with_exit_2(run_jules, tmp_path):
    assert run_jules("emulator", "serve", "--speed", "0").returncode == 2
    assert run_jules("emulator", "serve", "--host", "192.0.2.1").returncode == 2
    bad_seed = tmp_path / "seed.json"
    bad_seed.write_text("{not json")
    result = run_jules("emulator", "serve", "--seed", str(bad_seed))
    assert result.returncode == 2
    assert "not valid JSON" in result.stderr
    assert "Traceback" not in result.stderr


def test_in_process_emulator_keeps_state_between_commands_and_resets(run_jules, isolated_config):
    env = {"JULES_EMULATOR": "1", "JULES_EMULATOR_SPEED": "1000"}
    created = run_jules("session", "new", "-q", "--no-repo", "Write a haiku", env=env)
    assert created.returncode == 0, created.stderr
    session_id = created.stdout.strip()
    shown = run_jules("session", "show", session_id, env=env)
    assert shown.returncode == 0
    assert (isolated_config / "emulator-state.json").exists()
    assert run_jules("emulator", "reset", env=env).returncode == 0
    assert run_jules("session", "show", session_id, env=env).returncode == 3
    assert os.environ.get("JULES_API_KEY") is None  # no key was needed at any point


def test_auth_status_needs_no_key_with_the_in_process_emulator(run_jules):
    result = run_jules("--emulator", "auth", "status", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["valid"] is True


def test_profile_branch_is_not_forced_onto_another_repository(run_jules):
    env = {"JULES_EMULATOR": "1"}
    assert run_jules("config", "set", "repo", "jules-demo/webapp").returncode == 0
    assert run_jules("config", "set", "branch", "feature/login").returncode == 0
    from_profile = run_jules("session", "new", "--json", "task", env=env)
    assert from_profile.returncode == 0, from_profile.stderr
    context = json.loads(from_profile.stdout)["sourceContext"]
    assert context["githubRepoContext"]["startingBranch"] == "feature/login"
    elsewhere = run_jules(
        "session", "new", "--json", "task", "--repo", "octo-org/data-pipeline", env=env
    )
    assert elsewhere.returncode == 0, elsewhere.stderr
    context = json.loads(elsewhere.stdout)["sourceContext"]
    assert context["githubRepoContext"]["startingBranch"] == "master"


def test_archive_json_is_the_session_read_back(run_jules):
    env = {"JULES_EMULATOR": "1"}
    session_id = run_jules("session", "new", "-q", "--no-repo", "x", env=env).stdout.strip()
    archived = run_jules("session", "archive", session_id, "--json", env=env)
    assert archived.returncode == 0, archived.stderr
    assert json.loads(archived.stdout)["archived"] is True
    shown = json.loads(run_jules("session", "show", session_id, "--json", env=env).stdout)
    assert shown["archived"] is True


def test_show_names_the_source_and_api_accepts_json(run_jules):
    env = {"JULES_EMULATOR": "1"}
    created = run_jules("session", "new", "-q", "x", "--repo", "jules-demo/webapp", env=env)
    shown = run_jules("session", "show", created.stdout.strip(), env=env)
    assert "Source\tsources/github/jules-demo/webapp\n" in shown.stdout
    raw = run_jules("api", "sources", "--json", env=env)
    assert raw.returncode == 0
    assert [s["name"] for s in json.loads(raw.stdout)["sources"]][0].startswith("sources/")


def test_a_reader_that_stops_early_is_not_an_error(isolated_config):
    env = {**os.environ, "JULES_EMULATOR": "1", "JULES_EMULATOR_SPEED": "1000"}
    base = jules_command()
    session_id = subprocess.run(
        [*base, "session", "new", "-q", "--no-repo", "long [many:400]"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    subprocess.run([*base, "session", "wait", session_id], env=env, capture_output=True)
    # Far more than a pipe buffer: the writer is still writing when the reader leaves.
    reader = subprocess.Popen(
        [*base, "activities", "list", session_id],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert b"planGenerated" in reader.stdout.readline()
    reader.stdout.close()
    stderr = reader.stderr.read().decode()
    assert reader.wait(timeout=30) == 0
    assert stderr.startswith("note: using the built-in Jules emulator") and stderr.count("\n") == 1
