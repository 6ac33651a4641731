"""Resource names: accept what users type, produce what the API wants.

Everything here ends up in a URL path, so each part is checked against the shape the API
uses before any request: a value such as `../x`, `1?x=y` or `a%2Fb` must never become a
request to some other path. Anything else is a UsageError (exit 2).
"""

from __future__ import annotations

import re

from jules_cli.errors import UsageError

# An id is what the API returns: ASCII letters, digits, `-` and `_` (CLI.md, Output).
# Session ids have been decimal so far (jules-api.md 1), but they are strings, so any id
# of this alphabet is sent; nothing else can become another URL path. ASCII only: `\w`
# and `\d` would also take other scripts' letters and digits.
ID_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
_ID = re.compile(r"[0-9A-Za-z_-]+")
# The session's web URL (jules-api.md 1: /session/ID, also /task/ID), scheme optional;
# whatever follows the id (a path, a query, a fragment) is ignored.
_SESSION_URL = re.compile(
    r"(?:https?://)?jules\.google\.com/(?:session|task)/([^/?#]*)(?:[/?#].*)?", re.I | re.S
)
# Activity ids are 32 hex characters; any plain token is accepted so that another shape
# still works, but never a separator, a dot segment or an escape.
_ACTIVITY_ID = _ID
# One segment of a source name (`sources/github/OWNER/REPO`): GitHub's owner and
# repository characters.
_SOURCE_SEGMENT = re.compile(r"[0-9A-Za-z_.-]+")

_SESSION_HINT = (
    "give the session's id (letters, digits, - and _), e.g. 1234, sessions/1234 or "
    "https://jules.google.com/session/1234"
)
_SOURCE_HINT = "give owner/repo, github/owner/repo or sources/github/owner/repo"


def is_id(text: object) -> bool:
    """Is `text` an id of the API's alphabet (letters, digits, `-`, `_`), and nothing else?
    The one check for every id: arguments here, completion candidates (h16b) too."""
    return isinstance(text, str) and _ID.fullmatch(text) is not None


def session_id(value: str) -> str:
    """`1234`, `sessions/1234` or `https://jules.google.com/session/1234[/...][?...]`
    -> `1234`; anything else is a UsageError."""
    text = str(value).strip()
    url = _SESSION_URL.fullmatch(text)
    if url is not None:
        text = url.group(1)
    else:
        if text.startswith("sessions/"):
            text = text[len("sessions/") :]
        text = text.strip("/")
    if not is_id(text):
        raise UsageError(f"not a session id: {value!r}", _SESSION_HINT)
    return text


def activity_id(value: str) -> tuple[str | None, str]:
    """`abc`, or `sessions/1/activities/abc` -> (session id or None, activity id)."""
    text = str(value).strip().strip("/")
    owner: str | None = None
    parts = text.split("/")
    if len(parts) == 4 and parts[0] == "sessions" and parts[2] == "activities":
        owner = session_id(parts[1])
        text = parts[3]
    if not _ACTIVITY_ID.fullmatch(text):
        raise UsageError(
            f"not an activity id: {value!r}",
            "give the id from `jules activities list`, or sessions/ID/activities/ID",
        )
    return owner, text


def source_name(value: str) -> str:
    """`sources/github/o/r`, `github/o/r` or `o/r` -> `sources/github/o/r`.

    Only a candidate: callers confirm it exists by asking the API, since sources are
    never assumed to follow this shape.
    """
    text = str(value).strip().strip("/")
    parts = text.split("/")
    if not all(_SOURCE_SEGMENT.fullmatch(part) and part not in (".", "..") for part in parts):
        raise UsageError(f"not a source: {value!r}", _SOURCE_HINT)
    if parts[0] == "sources" and len(parts) >= 2:
        return text
    if len(parts) == 2:
        return f"sources/github/{text}"
    if len(parts) > 2:
        return f"sources/{text}"
    raise UsageError(f"not a source: {value!r}", _SOURCE_HINT)
