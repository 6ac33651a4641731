"""config.toml: profiles of settings and the stored API key.

The file lives in platformdirs.user_config_dir("jules"), or in $JULES_CONFIG_DIR. Each
profile is a table `[profiles.NAME]`. Writes are atomic (temp file + rename) with mode
0600; a file that does not parse is reported, never overwritten.
"""

from __future__ import annotations

import contextlib
import copy
import os
import stat
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jules_cli import folders
from jules_cli.errors import ConfigError, MissingKeyError, UsageError, register_secret
from jules_cli.files import exclusive_lock, private_folder, write_atomically

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

DEFAULT_PROFILE = "default"
KEY_FIELD = "api_key"


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("true", "yes", "on", "1"):
        return True
    if lowered in ("false", "no", "off", "0"):
        return False
    raise UsageError(f"not a boolean: {text!r}", "use true or false")


def _parse_repo(text: str) -> str:
    value = text.strip()
    if value != "." and (value.count("/") < 1 or not all(value.split("/"))):
        raise UsageError(
            f"not a repository: {text!r}", "use owner/repo, or . for the current checkout"
        )
    return value


def _parse_url(text: str) -> str:
    from jules_cli.api.client import check_api_url

    return check_api_url(text.strip())


def _parse_text(text: str) -> str:
    if not text.strip():
        raise UsageError("empty value", "use `jules config unset KEY` to remove a setting")
    return text.strip()


@dataclass(frozen=True)
class Setting:
    name: str
    help: str
    parse: Callable[[str], Any]


# The settings `jules config set` accepts. The API key is deliberately absent: it is
# only ever stored by `jules auth login`, never given as a command-line value.
SETTINGS: dict[str, Setting] = {
    s.name: s
    for s in (
        Setting("repo", "default repository for `session new` (owner/repo, or .)", _parse_repo),
        Setting("branch", "default starting branch for `session new`", _parse_text),
        Setting("require-approval", "ask for plan approval by default (true/false)", _parse_bool),
        Setting(
            "auto-pr", "open a pull request automatically by default (true/false)", _parse_bool
        ),
        Setting("api-url", "API base URL for this profile", _parse_url),
    )
}


def config_dir() -> Path:
    return Path(folders.config_folder())


def config_path() -> Path:
    return config_dir() / "config.toml"


def state_dir() -> Path:
    """Where caches live (the in-process emulator's state is data: see folders)."""
    return Path(folders.state_folder())


def load(path: Path | None = None) -> dict[str, Any]:
    path = path or config_path()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"the config file {path} is not valid TOML ({exc})",
            "fix it by hand or move it away; jules will not overwrite it",
        ) from exc
    profiles = data.get("profiles", {})
    if not isinstance(profiles, dict) or not all(isinstance(p, dict) for p in profiles.values()):
        raise ConfigError(
            f"the config file {path} has a malformed [profiles] section",
            "each profile must be a table such as [profiles.default]",
        )
    for name, profile in profiles.items():
        for key, value in profile.items():
            expected = _VALUE_TYPES.get(key)
            if expected is not None and not isinstance(value, expected[0]):
                raise ConfigError(
                    f"the config file {path} has {key} = {_shown(key, value)} in "
                    f"[profiles.{name}], which is not {expected[1]}",
                    f"fix it by hand, or run: jules config unset {key}",
                )
    return data


# The type each known entry of a profile must have in the file (a hand-edited
# `require-approval = "maybe"` must not silently count as true).
_VALUE_TYPES: dict[str, tuple[type, str]] = {
    "repo": (str, "a string"),
    "branch": (str, "a string"),
    "api-url": (str, "a string"),
    "require-approval": (bool, "true or false"),
    "auto-pr": (bool, "true or false"),
    KEY_FIELD: (str, "a string"),
}


def _shown(key: str, value: Any) -> str:
    return "(hidden)" if key == KEY_FIELD else repr(value)[:40]


def save(data: dict[str, Any], path: Path | None = None) -> Path:
    """Write atomically with mode 0600: a crash leaves the old file or the new one."""
    import tomli_w

    path = path or config_path()
    payload = tomli_w.dumps(data).encode("utf-8")
    try:
        _private_config_folder(path)
        write_atomically(path, payload, private=True, redact=False)
    except OSError as exc:
        raise ConfigError(
            f"cannot write {path}: {exc.strerror or exc}",
            "check the permissions of its folder, or choose another with JULES_CONFIG_DIR",
        ) from exc
    return path


def _private_config_folder(path: Path) -> Path:
    """The config file's folder, created 0700 (each missing level) if it is not there."""
    try:
        folder = private_folder(path.parent)
    except OSError as exc:
        raise ConfigError(
            f"cannot write {path}: {exc.strerror or exc}",
            "check the permissions of its folder, or choose another with JULES_CONFIG_DIR",
        ) from exc
    return folder


