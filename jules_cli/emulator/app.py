"""The emulator's WSGI app: the 12 API operations under /v1alpha/, a control plane under
/_emulator/ (no key needed) and fault injection for testing clients.

Serve it with jules_cli.emulator.server (threaded, loopback) or call it in-process
through httpx.WSGITransport.
"""

from __future__ import annotations

import fnmatch
import json
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs

from jules_cli.emulator.state import Emulator
from jules_cli.emulator.wire import (
    DEFAULT_MESSAGES,
    ApiFault,
    format_time,
    invalid_argument,
    unauthenticated,
)

API_PREFIX = "/v1alpha/"
CONTROL_PREFIX = "/_emulator"
SERVICE = "google.labs.jules.v1alpha.JulesService"
# Google's system parameters, accepted on every call (`fields` is accepted but ignored).
SYSTEM_PARAMS = frozenset({"key", "alt", "prettyPrint", "fields", "$.xgafv", "quotaUser"})
LIST_PARAMS = frozenset({"pageSize", "pageToken", "filter"})
MAX_LOGGED_REQUESTS = 10_000
MAX_BODY_BYTES = 10 * 1024 * 1024

MISSING_KEY_MESSAGE = (
    "Method doesn't allow unregistered callers (callers without established identity). "
    "Please use API Key or other form of API consumer identity to call this API."
)
# A wrong or revoked key was observed live to get the very answer a missing one gets,
# reason CREDENTIALS_MISSING and this (misleading) message (jules-api.md 7, 13).
BAD_KEY_MESSAGE = "API keys are not supported by this API"


class DropConnection(Exception):
    """Raised by the app to make the server close the connection without an answer
    (or in the middle of one, for a truncated body).

    Only the emulator's own server (server.py) turns this into a dropped connection,
    with a TCP reset when `reset` is true; in-process transports see the exception itself.
    """

    def __init__(self, message: str, *, reset: bool = False) -> None:
        super().__init__(message)
        self.reset = reset


