"""JulesClient: one httpx.Client for all 12 operations of the Jules REST API.

Objects stay plain dicts exactly as the API sent them, so fields this version does not
know survive to `--json`. Every failure leaves here as a JulesError subclass; callers
never see an httpx exception.
"""

from __future__ import annotations

import email.utils
import html
import ipaddress
import json
import math
import os
import platform
import random
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote, urlsplit

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
)
from jules_cli.times import parse_time

if TYPE_CHECKING:
    from jules_cli.pacing import Pacer

DEFAULT_API_URL = "https://jules.googleapis.com/v1alpha"
USER_AGENT = f"julesctl/{__version__} (python {platform.python_version()}; {platform.system()})"
MAX_PAGE_SIZE = 100

# Per-request limits. Reads of big sessions (patches, base64 media) can be slow to
# arrive, so the read timeout is generous; connecting is not.
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
DEFAULT_CONNECT_TIMEOUT = 10.0

# JULES_HTTP_TIMEOUT: seconds one HTTP request may take (connecting at most 10 of them),
# e.g. to fail fast in CI. JULES_RETRY_DELAY_SCALE: multiplies every pause between
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
    if not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_api_url(url: str) -> str:
    """Validate the base URL; the key never travels over plain http except to loopback."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(
            f"invalid API URL: {url!r}",
            "give a full URL such as https://jules.googleapis.com/v1alpha",
        )
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
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        envelope = body["error"]
        message = envelope.get("message") or None
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


class RequestProgress(Protocol):
    """What a JulesClient tells about its calls (all in the calling thread)."""

    def request_started(self, method: str, url: str) -> None: ...

    def request_ended(self) -> None: ...

    def retrying(self, delay: float, attempt: int, attempts: int, error: ApiError) -> None:
        """A pause of `delay` s before try `attempt` of `attempts`, after `error`."""


class JulesClient:
    """A thin client for the Jules REST API.

    `transport` is the test seam (httpx.MockTransport, httpx.WSGITransport); `sleep` and
    `clock` let retry timing be tested without waiting; `trace` receives one line per
    HTTP call for --debug, with the key already redacted. `progress` (RequestProgress)
    hears when a request starts and ends and when a retry waits, so a front-end can show
    a sign of life on slow calls; this layer draws nothing itself. Without `timeout` and
    `retry` the defaults apply, adjusted by JULES_HTTP_TIMEOUT and JULES_RETRY_DELAY_SCALE.
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
        progress: RequestProgress | None = None,
    ) -> None:
        if not api_key:
            raise UsageError("empty API key")
        self.base_url = check_api_url(base_url)
        self._key = api_key
        self.retry = retry or RetryPolicy.from_env()
        if timeout is None:
            timeout = timeout_from_env()
        self._timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self._trace = trace
        self._sleep = sleep
        self._clock = clock
        self._progress = progress
        plain_http = urlsplit(self.base_url).scheme == "http"  # check_api_url: loopback only
        self._http = httpx.Client(
            transport=transport,
            timeout=timeout,
            # No proxy from the environment for a loopback URL: an HTTP_PROXY would carry
            # the key in plain http off this machine, and could not reach our loopback.
            trust_env=not is_loopback(urlsplit(self.base_url).hostname),
            # Plain http to loopback makes no TLS connection (and redirects are not
            # followed), so loading the CA bundle, a third of a run against the emulator,
            # is skipped. https is always verified.
            verify=not plain_http,
            headers={
                "X-Goog-Api-Key": api_key,
                "User-Agent": USER_AGENT,
                "Accept": "application/json",
            },
        )

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

    def _log(self, line: str) -> None:
        if self._trace is not None:
            self._trace(self._redact(line))

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
        method = method.upper()
        if safety is None:
            safety = IDEMPOTENT if method in ("GET", "HEAD", "DELETE") else UNSAFE
        params = {k: v for k, v in (params or {}).items() if v is not None}
        url = self._url(path)
        attempt = 0
        while True:
            attempt += 1
            if pacer is not None:
                pacer.acquire()
            error, answer = self._attempt(method, url, params, body, safety)
            if error is None:
                return answer
            retriable, wait_hint = retry_after_for(error, safety)
            if not retriable or attempt >= self.retry.attempts:
                raise self._final_error(error, path, attempt, safety, maybe_done_hint)
            delay = self.retry.delay(attempt, wait_hint)
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
    ) -> tuple[ApiError | None, Any]:
        """One try. Returns (None, decoded body) or (error, None)."""
        content = None
        headers = {}
        if body is not None:
            content = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        started = time.monotonic()
        if self._progress is not None:
            self._progress.request_started(method, url)
        try:
            response = self._http.request(
                method, url, params=params or None, content=content, headers=headers
            )
        except httpx.TransportError as exc:
            elapsed = (time.monotonic() - started) * 1000
            self._log(f"{method} {url} -> {type(exc).__name__} ({elapsed:.0f} ms)")
            return transport_error(exc, method, url, self._timeout), None
        finally:
            if self._progress is not None:
                self._progress.request_ended()
        elapsed = (time.monotonic() - started) * 1000
        self._log(f"{method} {response.request.url} -> {response.status_code} ({elapsed:.0f} ms)")
        if response.is_success:
            if not response.content:
                return None, {}
            try:
                decoded = response.json()
            except ValueError:
                what = f"not JSON: {describe_body(response)}"
            else:
                if isinstance(decoded, dict):
                    return None, decoded
                what = "JSON but not an object"
            # Every answer of the API is a JSON object; anything else came from something
            # in between (or was cut short) and is treated like a failing service.
            return Unavailable(
                f"the answer ({response.status_code}) is {what}",
                http_status=response.status_code,
                method=method,
                url=url,
                hint=_HINTS[Unavailable],
            ), None
        error = error_from_response(response)
        error.retry_after = parse_retry_after(response.headers.get("Retry-After"))  # type: ignore[attr-defined]
        return error, None

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
        """Yield items lazily across pages, following nextPageToken (one page in memory).
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
        starts from a later page."""
        query = dict(params or {})
        if page_size is not None:
            query["pageSize"] = max(1, min(page_size, MAX_PAGE_SIZE))
        token = page_token
        while True:
            if token:
                query["pageToken"] = token
            page = self.request("GET", path, params=query, pacer=pacer)
            items = page.get(items_key) or []
            token = page.get("nextPageToken") or None
            yield items, token if items else None
            # An empty page that still carries a token would loop forever; stop there.
            if not token or not items:
                return

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
        # Some API versions answer create without `state`; the GET has the full object.
        if created.get("id") and "state" not in created:
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
        return self.request("DELETE", f"sessions/{names.session_id(session)}")

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
