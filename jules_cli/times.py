"""RFC 3339 timestamps as the API writes them (0-9 fractional digits, Z or an offset)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

# Strict RFC 3339: a date, a time and a zone. `datetime.fromisoformat` alone would also
# take `2026-01-17` or a time without zone (read as local time), which the API's filter
# does not understand.
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))",
    re.ASCII,
)


def parse_time(value: Any) -> float | None:
    """RFC 3339 (0-9 fractional digits, Z or offset) -> POSIX seconds; None for anything
    that is not such a time (also a non-string, or a date out of range)."""
    if not isinstance(value, str):
        return None
    match = _RFC3339.fullmatch(value.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zulu, sign, off_h, off_m = match.groups()
    try:
        offset = timedelta(0)
        if not zulu:
            offset = timedelta(hours=int(off_h), minutes=int(off_m))
            if offset >= timedelta(hours=24):
                return None
            offset = -offset if sign == "-" else offset
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            min(int(second), 59),  # a leap second reads as the second before it
            int((fraction or "0")[:6].ljust(6, "0")),
            tzinfo=timezone(offset),
        )
        return moment.timestamp()
    except (ValueError, OverflowError):
        return None


_EARLIEST = datetime(1, 1, 1, tzinfo=timezone.utc)
_LATEST = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc)


def format_time(stamp: float) -> str:
    """POSIX seconds -> RFC 3339 UTC with microseconds, as the API writes them.

    A time beyond what a datetime holds is clamped to the first or last representable
    one: `--since 99999999h` means "since the beginning", not a crash.
    """
    try:
        moment = datetime.fromtimestamp(stamp, tz=timezone.utc)
    except (OverflowError, ValueError, OSError):
        moment = _LATEST if stamp > 0 else _EARLIEST
    return f"{moment.year:04d}" + moment.strftime("-%m-%dT%H:%M:%S.%fZ")


# The API's own form of a time: UTC, `T` and `Z`, 0-9 fractional digits.
_CANONICAL = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z", re.ASCII)


def since_time(text: str | None, name: str = "--since") -> str | None:
    """An RFC 3339 time, or a duration such as 10m meaning that long ago, as the one
    form the API's filter surely reads: UTC, `T` and `Z`, no spaces (the user may write
    `2026-01-17 09:00:00+02:00` or a leap second; the server is sent neither).

    `name` is how the caller calls it in an error: `--since` for the command line,
    `since` for the MCP tool list_activities."""
    if text is None:
        return None
    from jules_cli.errors import UsageError
    from jules_cli.follow import format_timestamp, parse_duration, timestamp_ns

    valid = parse_time(text) is not None
    if valid and _CANONICAL.fullmatch(text) and int(text[17:19]) < 60:
        return text  # already the API's own form (a createTime copied from its output)
    if valid:
        nanoseconds = timestamp_ns(text)
        if nanoseconds is not None:
            seconds, fraction = divmod(nanoseconds, 1_000_000_000)
            if fraction % 1000:  # finer than microseconds: keep every digit given
                return format_timestamp(seconds * 1_000_000_000)[:-8] + f".{fraction:09d}Z"
            return format_timestamp(nanoseconds)
    import time

    try:
        return format_time(time.time() - parse_duration(text))
    except UsageError as exc:
        raise UsageError(
            f"{name} takes an RFC 3339 time or a duration, not {text!r}",
            "e.g. 2026-01-17T00:03:53Z or 15m",
        ) from exc
