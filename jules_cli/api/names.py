"""Resource names: accept what users type, produce what the API wants."""

from __future__ import annotations

import re

from jules_cli.errors import UsageError

_SESSION_ID = re.compile(r"^[0-9A-Za-z_-]+$")


def session_id(value: str) -> str:
    """`1234` or `sessions/1234` -> `1234`."""
    text = value.strip()
    if text.startswith("sessions/"):
        text = text[len("sessions/") :]
    text = text.strip("/")
    if not text or not _SESSION_ID.match(text):
        raise UsageError(f"not a session id: {value!r}", "give the id, e.g. 1234 or sessions/1234")
    return text


def activity_id(value: str) -> tuple[str | None, str]:
    """`abc`, or `sessions/1/activities/abc` -> (session id or None, activity id)."""
    text = value.strip().strip("/")
    match = re.match(r"^sessions/([^/]+)/activities/([^/]+)$", text)
    if match:
        return match.group(1), match.group(2)
    if not text or "/" in text:
        raise UsageError(f"not an activity id: {value!r}")
    return None, text


def source_name(value: str) -> str:
    """`sources/github/o/r`, `github/o/r` or `o/r` -> `sources/github/o/r`.

    Only a candidate: callers confirm it exists by asking the API, since sources are
    never assumed to follow this shape.
    """
    text = value.strip().strip("/")
    if text.startswith("sources/"):
        return text
    parts = text.split("/")
    if len(parts) == 2 and all(parts):
        return f"sources/github/{text}"
    if len(parts) >= 2 and all(parts):
        return f"sources/{text}"
    raise UsageError(
        f"not a source: {value!r}",
        "give owner/repo, github/owner/repo or sources/github/owner/repo",
    )
