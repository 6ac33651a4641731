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
    assert sorted(p.name for p in isolated_config.iterdir()) == ["config.toml"]


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
    assert config.mask_key("AIzaSyD-abcdefghijklmnop") == "AIza...mnop"
    assert config.mask_key("short") == "*****"