@dataclass
class Fault:
    """One queued fault; see docs/emulator.md for the JSON spec."""

    status: int | None = None
    retry_after: float | str | None = None
    times: int | None = 1  # None: every matching request, forever
    method: str | None = None
    path: str | None = None
    delay: float = 0.0
    drop: bool = False
    reset: bool = False
    after: bool = False
    message: str | None = None
    status_name: str | None = None
    body: str | None = None
    content_type: str | None = None
    truncate: int | None = None
    probability: float = 1.0
    skip: int = 0  # let this many matching requests through first

    _KEYS = {
        "status": "status",
        "retryAfter": "retry_after",
        "times": "times",
        "method": "method",
        "path": "path",
        "delay": "delay",
        "drop": "drop",
        "reset": "reset",
        "after": "after",
        "message": "message",
        "statusName": "status_name",
        "body": "body",
        "contentType": "content_type",
        "truncate": "truncate",
        "probability": "probability",
        "skip": "skip",
    }

    @classmethod
    def from_spec(cls, spec: Any) -> Fault:
        if not isinstance(spec, dict):
            raise ValueError("a fault is a JSON object")
        unknown = set(spec) - set(cls._KEYS)
        if unknown:
            raise ValueError(f"unknown fault keys {sorted(unknown)}; known: {sorted(cls._KEYS)}")
        fault = cls(**{cls._KEYS[key]: value for key, value in spec.items()})
        fault._check()
        return fault

    def _check(self) -> None:
        if self.status is not None and (not _is_int(self.status) or not 400 <= self.status <= 599):
            raise ValueError("fault status must be an HTTP error code (400-599)")
        if self.times is not None and (not _is_int(self.times) or self.times < 1):
            raise ValueError("fault times must be a positive integer, or null for always")
        if not _is_number(self.delay) or self.delay < 0:
            raise ValueError("fault delay must be a number of seconds >= 0")
        if not _is_int(self.skip) or self.skip < 0:
            raise ValueError("fault skip must be a whole number of requests >= 0")
        if not _is_number(self.probability) or not 0 < self.probability <= 1:
            raise ValueError("fault probability must be above 0 and at most 1")
        for key in ("drop", "reset", "after"):
            if not isinstance(getattr(self, key), bool):
                raise ValueError(f"fault {key} must be true or false")
        for key, value in (("body", self.body), ("contentType", self.content_type)):
            if value is not None and not isinstance(value, str):
                raise ValueError(f"fault {key} must be a string")
        if self.content_type is not None and self.body is None:
            raise ValueError('"contentType" goes with "body"')
        if self.truncate is not None and (not _is_int(self.truncate) or self.truncate < 0):
            raise ValueError("fault truncate must be a number of bytes >= 0")
        if self.drops and (
            self.status is not None or self.body is not None or self.truncate is not None
        ):
            raise ValueError(
                "a fault either drops the connection or answers (status, body, truncate)"
            )
        if self.after and not self.drops:
            raise ValueError('"after" goes with "drop" or "reset": process, then drop')
        if (
            self.status is None
            and self.body is None
            and self.truncate is None
            and not self.drops
            and not self.delay
        ):
            raise ValueError("a fault needs a status, body, truncate, drop, reset or delay")
        if self.method is not None:
            self.method = str(self.method).upper()
        if self.path is not None:
            self.path = _relative_path(str(self.path))

    @property
    def drops(self) -> bool:
        """Closes the connection without answering (cleanly, or with a reset)."""
        return self.drop or self.reset

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method != method:
            return False
        return self.path is None or fnmatch.fnmatchcase(path, self.path)

    def to_spec(self) -> dict[str, Any]:
        return {
            key: getattr(self, attr)
            for key, attr in self._KEYS.items()
            if getattr(self, attr) is not None
            and getattr(self, attr) is not False
            and not (key == "delay" and not self.delay)
            and not (key == "skip" and not self.skip)
        }

    def response(self) -> tuple[int, list[tuple[str, str]], bytes]:
        assert self.status is not None
        headers = []
        if self.retry_after is not None:
            value = self.retry_after
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                value = f"{value:g}"
            headers.append(("Retry-After", str(value)))
        if self.body is not None:
            return self.status, [*headers, self.body_content_type()], self.body.encode()
        fault = ApiFault(self.status, self.message, status=self.status_name)
        return self.status, [*headers, _JSON_TYPE], _dump(fault.envelope())

    def body_content_type(self) -> tuple[str, str]:
        return ("Content-Type", self.content_type or "text/html; charset=UTF-8")

    def replace_body(
        self, headers: list[tuple[str, str]], body: bytes
    ) -> tuple[list[tuple[str, str]], bytes]:
        """The real answer's headers and body with this fault's `body` in its place."""
        if self.body is None:
            return headers, body
        kept = [header for header in headers if header[0].lower() != "content-type"]
        return [*kept, self.body_content_type()], self.body.encode()


_JSON_TYPE = ("Content-Type", "application/json; charset=UTF-8")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _relative_path(path: str) -> str:
    path = path.strip()
    if path.startswith(API_PREFIX):
        return path[len(API_PREFIX) :]
    return path.lstrip("/")


def _dump(data: Any, pretty: bool = True) -> bytes:
    text = json.dumps(data, indent=2 if pretty else None, ensure_ascii=False)
    return (text + "\n").encode()


@dataclass
class Route:
    method: str
    pattern: re.Pattern[str]
    rpc: str
    params: frozenset[str]
    call: Callable[[Emulator, re.Match[str], dict[str, Any], Any], dict[str, Any]]


def _list_args(params: dict[str, Any]) -> dict[str, Any]:
    return {
        "page_size": params.get("pageSize"),
        "page_token": params.get("pageToken"),
        "filter": params.get("filter"),
    }


def _session_page_text(emulator: Emulator, params: dict[str, Any]) -> _Text:
    # The one list a big emulator serves page after page: rendered from cached text.
    args = _list_args(params)
    return _Text(lambda pretty: emulator.list_sessions_json(**args, pretty=pretty))


