"""JulesClient: one httpx.Client for all 12 operations of the Jules REST API.

Objects stay plain dicts exactly as the API sent them, so fields this version does not
know survive to `--json`. Every failure leaves here as a JulesError subclass; callers
never see an httpx exception.
"""

from __future__ import annotations

import contextlib
import contextvars
import email.utils
import html
import ipaddress
import itertools
import json
import math
import os
import platform
import random
import re
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote, urlsplit

import httpcore
import httpx

from jules_cli import __version__
from jules_cli.api import names
from jules_cli.errors import (
    ApiError,
    AuthError,
    BadRequest,
    NotFound,
    RateLimited,
    Unavailable,
    UsageError,
    register_secret,
)
from jules_cli.times import parse_time

if TYPE_CHECKING:
    from jules_cli.pacing import Pacer

DEFAULT_API_URL = "https://jules.googleapis.com/v1alpha"
USER_AGENT = f"julesctl/{__version__} (python {platform.python_version()}; {platform.system()})"
MAX_PAGE_SIZE = 100

# Per-request limits. Reads of big sessions (patches, base64 media) can be slow to
# arrive, so the read timeout is generous; connecting is not. Besides the idle limits,
# every request has a deadline for the whole of it (DEFAULT_REQUEST_SECONDS): a server
# that sends a byte a second never times out a read, but it does run out of time.
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_REQUEST_SECONDS = 120.0

# The most an answer may hold once decoded (gunzipped): more is no API answer but a
# broken or hostile server, and reading it would exhaust memory (a 1 MB gzip body can
# hold gigabytes). Decompression stops there; the request fails with exit 7.
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
MAX_RESPONSE_TEXT = "64 MB"
# Only what can be decoded with a bound on the output is asked for (httpx would also
# offer br and zstd when those packages happen to be installed).
ACCEPT_ENCODING = "gzip, deflate"

# Paging: a token the server already sent means the pages go round in a circle; a long
# run of empty pages that still carry a token, that they never end.
MAX_EMPTY_PAGES = 10

# JULES_HTTP_TIMEOUT: seconds one HTTP request may take in all (connecting at most 10 of
# them), e.g. to fail fast in CI. JULES_RETRY_DELAY_SCALE: multiplies every pause between
# retries, the server's Retry-After included; meant for tests (0.01 keeps the retry
# budget but not the waiting).
TIMEOUT_ENV = "JULES_HTTP_TIMEOUT"
RETRY_SCALE_ENV = "JULES_RETRY_DELAY_SCALE"

# How long after its creation a session's activities may still answer 404 (the API is
# eventually consistent there), and how long we keep retrying that 404.
FRESH_SESSION_SECONDS = 120.0
FRESH_404_RETRY_SECONDS = 20.0


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5  # total tries, the first included
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0
    jitter: float = 0.25  # fraction of the delay added at random
    scale: float = 1.0  # multiplies every pause (tests make it tiny)

    @classmethod
    def from_env(cls) -> RetryPolicy:
        """The default policy, with JULES_RETRY_DELAY_SCALE applied when set."""
        scale = _env_seconds(RETRY_SCALE_ENV, allow_zero=True)
        return cls() if scale is None else cls(scale=scale)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before try number `attempt + 1` (attempt counts from 1)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after) * self.scale
        delay = min(self.base_delay * (2 ** (attempt - 1)), self.max_delay)
        return (delay + random.uniform(0, delay * self.jitter)) * self.scale


def timeout_from_env() -> httpx.Timeout:
    """DEFAULT_TIMEOUT, or JULES_HTTP_TIMEOUT seconds per request when that is set."""
    seconds = _env_seconds(TIMEOUT_ENV, allow_zero=False)
    if seconds is None:
        return DEFAULT_TIMEOUT
    return httpx.Timeout(seconds, connect=min(seconds, DEFAULT_CONNECT_TIMEOUT))


def request_seconds_from_env() -> float:
    """The deadline of one whole request: JULES_HTTP_TIMEOUT, else DEFAULT_REQUEST_SECONDS."""
    seconds = _env_seconds(TIMEOUT_ENV, allow_zero=False)
    return DEFAULT_REQUEST_SECONDS if seconds is None else seconds


