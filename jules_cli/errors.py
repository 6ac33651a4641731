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
    INTERRUPTED = 130


class JulesError(Exception):
    """Base of every error the CLI reports as one line plus an exit code."""

    exit_code = ExitCode.UNEXPECTED

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} - {self.hint}" if self.hint else self.message


class UsageError(JulesError):
    """Bad option, argument or input, caught before any request."""

    exit_code = ExitCode.USAGE


class ConfigError(JulesError):
    """The config file cannot be read or written."""

    exit_code = ExitCode.UNEXPECTED


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
    exit_code = ExitCode.INTERRUPTED