def _holds_a_key(data: dict[str, Any]) -> bool:
    return any(KEY_FIELD in profile for profile in data.get("profiles", {}).values())


# Paths already warned about in this process: one warning per command, not per read.
_exposure_warned: set[Path] = set()


def warn_if_exposed(path: Path, data: dict[str, Any]) -> None:
    """One stderr line when a config file holding a key can be read by other users.

    Like ssh with a private key, but a warning rather than a refusal: the command still
    works, and the next `jules auth login` rewrites the file with mode 0600. A file
    without a key holds nothing secret, so it is left alone.
    """
    if os.name != "posix" or path in _exposure_warned or not _holds_a_key(data):
        return
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return
    if not mode & 0o077:
        return
    _exposure_warned.add(path)
    try:
        sys.stderr.write(
            f"Warning: {path} holds an API key and other users can read it "
            f"(mode {mode:04o}); run: chmod 600 {path}\n"
        )
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


class Profile:
    """One profile of the config file, read once, written back whole."""

    def __init__(self, name: str = DEFAULT_PROFILE, path: Path | None = None) -> None:
        if not name or any(c in name for c in "[]\"'\n"):
            raise UsageError(f"invalid profile name: {name!r}")
        self.name = name
        self.path = path or config_path()
        self._data = load(self.path)
        warn_if_exposed(self.path, self._data)

    @property
    def values(self) -> dict[str, Any]:
        return dict(self._data.get("profiles", {}).get(self.name, {}))

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def set(self, key: str, value: Any) -> None:
        # Written even when the value is the same: that also makes the file 0600 again.
        with self._changing(always=True) as data:
            data.setdefault("profiles", {}).setdefault(self.name, {})[key] = value

    def unset(self, key: str) -> bool:
        with self._changing() as data:
            profile = data.get("profiles", {}).get(self.name, {})
            if key not in profile:
                return False
            del profile[key]
        return True

    @contextlib.contextmanager
    def _changing(self, always: bool = False) -> Iterator[dict[str, Any]]:
        """Read-modify-write under an exclusive lock (`config.toml.lock`): the file is
        read afresh, so a `config set` or `auth login` running at the same time is never
        lost. Saved when the block ends normally having changed something (or
        `always`)."""
        folder = _private_config_folder(self.path)
        with contextlib.ExitStack() as stack:
            try:
                stack.enter_context(exclusive_lock(folder / (self.path.name + ".lock")))
            except OSError as exc:
                raise ConfigError(
                    f"cannot write {self.path}: {exc.strerror or exc}",
                    "check the permissions of its folder, or choose another with "
                    "JULES_CONFIG_DIR",
                ) from exc
            data = load(self.path)
            before = copy.deepcopy(data)
            yield data
            # Not after an exception; after unset()'s `return False` nothing changed.
            if always or data != before:
                save(data, self.path)
            self._data = data

    def profile_names(self) -> list[str]:
        return sorted(self._data.get("profiles", {}))


def mask_key(key: str) -> str:
    """Enough of a key to recognise it, never enough to use or guess it: 4 characters
    from each end of a key of real length (24 or more), 2 of a shorter one, none of a
    very short one; never more than a third of the key."""
    shown = 4 if len(key) >= 24 else 2 if len(key) >= 12 else 0
    if shown == 0:
        return "****"
    return f"{key[:shown]}...{key[-shown:]}"


def check_key_text(key: str, origin: str) -> str:
    """A key must be sendable as an HTTP header value: printable ASCII, no spaces.

    Anything else would fail deep inside httpx with an exception that says nothing
    useful, so it is refused here, without echoing the key.
    """
    for position, char in enumerate(key, start=1):
        if not ("!" <= char <= "~"):
            what = "a space" if char.isspace() else f"the character U+{ord(char):04X}"
            raise UsageError(
                f"the API key from {origin} contains {what} at position {position}",
                "API keys are printable ASCII without spaces; copy the key again",
            )
    return key


@dataclass(frozen=True)
class KeySource:
    key: str
    origin: str  # "env" or "profile"
    description: str


def resolve_key(profile: Profile | None) -> KeySource | None:
    """JULES_API_KEY first, then the active profile's stored key.

    The key found is registered as a secret, so no error message can repeat it."""
    env_key = os.environ.get("JULES_API_KEY", "").strip()
    if env_key:
        register_secret(env_key)
        description = "environment variable JULES_API_KEY"
        return KeySource(check_key_text(env_key, description), "env", description)
    if profile is not None:
        stored = profile.get(KEY_FIELD)
        if isinstance(stored, str) and stored:
            register_secret(stored)
            description = f"profile {profile.name!r} in {profile.path}"
            return KeySource(check_key_text(stored, description), "profile", description)
    return None


def require_key(profile: Profile | None) -> KeySource:
    source = resolve_key(profile)
    if source is None:
        raise MissingKeyError()
    return source
