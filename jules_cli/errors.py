"""The error model: every failure the CLI reports is a JulesError with an exit code.

Codes are fixed by CLI.md; `__main__` maps any JulesError to one stderr line and
`exit_code`. This module imports nothing heavy so every layer can raise these.
"""

from __future__ import annotations

from typing import Any


class ExitCode:
    OK = 0
    UNEXPECTED = 1
    USAGE = 2
    NOT_FOUND = 3
    AUTH = 4
    REFUSED = 5
    RATE_LIMITED = 6
    UNAVAILABLE = 7
    WAIT_FAILED = 8
    WAIT_NEEDS_USER = 9
    WAIT_TIMEOUT = 10
    WAIT_STALLED = 11
    INTERRUPTED = 130


# Secrets (the API key in force) that nothing written may repeat, and the shortest
# piece of one that still counts: a server may echo a key back cut in the middle.
_secrets: list[str] = []
# Each secret's pieces of MIN_SECRET_FRAGMENT characters, and every shorter piece (the
# ends a write may hold back, see `held_back`), kept from registration on: `redact` runs
# on every write to stdout and stderr.
_windows_of: dict[str, list[str]] = {}
_short_pieces: set[str] = set()
MIN_SECRET_FRAGMENT = 8
REDACTED = "***"


# The emulator's demo key (jules_cli.emulator.server.DEMO_API_KEY) is printed in its own
# docs, and "emulator" is the stand-in key of `--emulator` without one: no secrets, and
# made of words, they would redact ordinary text.
PUBLIC_KEYS = frozenset({"jules-emulator-key", "emulator"})


def register_secret(value: str) -> None:
    """From now on, `redact` (and so every JulesError's text, and everything jules
    writes) hides `value`. Values shorter than MIN_SECRET_FRAGMENT are not real keys and
    would redact ordinary words."""
    if len(value) >= MIN_SECRET_FRAGMENT and value not in _secrets and value not in PUBLIC_KEYS:
        _secrets.append(value)
        _windows_of[value] = _windows(value, MIN_SECRET_FRAGMENT)
        for length in range(1, MIN_SECRET_FRAGMENT):
            _short_pieces.update(_windows(value, length))


def has_secrets() -> bool:
    return bool(_secrets)


def _windows(secret: str, length: int) -> list[str]:
    return [secret[start : start + length] for start in range(len(secret) - length + 1)]


def redact(text: str) -> str:
    """`text` with every registered secret, and every piece of one of at least
    MIN_SECRET_FRAGMENT characters, replaced by ***."""
    for secret in _secrets:
        if not any(piece in text for piece in _windows_of[secret]):
            continue
        # Longest pieces first, so a whole key becomes one *** rather than several.
        for length in range(len(secret), MIN_SECRET_FRAGMENT - 1, -1):
            for piece in _windows(secret, length):
                if piece in text:
                    text = text.replace(piece, REDACTED)
    return text


def held_back(text: str) -> int:
    """How many characters at the end of `text` could begin a piece of a secret that the
    next write completes (at most MIN_SECRET_FRAGMENT - 1): a stream that writes them only
    with what follows can never show a piece split over two writes."""
    if not _secrets:
        return 0
    for length in range(min(MIN_SECRET_FRAGMENT - 1, len(text)), 0, -1):
        if text[-length:] in _short_pieces:
            return length
    return 0


def redact_bytes(data: bytes) -> bytes:
    """`redact` for file contents (a patch, an artifact): each piece of a secret, as
    UTF-8 bytes, replaced by ***; everything else byte for byte as it was."""
    for secret in _secrets:
        if not any(piece.encode() in data for piece in _windows_of[secret]):
            continue
        for length in range(len(secret), MIN_SECRET_FRAGMENT - 1, -1):
            for piece in _windows(secret, length):
                encoded = piece.encode()
                if encoded in data:
                    data = data.replace(encoded, REDACTED.encode())
    return data


class JulesError(Exception):
    """Base of every error the CLI reports as one line plus an exit code.

    Its text never contains a registered secret, even when it quotes a server's answer
    that echoed the key back."""

    exit_code = ExitCode.UNEXPECTED

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(redact(message))
        self.message = message
        self.hint = hint

    @property
    def message(self) -> str:
        return redact(self._message)

    @message.setter
    def message(self, value: str) -> None:
        self._message = value

    def __str__(self) -> str:
        text = f"{self._message} - {self.hint}" if self.hint else self._message
        return redact(text)


class UsageError(JulesError):
    """Bad option, argument or input, caught before any request."""

    exit_code = ExitCode.USAGE


class ConfigError(JulesError):
    """The config file cannot be read or written: bad input found before any request."""

    exit_code = ExitCode.USAGE


class MissingKeyError(JulesError):
    exit_code = ExitCode.AUTH

    def __init__(self) -> None:
        super().__init__(
            "no API key",
            "set JULES_API_KEY, or run `jules auth login` to store one "
            "(create a key at https://jules.google.com/settings#api)",
        )


class ApiError(JulesError):
    """An HTTP error from the API, built from the Google error envelope."""

    exit_code = ExitCode.REFUSED

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        status: str | None = None,
        details: list[Any] | None = None,
        method: str | None = None,
        url: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint)
        self.http_status = http_status
        self.status = status
        self.details = details or []
        self.method = method
        self.url = url


class BadRequest(ApiError):
    """400: INVALID_ARGUMENT, FAILED_PRECONDITION and other refusals."""

    exit_code = ExitCode.REFUSED


class AuthError(ApiError):
    """401 (no or bad key) and 403 (permission denied)."""

    exit_code = ExitCode.AUTH


class NotFound(ApiError):
    exit_code = ExitCode.NOT_FOUND


class RateLimited(ApiError):
    exit_code = ExitCode.RATE_LIMITED


class Unavailable(ApiError):
    """5xx, connection errors and time-outs, after retries."""

    exit_code = ExitCode.UNAVAILABLE


class Interrupted(JulesError):
    """Ctrl-C. With `reported=True` the command has already said, in its own words, what
    stopping means (a live view: the session goes on at Jules, and how to follow it
    again), so `main()` exits 130 without a further `Error:` line."""

    exit_code = ExitCode.INTERRUPTED

    def __init__(self, message: str = "interrupted", *, reported: bool = False) -> None:
        super().__init__(message)
        self.reported = reported
