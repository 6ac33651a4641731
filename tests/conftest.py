"""Shared fixtures: every test gets a private config folder and no ambient key."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest_plugins = (
    ["tests.emulator_fixture"] if (Path(__file__).parent / "emulator_fixture.py").exists() else []
)

_AMBIENT = (
    "JULES_API_KEY",
    "JULES_PROFILE",
    "JULES_API_URL",
    "JULES_DEBUG",
    "JULES_EMULATOR",
    "JULES_EMULATOR_STATE",
    "JULES_EMULATOR_SPEED",
    "JULES_NO_INPUT",
    "JULES_HTTP_TIMEOUT",
    "JULES_RETRY_DELAY_SCALE",
    "JULES_TTY",
    "NO_COLOR",
    "FORCE_COLOR",
    "VISUAL",
    "EDITOR",
    # CI services set CI=true, which makes jules non-interactive; tests that want that
    # say so themselves, so the suite behaves the same on a laptop and in CI.
    "CI",
)


def pytest_sessionstart(session: pytest.Session) -> None:
    """Compile jules_cli's bytecode once, before any test starts `jules`.

    The suite starts the installed command a couple of thousand times. An editable
    install from a fresh clone has no bytecode, and where PYTHONDONTWRITEBYTECODE is set
    (CI images often set it) none is ever written: every start would compile each module
    it imports again, about a third of its CPU time. pip compiles a wheel's modules when
    it installs them; this does the same for the checkout (in the xdist controller, and
    in each worker, where compileall finds it done)."""
    import compileall

    import jules_cli

    compileall.compile_dir(Path(jules_cli.__file__).parent, quiet=2, workers=1)


@pytest.fixture(autouse=True)
def isolated_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    config_dir = tmp_path / "jules-config"
    monkeypatch.setenv("JULES_CONFIG_DIR", str(config_dir))
    for name in _AMBIENT:
        monkeypatch.delenv(name, raising=False)
    # Typer reads these to decide on colours in help output.
    monkeypatch.setenv("_TYPER_FORCE_DISABLE_TERMINAL", "1")
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    # Followers against the emulator poll a hundred times faster than the real quota
    # allows (honoured for loopback APIs only); tests of the pacing itself unset it.
    monkeypatch.setenv("JULES_POLL_SCALE", "0.01")
    return config_dir


@pytest.fixture
def git_env(tmp_path: Path) -> dict[str, str]:
    """git with no user or system configuration, a fixed identity and no credential
    prompt: for the tests that build checkouts and the jules that works in them."""
    home = tmp_path / "home"
    home.mkdir()
    return {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
        "GIT_AUTHOR_NAME": "Test Author",
        "GIT_AUTHOR_EMAIL": "author@example.com",
        "GIT_COMMITTER_NAME": "Test Committer",
        "GIT_COMMITTER_EMAIL": "committer@example.com",
        "GIT_TERMINAL_PROMPT": "0",
    }


def jules_command() -> list[str]:
    """The installed `jules` console script of this interpreter's environment."""
    script = Path(sys.executable).parent / ("jules.exe" if os.name == "nt" else "jules")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "jules_cli"]


@pytest.fixture
def run_jules():
    """Run the installed `jules` as a subprocess, as a script or CI job would."""

    def run(
        *args: str,
        input: str | None = None,
        env: dict[str, str] | None = None,
        cwd: Path | str | None = None,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]:
        full_env = dict(os.environ)
        full_env.update(env or {})
        return subprocess.run(
            [*jules_command(), *args],
            input=input if input is not None else "",
            capture_output=True,
            text=True,
            env=full_env,
            cwd=cwd,
            timeout=timeout,
        )

    return run
