"""SIGTERM and SIGHUP end a command the way Ctrl-C does; critical sections hold all three.

Python's default SIGTERM and SIGHUP kill the process on the spot: no `finally`, no
rollback, temporary files left behind. `install()` (called once by `__main__`) makes
them raise `Terminated`, a KeyboardInterrupt, so every clean-up path written for Ctrl-C
runs for them too; the command then ends with `Error: terminated (SIGTERM)` and exit
128 + the signal's number, as a shell reports it.

`held()` is for work that must not stop half-way (`session apply`, rolling it back): in
it, SIGINT, SIGTERM and SIGHUP are recorded instead of raised. A child started with
`HeldSignals.run()` gets the signal passed on (in a process group of its own, hooks
included), is allowed to finish its own clean-up (git removes its `index.lock`), and is
killed outright if it has not ended `KILL_AFTER` seconds later. The held signal is raised
at the next `check()` or when the section ends, so the caller can undo what it did.

Signals are a main-thread matter in Python: off the main thread both are no-ops.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Any

# How long a child that was passed the signal may take to end by itself.
KILL_AFTER = 5.0
_POLL = 0.2

_HELD = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)
_TERMINATING = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)
)

# The last signal that ended (or is ending) the command, for __main__'s one line.
_last: int | None = None


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived: stop like Ctrl-C, and exit 128 + its number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def exception_for(signum: int) -> KeyboardInterrupt:
    return KeyboardInterrupt() if signum == signal.SIGINT else Terminated(signum)


def last_signal() -> int | None:
    """The signal that interrupted the command, if one did (SIGINT included)."""
    return _last


def describe(signum: int | None) -> tuple[str, int]:
    """The error text and exit code for a command ended by `signum` (None: Ctrl-C)."""
    if signum is None or signum == signal.SIGINT:
        return "interrupted", 130
    return f"terminated ({signal.Signals(signum).name})", 128 + signum


def _raise(signum: int, frame: Any) -> None:
    global _last
    _last = signum
    raise exception_for(signum)


def install() -> None:
    """SIGTERM and SIGHUP raise Terminated, unless they are ignored (`nohup` keeps
    working). SIGINT is Python's own KeyboardInterrupt; it is recorded in passing."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in _TERMINATING:
        if signal.getsignal(signum) == signal.SIG_DFL:
            signal.signal(signum, _raise)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _raise)


class HeldSignals:
    """What `held()` yields: the signal held so far, and a way to run children."""

    def __init__(self, active: bool) -> None:
        self.active = active
        self.pending: int | None = None
        self._since = 0.0
        self.forward = True
        self.child: subprocess.Popen | None = None
        self.child_killed = False  # a child had to be killed outright (its locks stay)

    def _hold(self, signum: int, frame: Any) -> None:
        global _last
        if self.pending is None:
            self.pending, self._since = signum, time.monotonic()
            _last = signum
        child = self.child
        if self.forward and child is not None:
            _signal_group(child, signum)

    def check(self) -> None:
        """Raise the held signal's exception, if one arrived (not while `finishing`)."""
        if self.pending is not None and self.forward:
            raise exception_for(self.pending)

    def forget(self) -> None:
        """Drop the held signal: the work it would have stopped is done (and said so)."""
        self.pending = None

    @contextlib.contextmanager
    def finishing(self) -> Iterator[None]:
        """Children started in this block are not passed the signal: they must complete
        (a rollback)."""
        forward, self.forward = self.forward, False
        try:
            yield
        finally:
            self.forward = forward

    def run(
        self, command: list[str], *, input: bytes, **options: Any
    ) -> subprocess.CompletedProcess[bytes]:
        """subprocess.run(command, input=input, capture_output=True, **options), with a
        held signal passed on to the child's process group."""
        if not self.active:
            return subprocess.run(command, input=input, capture_output=True, **options)
        # A group of its own: the signal reaches the child and whatever it runs (hooks)
        # only through us, once, and a terminal's Ctrl-C does not kill it mid-write.
        process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=os.name == "posix",
            **options,
        )
        self.child = process
        try:
            if self.pending is not None and self.forward:
                _signal_group(process, self.pending)
            data: bytes | None = input
            while True:
                try:
                    stdout, stderr = process.communicate(data, timeout=_POLL)
                    break
                except subprocess.TimeoutExpired:
                    data = None  # sent (or being sent): communicate() goes on with it
                    if (
                        self.pending is not None
                        and self.forward
                        and time.monotonic() - self._since > KILL_AFTER
                    ):
                        _signal_group(process, getattr(signal, "SIGKILL", signal.SIGTERM))
                        self.child_killed = True
        finally:
            self.child = None
        return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    with contextlib.suppress(OSError):
        if os.name == "posix":
            os.killpg(process.pid, signum)
        else:
            process.send_signal(signum)


# Per thread: a section held by the main thread says nothing about a worker's git.
_sections = threading.local()


def current() -> HeldSignals | None:
    """This thread's active `held()` section, if any."""
    return getattr(_sections, "current", None)


@contextlib.contextmanager
def held() -> Iterator[HeldSignals]:
    """SIGINT, SIGTERM and SIGHUP are recorded, not raised, inside the block; the first
    one held is raised when the block ends (unless an exception is already on its way).
    Nested sections share the outer one."""
    outer = current()
    if outer is not None:
        yield outer
        return
    main = threading.current_thread() is threading.main_thread()
    section = HeldSignals(active=main)
    previous: dict[int, Any] = {}
    if main:
        for signum in _HELD:
            handler = signal.getsignal(signum)
            if handler != signal.SIG_IGN:
                previous[signum] = handler
                signal.signal(signum, section._hold)
    _sections.current = section
    try:
        yield section
    finally:
        _sections.current = None
        for signum, handler in previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
    if section.pending is not None:
        raise exception_for(section.pending)
