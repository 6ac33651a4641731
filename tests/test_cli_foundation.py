"""The installed `jules` command: version, help, auth, config and the error model."""

from __future__ import annotations

import json
import os
import stat

from jules_cli import __version__

KEY = "AIzaTESTKEY-0123456789-secret"


def test_version_and_help(run_jules):
    result = run_jules("--version")
    assert (result.returncode, result.stdout) == (0, f"jules {__version__}\n")
    result = run_jules("--help")
    assert result.returncode == 0
    assert "auth" in result.stdout and "config" in result.stdout


def test_python_dash_m_is_the_same_command():
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "jules_cli", "--version"], capture_output=True, text=True
    )
    assert (result.returncode, result.stdout) == (0, f"jules {__version__}\n")


def test_usage_error_is_one_line_with_exit_2(run_jules):
    result = run_jules("--no-such-option")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("Error: ")
    assert "Traceback" not in result.stderr


def test_missing_key_exits_4_naming_both_ways(run_jules):
    result = run_jules("auth", "status")
    assert result.returncode == 4
    assert "JULES_API_KEY" in result.stderr and "jules auth login" in result.stderr


def test_login_with_key_no_verify_stores_a_0600_file(run_jules, isolated_config):
    result = run_jules("auth", "login", "--with-key", "--no-verify", input=KEY + "\n")
    assert result.returncode == 0, result.stderr
    assert KEY not in result.stdout + result.stderr
    path = isolated_config / "config.toml"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert KEY in path.read_text()

    status = run_jules("auth", "status", "--no-verify", "--json")
    assert status.returncode == 0
    report = json.loads(status.stdout)
    assert report["source"] == "profile"
    assert report["key"] == "AIza...cret"
    assert KEY not in status.stdout

    logout = run_jules("auth", "logout")
    assert logout.returncode == 0
    assert KEY not in path.read_text()


def test_login_without_terminal_and_without_with_key_fails_clearly(run_jules):
    result = run_jules("auth", "login")
    assert result.returncode == 2
    assert "--with-key" in result.stderr


def test_env_key_is_reported_as_env(run_jules):
    result = run_jules("auth", "status", "--no-verify", "--json", env={"JULES_API_KEY": KEY})
    assert json.loads(result.stdout)["source"] == "env"
    assert KEY not in result.stdout + result.stderr


def test_config_set_get_unset_list_with_profiles(run_jules):
    assert run_jules("config", "set", "repo", "octo/hello").returncode == 0
    assert run_jules("--profile", "work", "config", "set", "repo", "acme/api").returncode == 0
    assert run_jules("config", "get", "repo").stdout == "octo/hello\n"
    assert run_jules("--profile", "work", "config", "get", "repo").stdout == "acme/api\n"
    assert run_jules("config", "get", "repo", env={"JULES_PROFILE": "work"}).stdout == "acme/api\n"
    assert json.loads(run_jules("config", "list", "--json").stdout) == {"repo": "octo/hello"}
    assert run_jules("config", "list").stdout == "repo\tocto/hello\n"
    assert run_jules("config", "unset", "repo").returncode == 0
    assert run_jules("config", "get", "repo").returncode == 3


def test_config_refuses_the_api_key_and_unknown_settings(run_jules):
    result = run_jules("config", "set", "api_key", KEY)
    assert result.returncode == 2 and "jules auth login" in result.stderr
    result = run_jules("config", "set", "colour", "blue")
    assert result.returncode == 2 and "known settings" in result.stderr


def test_config_path_is_under_jules_config_dir(run_jules, isolated_config):
    assert run_jules("config", "path").stdout.strip() == str(isolated_config / "config.toml")


def test_corrupt_config_is_one_line_and_untouched(run_jules, isolated_config):
    isolated_config.mkdir(parents=True)
    path = isolated_config / "config.toml"
    path.write_text("[profiles.default\nbroken")
    result = run_jules("config", "set", "repo", "o/r")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "not valid TOML" in result.stderr
    assert path.read_text() == "[profiles.default\nbroken"


def test_plain_http_to_a_remote_host_is_refused_before_any_request(run_jules):
    result = run_jules(
        "auth",
        "login",
        "--with-key",
        input=KEY,
        env={"JULES_API_URL": "http://example.com/v1alpha"},
    )
    assert result.returncode == 2
    assert "plain http" in result.stderr