def _env_seconds(name: str, *, allow_zero: bool) -> float | None:
    text = os.environ.get(name, "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        least = "0 or more" if allow_zero else "above 0"
        raise UsageError(f"invalid {name}: {text!r}", f"use a number {least}, e.g. 30")
    return value


# Which failures a request may be retried on. A retry must never duplicate work: a
# create or a message that may have reached the server is not sent again.
IDEMPOTENT = "idempotent"  # GET, DELETE, archive: retry 429, 5xx, any transport error
UNSAFE = "unsafe"  # create, sendMessage, approvePlan: retry 429 and connect errors only

# The hint of an unsafe call that failed after it may have reached the server, when the
# caller has no more specific one.
MAYBE_DONE_HINT = (
    "the request may have reached the service before it failed: check its effect "
    "before repeating it"
)


def is_loopback(host: str | None) -> bool:
    """A literal loopback address (127.0.0.0/8, ::1), or `localhost` itself. Any other
    name (`api.localhost` included) goes through DNS and may come back as anything; even
    `localhost` is checked again on the address actually connected to (_GuardedBackend)."""
    if not host:
        return False
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _is_loopback_address(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%")[0]).is_loopback
    except ValueError:
        return False


def check_api_url(url: str) -> str:
    """Validate the base URL; the key never travels over plain http except to loopback."""
    invalid = UsageError(
        f"invalid API URL: {url!r}",
        "give a full URL such as https://jules.googleapis.com/v1alpha",
    )
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is no number or too big
        httpx.URL(url)
    except (ValueError, httpx.InvalidURL):
        raise invalid from None
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or any(char.isspace() or ord(char) < 32 for char in parts.netloc)
    ):
        raise invalid
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise UsageError(
            f"refusing to send the API key over plain http to {parts.hostname}",
            "use https, or a loopback address (127.0.0.1, localhost) for the emulator",
        )
    return url.rstrip("/")


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


_STATUS_CLASSES: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: AuthError,
    403: AuthError,
    404: NotFound,
    429: RateLimited,
}

_HINTS: dict[type[ApiError], str] = {
    NotFound: "check the id or name with `jules session list` or `jules sources list`",
    AuthError: "check the key with `jules auth status`, or store a new one with `jules auth login`",
    RateLimited: "wait a little and try again (the API allows a limited number of tasks a day)",
    Unavailable: "the service may be down or unreachable; try again later, or check --api-url",
}


def error_from_response(response: httpx.Response) -> ApiError:
    """Build the typed error for a failed response, from the Google error envelope if any."""
    status_code = response.status_code
    message = status_name = None
    details: list[Any] = []
    try:
        body = _loads(response.content)
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        envelope = body["error"]
        message = envelope.get("message") or None
        if isinstance(message, str):
            # The error is one line on stderr: a message that spans lines is folded.
            message = " ".join(message.split()) or None
        status_name = envelope.get("status") or None
        details = envelope.get("details") or []
    if message is None:
        message = f"HTTP {status_code} {response.reason_phrase}".strip()
        summary = describe_body(response)
        if summary:
            message += f": {summary}"
    cls = _STATUS_CLASSES.get(status_code)
    if cls is None:
        cls = Unavailable if status_code >= 500 else BadRequest
    request = response.request
    label = f"{status_name} ({status_code})" if status_name else f"HTTP {status_code}"
    return cls(
        f"{label}: {message}",
        http_status=status_code,
        status=status_name,
        details=details,
        method=request.method if request else None,
        url=str(request.url) if request else None,
        hint=_HINTS.get(cls),
    )


_TITLE = re.compile(r"<title[^>]*>(.*?)</title\s*>|<h1[^>]*>(.*?)</h1\s*>", re.I | re.S)
_INVISIBLE = re.compile(r"<(script|style|head)[^>]*>.*?</\1\s*>", re.I | re.S)
_TAG = re.compile(r"<[^>]*>")
MAX_SNIPPET = 100


def describe_body(response: httpx.Response) -> str:
    """A few words on a body that is not the API's JSON, never the whole of it: an HTML
    page (from a proxy, a captive portal, a wrong --api-url) by its title."""
    if not response.content:
        return ""
    text = response.text
    content_type = response.headers.get("Content-Type", "").lower()
    if "html" in content_type or text.lstrip()[:1] == "<":
        match = _TITLE.search(text)
        words = match[1] or match[2] if match else _INVISIBLE.sub(" ", text)
        title = _shorten(" ".join(html.unescape(_TAG.sub(" ", words)).split()))
        page = f'an HTML page "{title}"' if title else "an HTML page"
        return f"{page} (from a proxy or gateway in between?)"
    snippet = _shorten(" ".join(text.split()))
    return f'"{snippet}"' if snippet else ""


def _shorten(text: str) -> str:
    return text if len(text) <= MAX_SNIPPET else text[: MAX_SNIPPET - 3].rstrip() + "..."


# -- deadlines and the address connected to, enforced on the socket ---------------------

# When the request being sent must be done by (time.monotonic()), or None. Every socket
# operation of that request (connect, TLS, each read and write) gets at most the time
# left, so no server can stretch a request past it, however it trickles its bytes.
_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "jules_request_deadline", default=None
)


def _time_left(timeout: float | None, expired: type[Exception]) -> float | None:
    deadline = _deadline.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise expired("the request's time ran out")
    return left if timeout is None else min(timeout, left)


