"""RFC 3339 timestamps as the API writes them (0-9 fractional digits, Z or an offset)."""

from __future__ import annotations

from datetime import datetime, timezone


def parse_time(value: str | None) -> float | None:
    """RFC 3339 (0-9 fractional digits, Z or offset) -> POSIX seconds."""
    if not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    if "." in text:
        head, _, rest = text.partition(".")
        digits = ""
        while rest and rest[0].isdigit():
            digits, rest = digits + rest[0], rest[1:]
        text = f"{head}.{digits[:6].ljust(6, '0')}{rest}"
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def format_time(stamp: float) -> str:
    """POSIX seconds -> RFC 3339 UTC with microseconds, as the API writes them."""
    moment = datetime.fromtimestamp(stamp, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
