"""Keys and profiles: precedence, 0600 files, atomic writes, corrupt files left alone."""

from __future__ import annotations

import os
import stat

import pytest

from jules_cli import config
from jules_cli.errors import ConfigError, MissingKeyError, UsageError


def test_config_dir_follows_jules_config_dir(isolated_config):
    assert config.config_path() == isolated_config / "config.toml"


def test_env_key_wins_over_the_profile(monkeypatch):
    profile = config.Profile()
    profile.set(config.KEY_FIELD, "from-profile")
    monkeypatch.setenv("JULES_API_KEY", "from-env")
    assert config.resolve_key(config.Profile()).key == "from-env"
    assert config.resolve_key(config.Profile()).origin == "env"
    monkeypatch.delenv("JULES_API_KEY")
    source = config.resolve_key(config.Profile())
    assert (source.key, source.origin) == ("from-profile", "profile")


def test_missing_key_is_an_auth_error_naming_both_ways():
    with pytest.raises(MissingKeyError) as info:
        config.require_key(config.Profile())
    assert info.value.exit_code == 4
    assert "JULES_API_KEY" in str(info.value) and "jules auth login" in str(info.value)


def test_profiles_are_separate():
    config.Profile("work").set("repo", "acme/api")
    config.Profile("default").set("repo", "me/toy")
    assert config.Profile("work").get("repo") == "acme/api"
    assert config.Profile("default").get("repo") == "me/toy"
    assert config.Profile().profile_names() == ["default", "work"]


def test_file_is_written_with_mode_0600_and_parent_0700(isolated_config):
    config.Profile().set(config.KEY_FIELD, "k")
    mode = stat.S_IMODE(os.stat(config.config_path()).st_mode)
    assert mode == 0o600
    assert stat.S_IMODE(os.stat(isolated_config).st_mode) == 0o700


def test_write_is_atomic_and_leaves_no_temp_files(isolated_config):
    profile = config.Profile()
    for i in range(5):
        profile.set("branch", f"b{i}")
    # The lock that serializes writers stays (empty, 0600); no temporary file does.
    assert sorted(p.name for p in isolated_config.iterdir()) == ["config.toml", "config.toml.lock"]


def test_corrupt_file_is_a_clear_error_and_is_not_overwritten(isolated_config):
    isolated_config.mkdir(parents=True)
    path = isolated_config / "config.toml"
    path.write_text("this is = = not toml")
    with pytest.raises(ConfigError) as info:
        config.Profile()
    assert str(path) in str(info.value)
    assert path.read_text() == "this is = = not toml"


def test_unset_reports_whether_something_was_removed():
    profile = config.Profile()
    profile.set("branch", "dev")
    assert profile.unset("branch") is True
    assert profile.unset("branch") is False


@pytest.mark.parametrize(
    ("name", "text", "value"),
    [
        ("require-approval", "yes", True),
        ("auto-pr", "false", False),
        ("repo", "octo/hello", "octo/hello"),
        ("repo", ".", "."),
        ("api-url", "http://127.0.0.1:9/v1alpha/", "http://127.0.0.1:9/v1alpha"),
    ],
)
def test_settings_parse_their_values(name, text, value):
    assert config.SETTINGS[name].parse(text) == value


@pytest.mark.parametrize(
    ("name", "text"),
    [("require-approval", "maybe"), ("repo", "noslash"), ("api-url", "http://example.com/v1")],
)
def test_settings_reject_bad_values(name, text):
    with pytest.raises(UsageError):
        config.SETTINGS[name].parse(text)


def test_mask_key_never_shows_the_whole_key():
    assert config.mask_key("AIzaSyD-abcdefghijklmnop-0123456789abc") == "AIza...9abc"
    assert config.mask_key("AIzaSyD-abcdefghijklmnop") == "AIza...mnop"
    assert config.mask_key("sixteen-chars-ok") == "si...ok"
    assert config.mask_key("short") == "****"
    assert config.mask_key("") == "****"


