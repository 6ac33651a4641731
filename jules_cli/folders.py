"""Where jules keeps its files, as plain strings (os.path, not pathlib).

Import-free, so a TAB press can find the completion cache without loading
jules_cli.config; platformdirs is imported only when JULES_CONFIG_DIR is not set.
JULES_CONFIG_DIR, when set, holds everything: the config, the caches and the emulator's
state (one folder to point a test or a sandbox at).
"""

from __future__ import annotations

import os

APP = "jules"


def _folder(kind: str) -> str:
    override = os.environ.get("JULES_CONFIG_DIR")
    if override:
        return os.path.expanduser(override)
    import platformdirs

    find = {
        "config": platformdirs.user_config_dir,
        "state": platformdirs.user_state_dir,
        "data": platformdirs.user_data_dir,
    }[kind]
    return find(APP, appauthor=False)


def config_folder() -> str:
    """config.toml."""
    return _folder("config")


def state_folder() -> str:
    """State that is not configuration: the completion cache."""
    return _folder("state")


def data_folder() -> str:
    """What the user made: the in-process emulator's sessions."""
    return _folder("data")