class NotLoopback(httpcore.ConnectError):
    """`localhost` resolved to an address that is not loopback: no byte was sent."""


class _GuardedStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _time_left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _time_left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None):
        inner = self._inner.start_tls(
            ssl_context, server_hostname, _time_left(timeout, httpcore.ConnectTimeout)
        )
        return _GuardedStream(inner)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _GuardedBackend(httpcore.NetworkBackend):
    """httpcore's network backend, with the request deadline on every socket operation
    and, for plain http (`loopback_only`), a check that the peer really is loopback,
    made after connecting and before the request (and its key) is written."""

    def __init__(self, inner: httpcore.NetworkBackend, *, loopback_only: bool) -> None:
        self._inner = inner
        self._loopback_only = loopback_only

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        stream = self._inner.connect_tcp(
            host,
            port,
            timeout=_time_left(timeout, httpcore.ConnectTimeout),
            local_address=local_address,
            socket_options=socket_options,
        )
        if self._loopback_only:
            peer = stream.get_extra_info("server_addr")
            address = str(peer[0]) if isinstance(peer, tuple) and peer else ""
            if not _is_loopback_address(address):
                stream.close()
                raise NotLoopback(f"{host} is {address or 'an unknown address'}, not loopback")
        return _GuardedStream(stream)

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        stream = self._inner.connect_unix_socket(
            path,
            timeout=_time_left(timeout, httpcore.ConnectTimeout),
            socket_options=socket_options,
        )
        return _GuardedStream(stream)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def _guard_transports(client: httpx.Client, *, loopback_only: bool) -> None:
    """Put _GuardedBackend under every real network transport of `client` (the default
    one and those for proxies). httpx takes no backend, so its pools' is replaced before
    any connection exists; tests/test_hostile_server.py proves it is in place."""
    for transport in (client._transport, *client._mounts.values()):
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if backend is not None and not isinstance(backend, _GuardedBackend):
            pool._network_backend = _GuardedBackend(backend, loopback_only=loopback_only)


# -- reading an answer, with a bound -------------------------------------------------------


class TooLarge(Exception):
    """The answer holds (or would decompress to) more than MAX_RESPONSE_BYTES."""

    def error(self, method: str, url: str) -> Unavailable:
        error = Unavailable(
            f"the answer is larger than {MAX_RESPONSE_TEXT}: refused (no API answer is that big)",
            method=method,
            url=url,
            hint="the service, or something in between, sent a broken answer",
        )
        error.not_retriable = True  # type: ignore[attr-defined]  # it would come again
        return error