@pytest.mark.parametrize("length", range(0, 80))
def test_mask_key_shows_at_most_a_third_and_eight_characters(length):
    key = "".join(chr(ord("A") + i % 26) for i in range(length))
    shown = config.mask_key(key).replace("...", "").replace("*", "")
    assert len(shown) <= min(8, length // 3)


@pytest.mark.parametrize(
    ("key", "what"),
    [
        ("sk-TEST\x01-SECRET-0000", "U+0001"),
        ("sk-TEST secret-0000", "a space"),
        ("sk-TEST-s\u00e9cret-0000", "U+00E9"),
    ],
)
def test_a_key_that_cannot_be_a_header_value_is_refused_without_echoing_it(key, what):
    with pytest.raises(UsageError) as info:
        config.check_key_text(key, "standard input")
    assert what in str(info.value) and "standard input" in str(info.value)
    assert "SECRET" not in str(info.value) and "secret" not in str(info.value)


def test_a_bad_env_key_is_a_usage_error_naming_the_variable(monkeypatch):
    monkeypatch.setenv("JULES_API_KEY", "sk-TEST-\u00e9-SECRET")
    with pytest.raises(UsageError) as info:
        config.resolve_key(None)
    assert "JULES_API_KEY" in str(info.value)


def test_errors_never_repeat_a_resolved_key_or_a_long_piece_of_it(monkeypatch):
    key = "sk-TEST-5e4d3c2b1a09-REDACTME"
    monkeypatch.setenv("JULES_API_KEY", key)
    config.resolve_key(None)
    error = ConfigError(f"proxy said: header x-goog-api-key: {key}; then {key[:12]}")
    assert key[:8] not in str(error) and key[-8:] not in str(error)
    assert "***" in str(error) and "***" in error.message
    error.message = f"sessions: {error.message} {key[5:20]}"
    assert key[5:13] not in str(error) and "sessions: proxy said" in str(error)
    # Short pieces are ordinary text: a word shared with the key is not mangled.
    assert str(ConfigError("sk-TEST ok")) == "sk-TEST ok"


def test_a_config_file_readable_by_others_gets_one_warning_and_still_works(isolated_config, capsys):
    config.Profile().set(config.KEY_FIELD, "sk-TEST-0123456789-SECRET")
    path = config.config_path()
    os.chmod(path, 0o644)
    config._exposure_warned.clear()
    profile = config.Profile()
    config.Profile()  # read again in the same command: no second warning
    assert profile.get(config.KEY_FIELD) == "sk-TEST-0123456789-SECRET"
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert str(path) in lines[0] and f"chmod 600 {path}" in lines[0] and "0644" in lines[0]
    # Writing the file again (e.g. `jules auth login`) makes it private once more.
    profile.set("branch", "dev")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_a_readable_config_file_without_a_key_is_no_concern(isolated_config, capsys):
    config.Profile().set("repo", "octo/hello")
    os.chmod(config.config_path(), 0o644)
    config._exposure_warned.clear()
    config.Profile()
    assert capsys.readouterr().err == ""


def test_the_key_is_never_in_a_readable_temporary_file(isolated_config, monkeypatch):
    """The temporary file is created 0600 (not chmod-ed after the key is written)."""
    from jules_cli import files

    created_modes = []
    real_open, real_replace = os.open, os.replace

    def recording_open(path, flags, mode=0o777, *args, **kwargs):
        created_modes.append(mode)
        return real_open(path, flags, mode, *args, **kwargs)

    def checking_replace(source, target):
        assert stat.S_IMODE(os.stat(source).st_mode) == 0o600
        return real_replace(source, target)

    monkeypatch.setattr(files.os, "open", recording_open)
    monkeypatch.setattr(files.os, "replace", checking_replace)
    config.Profile().set(config.KEY_FIELD, "sk-TEST-0123456789-SECRET")
    assert created_modes and all(mode == 0o600 for mode in created_modes)  # lock, temp


def test_only_the_folder_jules_creates_is_made_private(tmp_path, monkeypatch):
    existing = tmp_path / "shared"
    existing.mkdir(mode=0o755)
    os.chmod(existing, 0o755)
    monkeypatch.setenv("JULES_CONFIG_DIR", str(existing / "jules"))
    config.Profile().set("repo", "octo/hello")
    assert stat.S_IMODE(os.stat(existing / "jules").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(existing).st_mode) == 0o755


def test_parallel_writers_lose_nothing(tmp_path):
    """20 `config set` and 10 `auth login` at once, each in its own profile: every one of
    them is in the file afterwards (each used to read, change and write back the whole
    file, so concurrent ones overwrote each other)."""
    import subprocess
    from concurrent.futures import ThreadPoolExecutor

    from tests.conftest import jules_command

    env = {**os.environ, "JULES_CONFIG_DIR": str(tmp_path / "cfg")}

    def jules(args: list[str], stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*jules_command(), *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )

    jobs = [(["--profile", f"p{n}", "config", "set", "repo", f"o/r{n}"], "") for n in range(20)]
    jobs += [
        (
            ["--profile", f"k{n}", "auth", "login", "--with-key", "--no-verify"],
            f"key-{n}-abcdefgh\n",
        )
        for n in range(10)
    ]
    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(lambda job: jules(*job), jobs))
    assert all(result.returncode == 0 for result in results), [r.stderr for r in results]
    path = tmp_path / "cfg" / "config.toml"
    for n in range(20):
        assert config.Profile(f"p{n}", path=path).get("repo") == f"o/r{n}"
    for n in range(10):
        assert config.Profile(f"k{n}", path=path).get(config.KEY_FIELD) == f"key-{n}-abcdefgh"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "cfg").st_mode) == 0o700
