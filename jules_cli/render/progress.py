"""A sign of life on stderr while a request or a wait takes long, for a person watching.

Only in a terminal (stdout and stderr both), never with --json, --debug, --no-input or
CI: AppContext decides, and creates a Spinner only then. Nothing is drawn for the first
half second, so quick calls look exactly as before; after that one line, redrawn in place:

    ⠹ Waiting for jules.googleapis.com: listing sessions (3.2 s)
    ⠼ retrying in 2 s (2/5): 503 Service Unavailable

The line is erased when the call ends and before anything else is written to stderr
through `Spinner.stream` (Output's stderr), so it never mixes with real output, and it is
not drawn while a Rich live view owns the screen (`is_busy`). Standard library only: the
spinner must not add to a command's start-up time.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http import HTTPStatus
from typing import IO, Any
from urllib.parse import unquote, urlsplit

# Quick answers show nothing: a spinner that flashes for 100 ms is noise.
SHOW_AFTER = 0.5
FRAME_SECONDS = 0.1
FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
ASCII_FRAMES = "|/-\\"
CLEAR = "\r\x1b[2K"


def seconds_text(seconds: float) -> str:
    """`0.8 s`, `12 s`, `2m 05s`: how long, at a glance."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{int(seconds)} s"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m {secs:02d}s"


def describe_request(method: str, url: str) -> str:
    """What a call is for, in words (`listing sessions`), else its method and path."""
    path = unquote(urlsplit(url).path).strip("/")
    parts = path.split("/")
    # Drop the version prefix (`v1alpha/sessions/1`), whatever it is called.
    if parts and parts[0] not in ("sessions", "sources"):
        parts = parts[1:]
    noun = parts[0] if parts else ""
    rest = "/".join(parts[1:])
    ident, _, verb = rest.partition(":")
    if noun == "sessions":
        sid = ident.split("/")[0]
        if not ident:
            return "listing sessions" if method == "GET" else "creating the session"
        if verb == "sendMessage":
            return f"sending the message to session {sid}"
        if verb == "approvePlan":
            return f"approving the plan of session {sid}"
        if verb in ("archive", "unarchive"):
            return f"{verb[:-1]}ing session {sid}"
        if "/activities" in ident:
            return f"reading the activities of session {sid}"
        if method == "DELETE":
            return f"deleting session {sid}"
        return f"reading session {sid}"
    if noun == "sources":
        return f"reading source {rest}" if rest else "listing sources"
    return f"{method} {'/'.join(parts)}"


def error_text(error: Any) -> str:
    """`503 Service Unavailable`, or what failed before any answer (`ConnectError: ...`)."""
    status = getattr(error, "http_status", None)
    if isinstance(status, int):
        try:
            return f"{status} {HTTPStatus(status).phrase}"
        except ValueError:
            return str(status)
    text = " ".join(str(error).split())
    return text if len(text) <= 60 else text[:57] + "..."


class _GuardedStream:
    """A stream whose writes first erase the spinner's line (Output's stderr)."""

    def __init__(self, spinner: Spinner, stream: IO[str]) -> None:
        self._spinner = spinner
        self._stream = stream

    def write(self, text: str) -> int:
        with self._spinner._lock:
            self._spinner._erase()
            return self._stream.write(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class Spinner:
    """The one-line spinner (a JulesClient RequestProgress, and `holding` for waits)."""

    def __init__(
        self,
        stream: IO[str],
        *,
        is_busy: Callable[[], bool] = lambda: False,
        show_after: float = SHOW_AFTER,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._out = stream
        self.stream = _GuardedStream(self, stream)
        self._is_busy = is_busy
        self._show_after = show_after
        self._clock = clock
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._drawn = False
        self._frame = 0
        encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
        unicode = encoding in ("utf8", "utf_8")
        self._frames = FRAMES if unicode else ASCII_FRAMES
        self._ellipsis = "…" if unicode else "..."
        # What is shown: a wait held by a command, a request, or a retry's pause.
        self._hold: tuple[str | Callable[[], str], float] | None = None
        self._request: tuple[str, float] | None = None
        self._retry: tuple[str, float, float] | None = None  # text, delay, since

    # -- RequestProgress (called by JulesClient) -------------------------------------------

    def request_started(self, method: str, url: str) -> None:
        host = urlsplit(url).hostname or "the API"
        with self._lock:
            self._retry = None
            self._request = (f"Waiting for {host}: {describe_request(method, url)}", self._clock())
        self._start()

    def request_ended(self) -> None:
        with self._lock:
            self._request = None
            if self._hold is None:
                self._erase()

    def retrying(self, delay: float, attempt: int, attempts: int, error: Any) -> None:
        with self._lock:
            self._retry = (f"({attempt}/{attempts}): {error_text(error)}", delay, self._clock())
            self._draw()  # at once: the pause itself is the wait
        self._start()

    # -- waits held by a command -----------------------------------------------------------

    @contextmanager
    def holding(self, what: str | Callable[[], str]) -> Iterator[None]:
        """Show `what` (e.g. `Waiting for session 123`, or a function giving the text
        now) for as long as the block runs."""
        with self._lock:
            self._hold = (what, self._clock())
        self._start()
        try:
            yield
        finally:
            with self._lock:
                self._hold = None
                self._retry = None
                self._erase()

    def status(self) -> str | None:
        """What the spinner would say now (a slow request, a retry's pause), or None: for
        a live view, which owns the screen and shows it in its own panel instead."""
        with self._lock:
            return self._text()

    def close(self) -> None:
        with self._lock:
            self._hold = self._request = self._retry = None
            self._erase()
        self._wake.set()

    # -- drawing -------------------------------------------------------------------------

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="jules-spinner", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._wake.wait(FRAME_SECONDS):
            with self._lock:
                self._frame += 1
                self._draw()

    def _text(self) -> str | None:
        now = self._clock()
        if self._retry is not None:
            text, delay, since = self._retry
            left = max(delay - (now - since), 0.0)
            if left > 0:
                return f"retrying in {math.ceil(left)} s {text}"
        current = self._hold or self._request
        if current is None:
            return None
        what, since = current
        if now - since < self._show_after:
            return None
        if callable(what):
            what = what()
        return f"{what} ({seconds_text(now - since)})"

    def _draw(self) -> None:
        text = self._text()
        if text is None or self._is_busy():
            self._erase()
            return
        frame = self._frames[self._frame % len(self._frames)]
        line = f"{frame} {text}"
        try:
            width = os.get_terminal_size(self._out.fileno()).columns
        except (AttributeError, ValueError, OSError):
            width = 80
        if len(line) >= width:  # never wrap: a wrapped line cannot be erased in place
            line = line[: max(width - 1 - len(self._ellipsis), 1)] + self._ellipsis
        try:
            self._out.write(CLEAR + line)
            self._out.flush()
        except (OSError, ValueError):
            return
        self._drawn = True

    def _erase(self) -> None:
        if not self._drawn:
            return
        self._drawn = False
        try:
            self._out.write(CLEAR)
            self._out.flush()
        except (OSError, ValueError):
            pass