class _BoundedDecoder:
    """Content-Encoding undone chunk by chunk, never producing more than asked for: a
    gzip bomb is refused at the limit instead of being expanded into memory."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        if encoding in ("", "identity"):
            self._zlib = None
        elif encoding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._zlib = zlib.decompressobj()
            self._raw_deflate_tried = False
        else:
            raise ValueError(f"it is encoded as {encoding!r}, which was not asked for")

    def feed(self, data: bytes, room: int) -> bytes:
        """The decoded bytes of `data`; TooLarge when they are more than `room`."""
        if self._zlib is None:
            out = data
        else:
            try:
                out = self._zlib.decompress(data, room + 1)
            except zlib.error:
                if self.encoding != "deflate" or self._raw_deflate_tried:
                    raise ValueError("its compressed data is corrupt") from None
                # Some servers send raw deflate without the zlib header (httpx does this too).
                self._raw_deflate_tried = True
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
                return self.feed(data, room)
        if len(out) > room:
            raise TooLarge()
        return out


def _loads(data: bytes) -> Any:
    """json.loads, with nesting too deep for Python (a RecursionError) as a ValueError."""
    try:
        return json.loads(data)
    except RecursionError:
        raise ValueError("nested too deeply") from None


class _BadBody(Exception):
    """An answer whose body cannot be decoded (an encoding not asked for, corrupt gzip)."""

    def __init__(self, why: str, status: int) -> None:
        super().__init__(f"the answer ({status}) cannot be read: {why}")
        self.status = status

    def error(self, method: str, url: str) -> Unavailable:
        return Unavailable(str(self), method=method, url=url, hint=_HINTS[Unavailable])


def _paging_error(path: str, why: str) -> Unavailable:
    return Unavailable(
        f"{path}: paging stopped: {why}",
        hint="the service sent a broken list; try again later, or use --limit",
    )


class AlreadyGone(dict):
    """The (empty) answer of a DELETE whose retry found the resource gone: an earlier
    try deleted it, but its answer was lost on the way."""

    already_gone = True


class RequestProgress(Protocol):
    """What a JulesClient tells about its calls (all in the calling thread)."""

    def request_started(self, method: str, url: str) -> None: ...

    def request_ended(self) -> None: ...

    def retrying(self, delay: float, attempt: int, attempts: int, error: ApiError) -> None:
        """A pause of `delay` s before try `attempt` of `attempts`, after `error`."""


class JulesClient:
    """A thin client for the Jules REST API.

    `transport` is the test seam (httpx.MockTransport, httpx.WSGITransport); `sleep` and
    `clock` let retry timing be tested without waiting (`monotonic` measures deadlines);
    `trace` receives one line per HTTP call for --debug, with the key already redacted.
    `progress` (RequestProgress) hears when a request starts and ends and when a retry
    waits, so a front-end can show a sign of life on slow calls; this layer draws nothing
    itself. Without `timeout` and `retry` the defaults apply, adjusted by JULES_HTTP_TIMEOUT and
    JULES_RETRY_DELAY_SCALE. `request_seconds` bounds each whole request (default: the
    JULES_HTTP_TIMEOUT, else DEFAULT_REQUEST_SECONDS); `time_limit()` bounds a run of
    requests, their retries and pauses included (`wait --timeout`).
    """

    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_API_URL,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout | float | None = None,
        retry: RetryPolicy | None = None,
        trace: Callable[[str], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        request_seconds: float | None = None,
        progress: RequestProgress | None = None,
    ) -> None:
        if not api_key:
            raise UsageError("empty API key")
        # Whatever the server echoes back, nothing jules writes may repeat the key.
        register_secret(api_key)
        self.base_url = check_api_url(base_url)
        self._key = api_key
        self.retry = retry or RetryPolicy.from_env()
        if request_seconds is None:
            if isinstance(timeout, (int, float)):
                request_seconds = float(timeout)
            else:
                request_seconds = request_seconds_from_env()
        self._request_seconds = request_seconds
        if timeout is None:
            timeout = timeout_from_env()
        self._timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self._trace = trace
        self._sleep = sleep
        self._clock = clock
        self._monotonic = monotonic
        self._progress = progress
        # time_limit()'s deadline, one per thread: the MCP server runs its tools in
        # worker threads over this one client, and one wait's limit must neither cut
        # another call short nor be undone by it.
        self._limits = threading.local()
        plain_http = urlsplit(self.base_url).scheme == "http"  # check_api_url: loopback only
        try:
            self._http = httpx.Client(
                transport=transport,
                timeout=timeout,
                # No proxy from the environment for a loopback URL: an HTTP_PROXY would
                # carry the key in plain http off this machine, and could not reach our
                # loopback.
                trust_env=not is_loopback(urlsplit(self.base_url).hostname),
                # Plain http to loopback makes no TLS connection (and redirects are not
                # followed), so loading the CA bundle, a third of a run against the
                # emulator, is skipped. https is always verified.
                verify=not plain_http,
                headers={
                    "X-Goog-Api-Key": api_key,
                    "User-Agent": USER_AGENT,
                    "Accept": "application/json",
                    "Accept-Encoding": ACCEPT_ENCODING,
                },
            )
        except (ValueError, ImportError, httpx.InvalidURL) as exc:
            # httpx reads the proxy variables here: a malformed one is bad input.
            raise UsageError(
                f"invalid proxy setting: {exc}",
                "check HTTPS_PROXY, HTTP_PROXY and ALL_PROXY (or unset them)",
            ) from None
        _guard_transports(self._http, loopback_only=plain_http)

    # -- plumbing ---------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> JulesClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def _redact(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key else text

    @property
    def _deadline(self) -> float | None:
        return getattr(self._limits, "deadline", None)

    @_deadline.setter
    def _deadline(self, value: float | None) -> None:
        self._limits.deadline = value

    def _log(self, line: str) -> None:
        if self._trace is not None:
            self._trace(self._redact(line))

    @contextlib.contextmanager
    def time_limit(self, seconds: float | None) -> Iterator[None]:
        """Within the block, every request, retry and pause between retries ends by
        `seconds` from now: a retry whose pause would pass that point is not made (the
        last error is raised), and a request still running then is cut off."""
        if seconds is None:
            yield
            return
        previous = self._deadline
        deadline = self._monotonic() + seconds
        self._deadline = deadline if previous is None else min(previous, deadline)
        try:
            yield
        finally:
            self._deadline = previous

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        safety: str | None = None,
        maybe_done_hint: str | None = None,
        pacer: Pacer | None = None,
    ) -> Any:
        """Send one API call with retries; return the decoded JSON body ({} when empty).

        An UNSAFE call that fails once it may have reached the server is not retried; its
        error then carries `maybe_done_hint` (how to check whether it took effect).
        With `pacer` (jules_cli.pacing), every attempt first waits for its turn there.
        """
        answer, _size = self._request(
            method,
            path,
            params=params,
            body=body,
            safety=safety,
            maybe_done_hint=maybe_done_hint,
            pacer=pacer,
        )
        return answer

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        safety: str | None = None,
        maybe_done_hint: str | None = None,
        gone_means_done: bool = False,
        pacer: Pacer | None = None,
    ) -> tuple[Any, int]:
        """`request`, returning the answer and its decoded size in bytes.

        `gone_means_done` (DELETE): a 404 on a retry, after a try whose answer was lost
        (time-out, reset, cut short), means that try did the work: AlreadyGone()."""
        method = method.upper()
        if safety is None:
            safety = IDEMPOTENT if method in ("GET", "HEAD", "DELETE") else UNSAFE
        params = {k: v for k, v in (params or {}).items() if v is not None}
        url = self._url(path)
        attempt = 0
        answer_lost = False
        while True:
            attempt += 1
            if pacer is not None:
                pacer.acquire()
            error, answer, size = self._attempt(method, url, params, body, safety)
            if error is None:
                return answer, size
            if gone_means_done and answer_lost and isinstance(error, NotFound):
                self._log(f"{method} {url}: gone, so the earlier try whose answer was lost did it")
                return AlreadyGone(), 0
            if isinstance(error, Unavailable) and error.http_status is None:
                answer_lost = answer_lost or not getattr(error, "never_sent", False)
            retriable, wait_hint = retry_after_for(error, safety)
            if not retriable or attempt >= self.retry.attempts:
                raise self._final_error(error, path, attempt, safety, maybe_done_hint)
            delay = self.retry.delay(attempt, wait_hint)
            if self._deadline is not None and self._monotonic() + delay >= self._deadline:
                # The pause would outlast the time limit: the outage is the answer.
                raise self._final_error(error, path, attempt, safety, maybe_done_hint)
            self._log(f"retrying in {delay:.1f}s after: {error}")
            if self._progress is not None:
                self._progress.retrying(delay, attempt + 1, self.retry.attempts, error)
            self._sleep(delay)

    def _final_error(
        self, error: ApiError, path: str, tries: int, safety: str, maybe_done_hint: str | None
    ) -> ApiError:
        if error.http_status is not None:
            # Name the resource: "Requested entity was not found." alone does not say
            # which of the ids on the command line it was.
            error.message = f"{path.split('?')[0]}: {error.message}"
        if tries > 1:
            error.message += f" (tried {tries} times)"
        if (
            safety == UNSAFE
            and isinstance(error, Unavailable)
            and not getattr(error, "never_sent", False)
        ):
            error.hint = maybe_done_hint or MAYBE_DONE_HINT
        # Error text can quote what a server or proxy sent back, which may echo the key.
        error.message = self._redact(error.message)
        return error

    def _attempt(
        self, method: str, url: str, params: dict[str, Any], body: Any, safety: str
    ) -> tuple[ApiError | None, Any, int]:
        """One try. Returns (None, decoded body, decoded size) or (error, None, 0)."""
        content = None
        headers = {}
        if body is not None:
            content = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        started = time.monotonic()
        budget = self._request_seconds
        deadline = started + budget
        overall = None
        if self._deadline is not None:
            # The time limit, on the clock the sockets use.
            overall = started + max(self._deadline - self._monotonic(), 0.0)
            deadline = min(deadline, overall)
        token = _deadline.set(deadline)
        if self._progress is not None:
            self._progress.request_started(method, url)
        try:
            request = self._http.build_request(
                method, url, params=params or None, content=content, headers=headers
            )
            streamed = self._http.send(request, stream=True)
            try:
                response = self._read_answer(streamed, deadline)
            finally:
                streamed.close()
        except httpx.TransportError as exc:
            elapsed = time.monotonic() - started
            self._log(f"{method} {url} -> {type(exc).__name__} ({elapsed * 1000:.0f} ms)")
            error = transport_error(exc, method, url, self._timeout)
            if isinstance(exc, httpx.TimeoutException) and time.monotonic() >= deadline - 0.05:
                host = urlsplit(url).netloc
                took = round(deadline - started, 1)
                cut = overall is not None and deadline >= overall
                within = "in the time left" if cut else f"within {took:g} s"
                error.message = f"no answer from {host} {within} (timed out)"
                # Cut off by the caller's time limit rather than by a failing service.
                error.time_limit_passed = cut  # type: ignore[attr-defined]
            if isinstance(exc.__cause__, NotLoopback):
                raise UsageError(
                    f"refusing to send the API key over plain http: {exc}",
                    "use a loopback address (127.0.0.1, ::1) for the emulator",
                ) from None
            return error, None, 0
        except (TooLarge, _BadBody) as exc:
            self._log(f"{method} {url} -> {exc}")
            return exc.error(method, url), None, 0
        finally:
            _deadline.reset(token)
            if self._progress is not None:
                self._progress.request_ended()
        elapsed = (time.monotonic() - started) * 1000
        self._log(f"{method} {response.request.url} -> {response.status_code} ({elapsed:.0f} ms)")
        if response.is_success:
            size = len(response.content)
            if not size:
                return None, {}, 0
            try:
                decoded = _loads(response.content)
            except ValueError as exc:
                what = f"not JSON: {describe_body(response)}"
                if "nested too deeply" in str(exc):
                    what = "JSON nested too deeply to read"
            else:
                if isinstance(decoded, dict):
                    return None, decoded, size
                what = "JSON but not an object"
            # Every answer of the API is a JSON object; anything else came from something
            # in between (or was cut short) and is treated like a failing service.
            return Unavailable(
                f"the answer ({response.status_code}) is {what}",
                http_status=response.status_code,
                method=method,
                url=url,
                hint=_HINTS[Unavailable],
            ), None, 0
        error = error_from_response(response)
        error.retry_after = parse_retry_after(response.headers.get("Retry-After"))  # type: ignore[attr-defined]
        return error, None, 0

    def _read_answer(self, streamed: httpx.Response, deadline: float) -> httpx.Response:
        """The whole answer, decoded, as a plain httpx.Response; TooLarge past
        MAX_RESPONSE_BYTES (of compressed or decoded bytes), _BadBody for an encoding
        that cannot be undone. The deadline is checked after every chunk too (transports
        without sockets, such as the in-process emulator's)."""
        encoding = streamed.headers.get("Content-Encoding", "").strip().lower()
        try:
            raw_chunks = streamed.iter_raw()
            first = next(raw_chunks, b"")
        except httpx.StreamConsumed:
            # An answer built in memory (httpx.MockTransport in tests) arrives read and
            # decoded already.
            encoding, first, raw_chunks = "", streamed.content, iter(())
        try:
            decoder = _BoundedDecoder(encoding)
        except ValueError as exc:
            raise _BadBody(str(exc), streamed.status_code) from None
        chunks: list[bytes] = []
        received = decoded = 0
        for chunk in itertools.chain((first,), raw_chunks):
            received += len(chunk)
            if received > MAX_RESPONSE_BYTES:
                raise TooLarge()
            try:
                out = decoder.feed(chunk, MAX_RESPONSE_BYTES - decoded)
            except ValueError as exc:
                raise _BadBody(str(exc), streamed.status_code) from None
            decoded += len(out)
            if out:
                chunks.append(out)
            if time.monotonic() > deadline:
                raise httpx.ReadTimeout("the request's time ran out", request=streamed.request)
        headers = [
            (name, value)
            for name, value in streamed.headers.multi_items()
            if name.lower() not in ("content-encoding", "content-length", "transfer-encoding")
        ]
        extensions = {
            key: streamed.extensions[key]
            for key in ("http_version", "reason_phrase")
            if key in streamed.extensions
        }
        return httpx.Response(
            streamed.status_code,
            headers=headers,
            content=b"".join(chunks),
            request=streamed.request,
            extensions=extensions,
        )

    def pages(
        self,
        path: str,
        params: dict[str, Any] | None = None,
        *,
        max_bytes: int | None = None,
        page_token: str | None = None,
        pacer: Pacer | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every page of a list, following nextPageToken, one page in memory at a time
        (from `page_token` on, when given; with `pacer`, each request waits its turn).

        A server that sends a token it sent before (pages in a circle), or more than
        MAX_EMPTY_PAGES empty pages in a row that still carry a token, would make this
        endless: it stops with Unavailable (exit 7). `max_bytes` bounds the pages' total
        decoded size (for callers that keep them all)."""
        query = dict(params or {})
        seen: set[str] = set()
        empty_run = total = 0
        token = page_token
        while True:
            if token:
                query["pageToken"] = token
            page, size = self._request("GET", path, params=query, pacer=pacer)
            total += size
            if max_bytes is not None and total > max_bytes:
                raise _paging_error(path, f"the pages hold more than {MAX_RESPONSE_TEXT} together")
            yield page
            token = page.get("nextPageToken")
            if not token:
                return
            if not isinstance(token, str):
                raise _paging_error(path, "its nextPageToken is not a string")
            if token in seen:
                raise _paging_error(
                    path, f"it sent the page token {_shorten(token)!r} a second time"
                )
            seen.add(token)
            empty = not any(isinstance(value, list) and value for value in page.values())
            empty_run = empty_run + 1 if empty else 0
            if empty_run > MAX_EMPTY_PAGES:
                raise _paging_error(path, f"it sent {empty_run} empty pages in a row")

    def paginate(
        self,
        path: str,
        items_key: str,
        *,
        params: dict[str, Any] | None = None,
        page_size: int | None = None,
        limit: int | None = None,
        pacer: Pacer | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Yield items lazily across pages (one page in memory; see `pages`).
        With `pacer`, each page's request waits for its turn there."""
        if limit is not None and limit <= 0:
            return
        yielded = 0
        pages = self.paginate_pages(
            path, items_key, params=params, page_size=page_size, pacer=pacer
        )
        for items, _ in pages:
            for item in items:
                yield item
                yielded += 1
                if limit is not None and yielded >= limit:
                    return

    def paginate_pages(
        self,
        path: str,
        items_key: str,
        *,
        params: dict[str, Any] | None = None,
        page_size: int | None = None,
        page_token: str | None = None,
        pacer: Pacer | None = None,
    ) -> Iterator[tuple[list[Any], str | None]]:
        """Yield (the page's items, its nextPageToken) page by page, for callers that
        decide page by page whether to read on (`jules status` stops at the first page
        older than --since; the dashboard reads one page per interval). `page_token`
        starts from a later page.

        Items must be a list of objects: anything else (a string would be iterated
        character by character) is a broken answer, exit 7."""
        query = dict(params or {})
        if page_size is not None:
            query["pageSize"] = max(1, min(page_size, MAX_PAGE_SIZE))
        for page in self.pages(path, query, page_token=page_token, pacer=pacer):
            items = page.get(items_key)
            if items is None:
                items = []
            if not isinstance(items, list):
                raise _paging_error(path, f"its {items_key!r} is not a list")
            if not all(isinstance(item, dict) for item in items):
                raise _paging_error(path, f"an item of its {items_key!r} is not an object")
            yield items, page.get("nextPageToken") or None

    # -- sources ----------------------------------------------------------------------

    def list_sources(
        self,
        *,
        filter: str | None = None,
        page_size: int | None = MAX_PAGE_SIZE,
        limit: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        return self.paginate(
            "sources", "sources", params={"filter": filter}, page_size=page_size, limit=limit
        )

    def get_source(self, source: str) -> dict[str, Any]:
        name = names.source_name(source)
        return self.request("GET", quote(name, safe="/"))

    # -- sessions ---------------------------------------------------------------------

    def create_session(self, session: dict[str, Any]) -> dict[str, Any]:
        """POST sessions. Never retried once the request may have reached the server:
        the API has no idempotency key, so a retry could start a second task."""
        created = self.request(
            "POST",
            "sessions",
            body=session,
            safety=UNSAFE,
            maybe_done_hint="the session may have been created anyway: run `jules session "
            "list` to see before starting it again",
        )
        if not isinstance(created.get("id"), str) or not created["id"]:
            # Nothing to show, follow or wait for: a broken answer, and maybe a session.
            raise Unavailable(
                "the service answered the create without a session id",
                method="POST",
                url=self._url("sessions"),
                hint="the session may have been created anyway: run `jules session list` "
                "to see before starting it again",
            )
        # Some API versions answer create without `state`; the GET has the full object.
        if "state" not in created:
            try:
                return self.get_session(created["id"])
            except ApiError:
                return created
        return created

    def get_session(self, session: str) -> dict[str, Any]:
        return self.request("GET", f"sessions/{names.session_id(session)}")

    def list_sessions(
        self,
        *,
        archived: bool | None = False,
        filter: str | None = None,
        page_size: int | None = MAX_PAGE_SIZE,
        limit: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Sessions newest first. archived=False: the API default (non-archived only),
        True: archived only, None: all of them."""
        if filter is None:
            if archived is None:
                filter = "archived = true OR archived = false"
            elif archived:
                filter = "archived = true"
        return self.paginate(
            "sessions", "sessions", params={"filter": filter}, page_size=page_size, limit=limit
        )

    def list_session_pages(
        self, *, page_size: int | None = MAX_PAGE_SIZE, page_token: str | None = None
    ) -> Iterator[tuple[list[Any], str | None]]:
        """Non-archived sessions newest first, page by page: (sessions, nextPageToken)."""
        return self.paginate_pages(
            "sessions", "sessions", page_size=page_size, page_token=page_token
        )

    def delete_session(self, session: str) -> dict[str, Any]:
        """DELETE a session. When a try's answer was lost and the retry finds the session
        gone, that try deleted it: the answer is then AlreadyGone (`already_gone`)."""
        answer, _size = self._request(
            "DELETE", f"sessions/{names.session_id(session)}", gone_means_done=True
        )
        return answer

    def send_message(self, session: str, prompt: str) -> dict[str, Any]:
        sid = names.session_id(session)
        return self.request(
            "POST",
            f"sessions/{sid}:sendMessage",
            body={"prompt": prompt},
            safety=UNSAFE,
            maybe_done_hint="the message may have arrived anyway: run `jules activities "
            f"list {sid}` to see before sending it again",
        )

    def approve_plan(self, session: str) -> dict[str, Any]:
        sid = names.session_id(session)
        return self.request(
            "POST",
            f"sessions/{sid}:approvePlan",
            body={},
            safety=UNSAFE,
            maybe_done_hint=f"the plan may have been approved anyway: run `jules session show "
            f"{sid}` to see",
        )

    def archive_session(self, session: str) -> dict[str, Any]:
        return self.request(
            "POST", f"sessions/{names.session_id(session)}:archive", body={}, safety=IDEMPOTENT
        )

    def unarchive_session(self, session: str) -> dict[str, Any]:
        return self.request(
            "POST", f"sessions/{names.session_id(session)}:unarchive", body={}, safety=IDEMPOTENT
        )

    # -- activities -------------------------------------------------------------------

    def list_activities(
        self,
        session: str,
        *,
        filter: str | None = None,
        since: str | None = None,
        page_size: int | None = MAX_PAGE_SIZE,
        limit: int | None = None,
        pacer: Pacer | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Activities oldest first. `since` is an RFC 3339 time, exclusive.

        Followers pass their `pacer` (jules_cli.pacing): every request of the listing,
        each page and each retry, then waits for its turn under the API's quota.

        Right after a session is created the API may answer 404 here for a few seconds;
        that 404 is retried briefly when the session exists and is fresh.
        """
        sid = names.session_id(session)
        if since is not None:
            since_filter = f'create_time>"{since}"'
            filter = f"{filter} AND {since_filter}" if filter else since_filter

        def pages() -> Iterator[dict[str, Any]]:
            return self.paginate(
                f"sessions/{sid}/activities",
                "activities",
                params={"filter": filter},
                page_size=page_size,
                limit=limit,
                pacer=pacer,
            )

        return self._tolerate_fresh_404(sid, pages)

    def _tolerate_fresh_404(
        self, sid: str, make_pages: Callable[[], Iterator[dict[str, Any]]]
    ) -> Iterator[dict[str, Any]]:
        deadline: float | None = None
        attempt = 0
        while True:
            pages = make_pages()
            try:
                first = next(pages)
            except StopIteration:
                return
            except NotFound:
                if deadline is None:
                    if not self._is_fresh(sid):
                        raise
                    deadline = self._clock() + FRESH_404_RETRY_SECONDS
                attempt += 1
                if self._clock() >= deadline:
                    raise
                delay = min(self.retry.delay(attempt), max(deadline - self._clock(), 0.0))
                self._log(f"activities not ready yet (fresh session); retrying in {delay:.1f}s")
                self._sleep(delay)
                continue
            yield first
            yield from pages
            return

    def _is_fresh(self, sid: str) -> bool:
        """True when the session exists and was created moments ago."""
        try:
            session = self.get_session(sid)
        except NotFound:
            return False
        created = parse_time(session.get("createTime"))
        return created is not None and self._clock() - created < FRESH_SESSION_SECONDS

    def get_activity(self, session: str, activity: str) -> dict[str, Any]:
        sid = names.session_id(session)
        return self.request("GET", f"sessions/{sid}/activities/{activity}")


def retry_after_for(error: ApiError, safety: str) -> tuple[bool, float | None]:
    """Whether `error` may be retried under `safety`, and the server's Retry-After."""
    wait = getattr(error, "retry_after", None)
    if isinstance(error, RateLimited):
        return True, wait
    if safety != IDEMPOTENT:
        return bool(getattr(error, "never_sent", False)), None
    if getattr(error, "not_retriable", False):
        return False, None
    if isinstance(error, Unavailable):
        return True, wait
    return False, None


def transport_error(
    exc: httpx.TransportError,
    method: str,
    url: str,
    timeout: httpx.Timeout | None = None,
) -> Unavailable:
    host = urlsplit(url).netloc
    detail = str(exc).lower()
    if isinstance(exc, httpx.ConnectTimeout):
        what = f"timed out connecting to {host}"
    elif isinstance(exc, httpx.TimeoutException):
        limit = timeout.read if timeout is not None else None
        within = f" within {limit:g} s" if isinstance(exc, httpx.ReadTimeout) and limit else ""
        what = f"no answer from {host}{within} (timed out)"
    elif isinstance(exc, httpx.ConnectError):
        why = " (connection refused)" if "refused" in detail else ""
        what = f"cannot connect to {host}{why}"
    elif "reset" in detail:
        what = f"the connection to {host} was reset"
    elif isinstance(exc, httpx.RemoteProtocolError) and "complete message body" in detail:
        what = f"the answer from {host} was cut short (the connection closed mid-answer)"
    elif isinstance(exc, httpx.RemoteProtocolError) and "without sending" in detail:
        what = f"{host} closed the connection without answering"
    else:
        what = f"the connection to {host} failed ({type(exc).__name__})"
    error = Unavailable(what, method=method, url=url, hint=_HINTS[Unavailable])
    # A connect error (not a connect time-out, which may hide a half-open connection)
    # proves the request never left, so even a create may be retried.
    error.never_sent = isinstance(exc, httpx.ConnectError)  # type: ignore[attr-defined]
    return error
