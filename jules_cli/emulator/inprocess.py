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
from jules_cli.files import write_atomically


class PersistentEmulatorApp:
    """A WSGI callable over an Emulator persisted in `state_path` (created on demand).

    `speed` applies to the steps scheduled by this process. A state file that cannot be
    read as an emulator state is kept aside as `<name>.corrupt` and a fresh one starts.
    """

    def __init__(
        self,
        state_path: str | Path,
        speed: float = 1.0,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not speed > 0:
            raise ValueError("speed must be above 0")
        self.state_path = Path(state_path)
        self.lock_path = self.state_path.with_name(self.state_path.name + ".lock")
        self.speed = float(speed)
        self._clock = clock
        self._app = EmulatorApp(Emulator(speed=self.speed, clock=clock), require_key=False)

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> list[bytes]:
        captured: list[Any] = []

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None):
            captured[:] = [status, headers]
            return lambda data: None

        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        with _exclusive_lock(self.lock_path):
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
            text = self.state_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return Emulator(speed=self.speed, clock=self._clock)
        try:
            return Emulator.from_dict(json.loads(text), clock=self._clock, speed=self.speed)
        except (ValueError, TypeError, KeyError):
            with contextlib.suppress(OSError):
                os.replace(
                    self.state_path, self.state_path.with_name(self.state_path.name + ".corrupt")
                )
            return Emulator(speed=self.speed, clock=self._clock)

    def _save(self, emulator: Emulator) -> None:
        write_atomically(self.state_path, emulator.state_json().encode("utf-8"))


@contextlib.contextmanager
def _exclusive_lock(path: Path) -> Iterator[None]:
    """An exclusive lock on `path` across processes: fcntl on POSIX, msvcrt on Windows,
    and no lock where neither exists (a single process is then still consistent)."""
    with open(path, "a+b") as handle:
        try:
            import fcntl
        except ImportError:
            fcntl = None  # type: ignore[assignment]
        if fcntl is not None:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            return
        try:
            import msvcrt
        except ImportError:
            yield
            return
        locked = False
        for _ in range(600):
            try:
                msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)
                locked = True
                break
            except OSError:
                time.sleep(0.05)
        try:
            yield
        finally:
            if locked:
                handle.seek(0)
                msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