_SESSION = r"sessions/([^/:]+)"
ROUTES = [
    Route("GET", re.compile(r"sources"), "ListSources", LIST_PARAMS,
          lambda e, m, p, b: e.list_sources(**_list_args(p))),
    Route("GET", re.compile(r"(sources/.+)"), "GetSource", frozenset(),
          lambda e, m, p, b: e.get_source(m[1])),
    Route("GET", re.compile(r"sessions"), "ListSessions", LIST_PARAMS,
          lambda e, m, p, b: _session_page_text(e, p)),
    Route("POST", re.compile(r"sessions"), "CreateSession", frozenset(),
          lambda e, m, p, b: e.create_session(b if b is not None else {})),
    Route("GET", re.compile(_SESSION), "GetSession", frozenset(),
          lambda e, m, p, b: e.get_session(m[1])),
    Route("DELETE", re.compile(_SESSION), "DeleteSession", frozenset(),
          lambda e, m, p, b: e.delete_session(m[1])),
    Route("POST", re.compile(_SESSION + ":sendMessage"), "SendMessage", frozenset(),
          lambda e, m, p, b: e.send_message(m[1], b if b is not None else {})),
    Route("POST", re.compile(_SESSION + ":approvePlan"), "ApprovePlan", frozenset(),
          lambda e, m, p, b: e.approve_plan(m[1], b)),
    Route("POST", re.compile(_SESSION + ":archive"), "ArchiveSession", frozenset(),
          lambda e, m, p, b: e.archive_session(m[1], b)),
    Route("POST", re.compile(_SESSION + ":unarchive"), "UnarchiveSession", frozenset(),
          lambda e, m, p, b: e.unarchive_session(m[1], b)),
    Route("GET", re.compile(_SESSION + "/activities"), "ListActivities", LIST_PARAMS,
          lambda e, m, p, b: e.list_activities(m[1], **_list_args(p))),
    Route("GET", re.compile(_SESSION + r"/activities/([^/:]+)"), "GetActivity", frozenset(),
          lambda e, m, p, b: e.get_activity(m[1], m[2])),
]  # fmt: skip


