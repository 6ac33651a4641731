"""The two output channels, guarded once for every command: whatever reaches stdout or
stderr passes through `GuardedStream`.

Each write
* has every piece of the API key (8 characters or more) replaced by *** (a server may echo
  the key back into any field, and any field may be printed: tables, --json, `jules api`);
  the last few characters of a write that could begin such a piece are held back until
  the next write or flush, so a key split over two writes is caught too;
* has each lone surrogate (the API may send `"\\ud800"`, which Python decodes but cannot
  encode) written as the escape `\\ud800`, which is also what JSON needs, so `--json`
  stays valid and a table shows it instead of crashing;
* reports a reader that went away (`| head`) as `StdoutClosed`, and any other failure
  (a full disk, a closed descriptor) as one `Error:` line, never a traceback.

Control characters are not touched here: our own colours and live views use them. Text
from the API is made harmless where it is rendered (`output.safe_text`).
"""

from __future__ import annotations

import errno
import re
from typing import IO, Any

from jules_cli.errors import JulesError, has_secrets, held_back, redact

_SURROGATE = re.compile(r"[\ud800-\udfff]")


def escape_surrogates(text: str) -> str:
    """Lone surrogates as visible `\\udXXX` escapes (in JSON, the very escape it needs)."""
    return _SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


class StdoutClosed(Exception):
    """The reader of stdout went away (`jules ... | head`). Deliberately not an OSError:
    Typer turns a broken pipe into exit 1, but a reader that has seen enough is no
    failure of ours."""


class OutputFailed(JulesError):
    """Writing the output failed (a full disk, a closed stdout): exit 1, one line."""


class ClosedStream:
    """Stands in for a stream whose descriptor was closed before we started (`>&-`):
    Python then has no sys.stdout at all. Every write fails with EBADF, so a command
    that prints nothing still works and one that prints gets one clear line. With
    `discard` (for stderr) writes are dropped instead: diagnostics nobody can read are
    no reason to fail the command."""

    encoding = "utf-8"
    errors = "strict"

    def __init__(self, *, discard: bool = False) -> None:
        self._discard = discard

    def write(self, text: str) -> int:
        if self._discard:
            return len(text)
        raise OSError(errno.EBADF, "the stream is closed (no file descriptor)")

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        raise OSError(errno.EBADF, "the stream is closed (no file descriptor)")


class GuardedStream:
    """A text stream (sys.stdout or sys.stderr) with the guards of the module doc."""

    def __init__(self, stream: IO[str] | Any, name: str, *, reader_may_leave: bool) -> None:
        self._stream = stream
        self._name = name
        self._reader_may_leave = reader_may_leave
        self._held = ""

    @property
    def wrapped(self) -> IO[str]:
        return self._stream

    def write(self, text: str) -> int:
        given = len(text)
        if self._held:
            text, self._held = self._held + text, ""
        if has_secrets():
            text = redact(text)
            keep = held_back(text)
            if keep:
                text, self._held = text[:-keep], text[-keep:]
        if _SURROGATE.search(text):
            text = escape_surrogates(text)
        if text:
            self._call(self._stream.write, text)
        return given

    def flush(self) -> None:
        if self._held:
            held, self._held = self._held, ""
            self._call(self._stream.write, held)
        self._call(self._stream.flush)

    def _call(self, operation, *args):
        try:
            return operation(*args)
        except BrokenPipeError as exc:
            if self._reader_may_leave:
                raise StdoutClosed() from exc
            raise OutputFailed(f"cannot write to {self._name}: the reader went away") from exc
        except OSError as exc:
            why = exc.strerror or str(exc)
            raise OutputFailed(f"cannot write to {self._name}: {why}") from exc

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str):
        return getattr(self._stream, name)
