"""The emulator in-process, its state kept in a JSON file between commands.

This is what the CLI's global `--emulator` option talks to through
httpx.WSGITransport: each request locks the file, loads the state, is handled, and the
state is saved atomically, so consecutive `jules` commands (even concurrent ones) see one
consistent emulator. Any key, or none, is accepted.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from jules_cli.emulator.app import EmulatorApp
from jules_cli.emulator.state import Emulator
from jules_cli.errors import JulesError
from jules_cli.files import exclusive_lock, private_folder, write_atomically


class EmulatorStateError(JulesError):
    """The in-process emulator's state file cannot be read or written (a full disk, a
    folder without write permission): one line, not a traceback."""


class PersistentEmulatorApp:
    """A WSGI callable over an Emulator persisted in `state_path` (created on demand,
    0600 in a 0700 folder).

    `speed` applies to the steps scheduled by this process. A state file that cannot be
    loaded as an emulator state (not UTF-8, not JSON, any field or session entry of the
    wrong shape: the whole file is checked when it is loaded) is kept aside as
    `<name>.corrupt` and a fresh one starts; `note` (if given) is told so in one line.
    A state that cannot be saved, or a folder that cannot hold it, is EmulatorStateError.
    """

    def __init__(
        self,
        state_path: str | Path,
        speed: float = 1.0,
        *,
        clock: Callable[[], float] = time.time,
        note: Callable[[str], None] | None = None,
    ) -> None:
        if not speed > 0:
            raise ValueError("speed must be above 0")
        self.state_path = Path(state_path)
        self.lock_path = lock_path_of(self.state_path)
        self.speed = float(speed)
        self._clock = clock
        self._note = note
        self._app = EmulatorApp(Emulator(speed=self.speed, clock=clock), require_key=False)

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> list[bytes]:
        captured: list[Any] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None):
            captured[:] = [status, headers]
            return lambda data: None

        with state_lock(self.state_path):
            emulator = self.load()
            loaded = emulator.revision
            self._app.emulator = emulator
            try:
                body = b"".join(self._app(environ, capture))
            finally:
                # Only a request that changed something rewrites the file (a big state
                # costs its size to write; reads of settled sessions change nothing).
                if emulator.revision != loaded or not self.state_path.exists():
                    self._save(emulator)
        start_response(*captured)
        return [body]

    def load(self) -> Emulator:
        """The saved emulator, or a fresh one (call with the lock held, or for reading)."""
        try:
            text = self.state_path.read_bytes().decode("utf-8")
        except FileNotFoundError:
            return Emulator(speed=self.speed, clock=self._clock)
        except UnicodeDecodeError:
            return self._set_aside("it is not UTF-8 text")
        except OSError as exc:
            raise _state_error("read", self.state_path, exc) from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            return self._set_aside(f"it is not JSON: {exc.msg} at line {exc.lineno}")
        except RecursionError:
            return self._set_aside("it is nested too deep")
        try:
            return Emulator.from_dict(data, clock=self._clock, speed=self.speed)
        except RecursionError:
            return self._set_aside("it is nested too deep")
        except ValueError as exc:  # what the check of the whole state found (saved.py)
            return self._set_aside(str(exc))
        except Exception as exc:  # noqa: BLE001 - whatever else is wrong: never a 500
            return self._set_aside(f"it cannot be loaded ({type(exc).__name__})")

    def _set_aside(self, reason: str) -> Emulator:
        aside = _free_name(self.state_path.with_name(self.state_path.name + ".corrupt"))
        try:
            os.replace(self.state_path, aside)
            outcome = f"kept it as {aside.name} and started a fresh emulator"
        except OSError as exc:
            why = exc.strerror or exc
            outcome = f"started a fresh emulator (could not keep it as {aside.name}: {why})"
        if self._note is not None:
            self._note(f"the emulator's state {self.state_path} is unusable ({reason}); {outcome}")
        return Emulator(speed=self.speed, clock=self._clock)

    def _save(self, emulator: Emulator) -> None:
        try:
            write_atomically(self.state_path, emulator.state_json().encode("utf-8"), private=True)
        except OSError as exc:
            raise _state_error("save", self.state_path, exc) from None


def _free_name(path: Path) -> Path:
    """`path`, or `path.1`, `path.2`...: the first that does not exist, so that a state set
    aside later never replaces one set aside before (it may be the one worth a look)."""
    candidate, number = path, 0
    while candidate.exists():
        number += 1
        candidate = path.with_name(f"{path.name}.{number}")
    return candidate


def lock_path_of(state_path: Path) -> Path:
    return state_path.with_name(state_path.name + ".lock")


@contextlib.contextmanager
def state_lock(state_path: Path) -> Iterator[None]:
    """The lock every reader and writer of the state file holds (its folder created 0700
    first): requests of concurrent commands, and `jules emulator reset`."""
    with contextlib.ExitStack() as stack:
        try:
            private_folder(state_path.parent)
            stack.enter_context(exclusive_lock(lock_path_of(state_path)))
        except OSError as exc:
            raise _state_error("save", state_path, exc) from None
        yield


def reset_state(state_path: Path) -> bool:
    """Forget the saved state, under the lock, so that a command running meanwhile
    cannot write the old state back after it; False when there was none."""
    with state_lock(state_path):
        try:
            state_path.unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise _state_error("remove", state_path, exc) from None
    return True


def _state_error(verb: str, path: Path, exc: OSError) -> EmulatorStateError:
    return EmulatorStateError(
        f"cannot {verb} the emulator's state {path}: {exc.strerror or exc}",
        "free some space or fix the folder's permissions, or choose another file with "
        "JULES_EMULATOR_STATE",
    )