class EmulatorApp:
    """The WSGI callable. `require_key=False` accepts requests with no key at all (the
    CLI's in-process --emulator mode); `sleep` serves delay faults."""

    def __init__(
        self,
        emulator: Emulator,
        *,
        require_key: bool = True,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        freeze_gc: bool = False,
    ) -> None:
        self.emulator = emulator
        # In a server process of its own: after a bulk seed, move what exists out of the
        # cyclic collector's sight (gc.freeze), so that full collections do not walk
        # 100,000 sessions again and again while requests are served.
        self._freeze_gc = freeze_gc
        self.require_key = require_key
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._requests: list[dict[str, Any]] = []
        self._faults: list[Fault] = []
        self._in_flight = 0

    # -- the parts tests drive directly -------------------------------------------------

    def requests(self) -> list[dict[str, Any]]:
        """API requests received so far, oldest first (the control plane's are not kept)."""
        with self._lock:
            return json.loads(json.dumps(self._requests))

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def in_flight(self) -> int:
        """API requests being handled right now (e.g. held by a delay fault): they are
        logged, and their work done, only when they finish."""
        with self._lock:
            return self._in_flight

    def add_faults(self, specs: Iterable[dict[str, Any]] | dict[str, Any]) -> int:
        """Queue faults (ValueError if a spec is wrong); returns how many are queued."""
        if isinstance(specs, dict):
            specs = [specs]
        faults = [Fault.from_spec(spec) for spec in specs]
        with self._lock:
            self._faults.extend(faults)
            return len(self._faults)

    def faults(self) -> list[dict[str, Any]]:
        with self._lock:
            return [fault.to_spec() for fault in self._faults]

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def reset(self) -> None:
        """Fresh state (seeded sources and sessions only), no request log, no faults."""
        self.emulator.reset()
        with self._lock:
            self._requests.clear()
            self._faults.clear()

    # -- WSGI -------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        path = environ.get("PATH_INFO") or "/"
        if path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/"):
            status, headers, body = self._control(method, path, environ)
            return _respond(start_response, status, headers, body)

        with self._lock:
            self._in_flight += 1
        try:
            return self._serve_api(method, path, environ, start_response)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _serve_api(
        self, method: str, path: str, environ: dict[str, Any], start_response: Callable
    ) -> Iterable[bytes]:
        raw_body = _read_body(environ)
        query = parse_qs(environ.get("QUERY_STRING") or "", keep_blank_values=True)
        key = environ.get("HTTP_X_GOOG_API_KEY")
        entry: dict[str, Any] = {
            "method": method,
            "path": path,
            "query": {k: v[0] if len(v) == 1 else v for k, v in query.items()},
            "body": _loggable_body(raw_body),
            "apiKeyPresent": key is not None,
            "apiKey": key,
            "time": format_time(self.emulator.now_ns()),
        }
        fault = self._take_fault(method, _relative_path(path))
        if fault is not None and fault.delay:
            self._sleep(float(fault.delay))
        if fault is not None and fault.drops and not fault.after:
            self._log({**entry, "status": None, "dropped": True})
            raise DropConnection(
                f"fault: dropped {method} {path} before processing", reset=fault.reset
            )
        if fault is not None and fault.status is not None:
            status, headers, body = fault.response()
        else:
            status, headers, body = self._api(method, path, query, raw_body, key)
            if fault is not None:
                # A proxy that mangles the real answer: the request was processed.
                headers, body = fault.replace_body(headers, body)
        if fault is not None and fault.drops:
            self._log({**entry, "status": status, "dropped": True})
            raise DropConnection(
                f"fault: dropped {method} {path} after processing", reset=fault.reset
            )
        if fault is not None and fault.truncate is not None:
            self._log({**entry, "status": status, "truncated": True})
            return _respond_truncated(start_response, status, headers, body, fault.truncate)
        self._log({**entry, "status": status})
        return _respond(start_response, status, headers, body)

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if not fault.matches(method, path):
                    continue
                if fault.skip > 0:
                    fault.skip -= 1  # this one passes, and no later fault applies to it
                    return None
                if fault.probability < 1 and self._rng.random() >= fault.probability:
                    return None
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                return fault
        return None

    def _log(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._requests.append(entry)
            del self._requests[:-MAX_LOGGED_REQUESTS]

    def _api(
        self, method: str, path: str, query: dict[str, list[str]], raw_body: bytes, key: str | None
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        pretty = (query.get("prettyPrint") or ["true"])[0].lower() != "false"
        try:
            route, match = _route(method, path)
            self._check_key(key, query, route.rpc)
            params = _params(query, route.params)
            body = _json_body(raw_body) if method == "POST" else None
            result = route.call(self.emulator, match, params, body)
            if isinstance(result, _Text):
                return 200, [_JSON_TYPE], (result.render(pretty) + "\n").encode()
            return 200, [_JSON_TYPE], _dump(result, pretty)
        except ApiFault as fault:
            return fault.code, [*fault.headers, _JSON_TYPE], _dump(fault.envelope(), pretty)
        except Exception as exc:  # an emulator bug must still answer like a server
            fault = ApiFault(500, f"Internal error encountered ({type(exc).__name__}: {exc}).")
            return 500, [_JSON_TYPE], _dump(fault.envelope(), pretty)

    def _check_key(self, key: str | None, query: dict[str, list[str]], rpc: str) -> None:
        if key is None and "key" in query:
            key = query["key"][0]
        if not self.require_key:
            return
        method = f"{SERVICE}.{rpc}"
        if not key:
            raise unauthenticated("CREDENTIALS_MISSING", MISSING_KEY_MESSAGE, method)
        expected = self.emulator.api_key
        if expected is not None and key != expected:
            raise unauthenticated("CREDENTIALS_MISSING", BAD_KEY_MESSAGE, method)

    # -- the control plane --------------------------------------------------------------

    def _control(
        self, method: str, path: str, environ: dict[str, Any]
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        action = path[len(CONTROL_PREFIX) :].strip("/")
        try:
            body = _json_body(_read_body(environ)) if method in ("POST", "PUT") else None
            result = self._control_action(method, action, body)
            if isinstance(result, _Raw):
                return 200, [_JSON_TYPE], result.text.encode() + b"\n"
            return 200, [_JSON_TYPE], _dump(result)
        except ApiFault as fault:
            return fault.code, [_JSON_TYPE], _dump(fault.envelope())
        except ValueError as exc:
            return 400, [_JSON_TYPE], _dump(invalid_argument(str(exc)).envelope())

    def _control_action(self, method: str, action: str, body: Any) -> Any:
        emulator = self.emulator
        if (method, action) == ("GET", ""):
            return {
                "speed": emulator.speed,
                "now": emulator.now(),
                "apiKeyRequired": self.require_key,
                "apiKey": "(any non-empty key)" if emulator.api_key is None else "(fixed)",
                "bashOutput": emulator.bash_output,
                "faultsQueued": len(self.faults()),
                "requestsLogged": len(self.requests()),
                "requestsInFlight": self.in_flight(),
            }
        if (method, action) == ("GET", "requests"):
            return self.requests()
        if (method, action) == ("DELETE", "requests"):
            self.clear_requests()
            return {}
        if (method, action) == ("GET", "faults"):
            return self.faults()
        if (method, action) == ("POST", "faults"):
            return {"queued": self.add_faults(body if body is not None else [])}
        if (method, action) == ("DELETE", "faults"):
            self.clear_faults()
            return {}
        if (method, action) == ("POST", "reset"):
            self.reset()
            return {}
        if (method, action) == ("POST", "advance"):
            seconds = (body or {}).get("seconds") if isinstance(body, dict) else None
            if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds < 0:
                raise ValueError('give {"seconds": N} with N >= 0 simulated seconds')
            emulator.advance(float(seconds))
            return {"now": emulator.now()}
        if (method, action) == ("POST", "settle"):
            emulator.settle()
            return {"now": emulator.now()}
        if (method, action) == ("POST", "sources"):
            return emulator.add_source(body)
        if (method, action) == ("POST", "bulk"):
            made = emulator.bulk_seed(body)
            if self._freeze_gc:
                import gc

                gc.collect()
                gc.freeze()
            return made
        if (method, action) == ("GET", "state"):
            return _Raw(emulator.state_json())
        raise ApiFault(404, f"No emulator control endpoint {method} {CONTROL_PREFIX}/{action}")


@dataclass
class _Text:
    """An API answer the emulator renders as JSON text itself (pretty or compact)."""

    render: Callable[[bool], str]


@dataclass
class _Raw:
    """A control-plane answer already dumped as JSON (under the emulator's lock)."""

    text: str


def make_app(
    emulator: Emulator,
    *,
    require_key: bool = True,
    sleep: Callable[[float], None] = time.sleep,
) -> EmulatorApp:
    """The WSGI app serving `emulator` under /v1alpha/ plus the /_emulator/ control plane."""
    return EmulatorApp(emulator, require_key=require_key, sleep=sleep)


def _route(method: str, path: str) -> tuple[Route, re.Match[str]]:
    if path.startswith(API_PREFIX):
        relative = path[len(API_PREFIX) :]
        for route in ROUTES:
            match = route.pattern.fullmatch(relative)
            if match and route.method == method:
                return route, match
    raise ApiFault(404, f"The requested URL {path} was not found on this server.")


def _params(query: dict[str, list[str]], allowed: frozenset[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for name, values in query.items():
        if name in SYSTEM_PARAMS:
            continue
        if name not in allowed:
            raise invalid_argument(
                f'Invalid JSON payload received. Unknown name "{name}": Cannot bind query '
                f"parameter. Field '{name}' could not be found in request message.",
            )
        params[name] = values[0]
    if "pageSize" in params:
        try:
            params["pageSize"] = int(params["pageSize"])
        except ValueError:
            raise invalid_argument(
                f"Invalid value at 'page_size' (TYPE_INT32), {json.dumps(params['pageSize'])}",
                "page_size",
            ) from None
    return params


def _read_body(environ: dict[str, Any]) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length <= 0:
        return b""
    return environ["wsgi.input"].read(min(length, MAX_BODY_BYTES))


def _json_body(raw: bytes) -> Any:
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise invalid_argument(
            "Invalid JSON payload received. Unexpected token in the request body."
        ) from None


def _loggable_body(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return raw.decode("utf-8", "replace")


def _status_line(status: int) -> str:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = DEFAULT_MESSAGES.get(status, "Error")
    return f"{status} {phrase}"


def _respond(
    start_response: Callable, status: int, headers: list[tuple[str, str]], body: bytes
) -> list[bytes]:
    start_response(_status_line(status), [*headers, ("Content-Length", str(len(body)))])
    return [body]


def _respond_truncated(
    start_response: Callable,
    status: int,
    headers: list[tuple[str, str]],
    body: bytes,
    keep: int,
) -> Iterator[bytes]:
    """Promise the whole body in Content-Length, send at most `keep` bytes of it (always
    fewer than promised), then drop the connection."""
    start_response(_status_line(status), [*headers, ("Content-Length", str(len(body)))])
    sent = body[: max(min(keep, len(body) - 1), 0)]

    def chunks() -> Iterator[bytes]:
        yield sent
        raise DropConnection(f"fault: answer cut after {len(sent)} of {len(body)} bytes")

    return chunks()
