"""How the Jules API spells things on the wire: errors, times, ids and page tokens.

Stdlib only: the emulator must run wherever the CLI runs, with nothing extra installed.
"""

from __future__ import annotations

import base64
import binascii
import json
import random
import re
from datetime import datetime, timezone
from typing import Any

NANOS = 1_000_000_000

# Google's canonical status names for the HTTP codes the emulator can answer with.
STATUS_NAMES: dict[int, str] = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

DEFAULT_MESSAGES: dict[int, str] = {
    400: "Request contains an invalid argument.",
    401: "Request is missing required authentication credential.",
    403: "The caller does not have permission",
    404: "Requested entity was not found.",
    409: "The operation was aborted.",
    429: "Resource has been exhausted (e.g. check quota).",
    500: "Internal error encountered.",
    501: "Operation is not implemented, or supported, or enabled.",
    502: "The service is currently unavailable.",
    503: "The service is currently unavailable.",
    504: "The request timed out.",
}

NOT_FOUND_MESSAGE = DEFAULT_MESSAGES[404]
BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"
ERROR_INFO_TYPE = "type.googleapis.com/google.rpc.ErrorInfo"


class ApiFault(Exception):
    """An API error answered with the Google error envelope."""

    def __init__(
        self,
        code: int,
        message: str | None = None,
        *,
        status: str | None = None,
        details: list[dict[str, Any]] | None = None,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        self.code = code
        self.message = message or DEFAULT_MESSAGES.get(code, "Error.")
        self.status = status or STATUS_NAMES.get(code, "UNKNOWN")
        self.details = details or []
        self.headers = headers or []
        super().__init__(f"{self.code} {self.status}: {self.message}")

    def envelope(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message, "status": self.status}
        if self.details:
            error["details"] = self.details
        return {"error": error}


def not_found() -> ApiFault:
    return ApiFault(404, NOT_FOUND_MESSAGE)


def invalid_argument(message: str, field: str | None = None) -> ApiFault:
    details = []
    if field is not None:
        violation = {"field": field, "description": message}
        details.append({"@type": BAD_REQUEST_TYPE, "fieldViolations": [violation]})
    return ApiFault(400, message, details=details)


def failed_precondition(message: str = "Precondition check failed.") -> ApiFault:
    return ApiFault(400, message, status="FAILED_PRECONDITION")


def unauthenticated(reason: str, message: str, method: str) -> ApiFault:
    info = {
        "@type": ERROR_INFO_TYPE,
        "reason": reason,
        "domain": "googleapis.com",
        "metadata": {"service": "jules.googleapis.com", "method": method},
    }
    return ApiFault(401, message, details=[info])


# -- time ------------------------------------------------------------------------------

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))$"
)


def format_time(ns: int) -> str:
    """RFC 3339 in UTC with microseconds, or nanoseconds when the time has them."""
    seconds, rest = divmod(ns, NANOS)
    base = datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    if rest % 1000:
        return f"{base}.{rest:09d}Z"
    return f"{base}.{rest // 1000:06d}Z"


def parse_time(text: str) -> int:
    """RFC 3339 (0-9 fractional digits, Z or an offset) -> nanoseconds since the epoch."""
    match = _RFC3339.match(text.strip())
    if not match:
        raise ValueError(f"not an RFC 3339 timestamp: {text!r}")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction = match.group(7) or ""
    moment = datetime(year, month, day, hour, minute, second, tzinfo=timezone.utc)
    ns = int(moment.timestamp()) * NANOS + int(fraction.ljust(9, "0") or 0)
    if match.group(9):
        sign = 1 if match.group(9) == "+" else -1
        ns -= sign * (int(match.group(10)) * 3600 + int(match.group(11)) * 60) * NANOS
    return ns


def seconds_to_ns(seconds: float) -> int:
    """Whole microseconds, so every generated time prints exactly with 6 digits."""
    return round(seconds * 1_000_000) * 1000


# -- ids -------------------------------------------------------------------------------


def new_session_id(rng: random.Random) -> str:
    """A decimal uint64 of 19 or 20 digits, like `14550388554331055113`."""
    return str(rng.randint(10**18, 2**64 - 1))


def new_hex_id(rng: random.Random) -> str:
    """32 lowercase hex characters, the shape of activity, plan and step ids."""
    return f"{rng.getrandbits(128):032x}"


# -- page tokens -----------------------------------------------------------------------


def encode_page_token(cursor: Any) -> str:
    raw = json.dumps(cursor, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_token(token: str) -> Any:
    try:
        padded = token + "=" * (-len(token) % 4)
        return json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error) as exc:
        raise invalid_argument("Invalid page token.", "page_token") from exc
