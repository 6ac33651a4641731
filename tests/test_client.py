"""Unit tests of the API client on httpx.MockTransport: what is sent, what comes back."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import httpx
import pytest

from jules_cli.api.client import MAX_EMPTY_PAGES, JulesClient, RetryPolicy, error_from_response
from jules_cli.errors import (
    ApiError,
    AuthError,
    BadRequest,
    ExitCode,
    NotFound,
    RateLimited,
    Unavailable,
    UsageError,
)
from jules_cli.times import parse_time

BASE = "https://jules.example.test/v1alpha"


class Recorder:
    """A MockTransport handler that records requests and answers from a script."""

    def __init__(self, handler: Callable[[httpx.Request], httpx.Response]) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)

    @property
    def paths(self) -> list[str]:
        return [f"{r.method} {r.url.path}" for r in self.requests]


def make_client(handler, **kwargs) -> tuple[JulesClient, Recorder, list[float]]:
    recorder = Recorder(handler)
    sleeps: list[float] = []
    client = JulesClient(
        "secret-key-123456",
        BASE,
        transport=httpx.MockTransport(recorder),
        sleep=sleeps.append,
        retry=kwargs.pop("retry", RetryPolicy(jitter=0)),
        **kwargs,
    )
    return client, recorder, sleeps


def envelope(code: int, status: str, message: str = "boom") -> dict:
    return {"error": {"code": code, "message": message, "status": status}}


# -- every operation sends the right request --------------------------------------------

OPERATIONS = [
    ("list_sources", (), {}, "GET", "/v1alpha/sources", None),
    ("get_source", ("octo/hello",), {}, "GET", "/v1alpha/sources/github/octo/hello", None),
    ("create_session", ({"prompt": "p"},), {}, "POST", "/v1alpha/sessions", {"prompt": "p"}),
    ("get_session", ("sessions/123",), {}, "GET", "/v1alpha/sessions/123", None),
    ("list_sessions", (), {}, "GET", "/v1alpha/sessions", None),
    ("delete_session", ("123",), {}, "DELETE", "/v1alpha/sessions/123", None),
    (
        "send_message",
        ("123", "hi"),
        {},
        "POST",
        "/v1alpha/sessions/123:sendMessage",
        {"prompt": "hi"},
    ),
    ("approve_plan", ("123",), {}, "POST", "/v1alpha/sessions/123:approvePlan", {}),
    ("archive_session", ("123",), {}, "POST", "/v1alpha/sessions/123:archive", {}),
    ("unarchive_session", ("123",), {}, "POST", "/v1alpha/sessions/123:unarchive", {}),
    ("list_activities", ("123",), {}, "GET", "/v1alpha/sessions/123/activities", None),
    ("get_activity", ("123", "abc"), {}, "GET", "/v1alpha/sessions/123/activities/abc", None),
]


@pytest.mark.parametrize(("method", "args", "kwargs", "verb", "path", "body"), OPERATIONS)
def test_each_operation_sends_the_documented_request(method, args, kwargs, verb, path, body):
    answer = {"id": "123", "state": "QUEUED", "unknownField": {"kept": True}}
    client, recorder, _ = make_client(lambda r: httpx.Response(200, json=answer))
    result = getattr(client, method)(*args, **kwargs)
    if not isinstance(result, dict):
        result = list(result)
    request = recorder.requests[0]
    assert (request.method, request.url.path) == (verb, path)
    assert request.headers["X-Goog-Api-Key"] == "secret-key-123456"
    assert request.headers["User-Agent"].startswith("julesctl/")
    if body is None:
        assert request.content == b""
    else:
        assert json.loads(request.content) == body
        assert request.headers["Content-Type"] == "application/json"
    if isinstance(result, dict):
        assert result == answer  # unknown fields kept


def test_empty_success_body_is_an_empty_object():
    client, _, _ = make_client(lambda r: httpx.Response(200, content=b""))
    assert client.approve_plan("1") == {}


def test_create_without_state_is_completed_by_a_get():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(200, json={"name": "sessions/9", "id": "9"})
        return httpx.Response(200, json={"name": "sessions/9", "id": "9", "state": "QUEUED"})

    client, recorder, _ = make_client(handler)
    assert client.create_session({"prompt": "x"})["state"] == "QUEUED"
    assert recorder.paths == ["POST /v1alpha/sessions", "GET /v1alpha/sessions/9"]


# -- paging ---------------------------------------------------------------------------


def paged_handler(total: int, page_size_default: int = 30):
    items = [{"name": f"sessions/{i}", "id": str(i)} for i in range(total)]

    def handler(request: httpx.Request) -> httpx.Response:
        size = int(request.url.params.get("pageSize", page_size_default))
        start = int(request.url.params.get("pageToken") or 0)
        page = {"sessions": items[start : start + size]}
        if start + size < total:
            page["nextPageToken"] = str(start + size)
        return httpx.Response(200, json=page)

    return handler


def test_paging_follows_next_page_token_across_several_pages():
    client, recorder, _ = make_client(paged_handler(250))
    ids = [s["id"] for s in client.list_sessions()]
    assert ids == [str(i) for i in range(250)]
    assert len(recorder.requests) == 3
    tokens = [r.url.params.get("pageToken") for r in recorder.requests]
    assert tokens == [None, "100", "200"]
    assert all(r.url.params["pageSize"] == "100" for r in recorder.requests)


def test_paging_is_lazy_and_limit_stops_early():
    client, recorder, _ = make_client(paged_handler(1000))
    iterator = client.list_sessions(page_size=10)
    assert recorder.requests == []  # nothing fetched until iterated
    assert len(list(client.list_sessions(page_size=10, limit=15))) == 15
    assert len(recorder.requests) == 2
    next(iterator)
    assert len(recorder.requests) == 3


def test_paging_stops_with_exit_7_when_a_token_comes_again():
    client, recorder, _ = make_client(
        lambda r: httpx.Response(200, json={"sessions": [{"id": "1"}], "nextPageToken": "again"})
    )
    with pytest.raises(Unavailable, match="page token 'again' a second time") as caught:
        list(client.list_sessions())
    assert caught.value.exit_code == 7
    assert len(recorder.requests) == 2


def test_paging_follows_a_few_empty_pages_but_not_endless_ones():
    def pages(request: httpx.Request) -> httpx.Response:
        number = int(request.url.params.get("pageToken") or 0)
        if number == 3:
            return httpx.Response(200, json={"sessions": [{"id": "9"}]})
        return httpx.Response(200, json={"sessions": [], "nextPageToken": str(number + 1)})

    client, recorder, _ = make_client(pages)
    assert list(client.list_sessions()) == [{"id": "9"}]  # found behind 3 empty pages

    endless, recorder, _ = make_client(
        lambda r: httpx.Response(
            200, json={"nextPageToken": str(int(r.url.params.get("pageToken") or 0) + 1)}
        )
    )
    with pytest.raises(Unavailable, match="empty pages in a row"):
        list(endless.list_sessions())
    assert len(recorder.requests) == MAX_EMPTY_PAGES + 1


@pytest.mark.parametrize(
    "body", [{"sessions": "abc"}, {"sessions": {"id": "1"}}, {"sessions": [7]}, {"sessions": ["1"]}]
)
def test_a_list_field_of_the_wrong_type_is_a_broken_answer(body):
    client, _, _ = make_client(lambda r: httpx.Response(200, json=body))
    with pytest.raises(Unavailable, match="sessions"):
        list(client.list_sessions())


def test_session_list_filters_for_archived():
    client, recorder, _ = make_client(lambda r: httpx.Response(200, json={}))
    list(client.list_sessions())
    list(client.list_sessions(archived=True))
    list(client.list_sessions(archived=None))
    filters = [r.url.params.get("filter") for r in recorder.requests]
    assert filters == [None, "archived = true", "archived = true OR archived = false"]


def test_activities_since_uses_the_create_time_filter():
    client, recorder, _ = make_client(lambda r: httpx.Response(200, json={"activities": []}))
    list(client.list_activities("5", since="2026-01-17T00:03:53.137240Z"))
    assert recorder.requests[0].url.params["filter"] == 'create_time>"2026-01-17T00:03:53.137240Z"'


# -- errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "google_status", "cls", "exit_code"),
    [
        (400, "INVALID_ARGUMENT", BadRequest, ExitCode.REFUSED),
        (400, "FAILED_PRECONDITION", BadRequest, ExitCode.REFUSED),
        (401, "UNAUTHENTICATED", AuthError, ExitCode.AUTH),
        (403, "PERMISSION_DENIED", AuthError, ExitCode.AUTH),
        (404, "NOT_FOUND", NotFound, ExitCode.NOT_FOUND),
        (409, "ABORTED", BadRequest, ExitCode.REFUSED),
        (429, "RESOURCE_EXHAUSTED", RateLimited, ExitCode.RATE_LIMITED),
        (500, "INTERNAL", Unavailable, ExitCode.UNAVAILABLE),
        (503, "UNAVAILABLE", Unavailable, ExitCode.UNAVAILABLE),
    ],
)
def test_every_error_class_and_its_exit_code(status, google_status, cls, exit_code):
    client, _, _ = make_client(
        lambda r: httpx.Response(status, json=envelope(status, google_status, "it broke"))
    )
    with pytest.raises(cls) as info:
        client.get_session("1")
    error = info.value
    assert error.exit_code == exit_code
    assert error.http_status == status
    assert error.status == google_status
    assert "it broke" in str(error)
    assert "\n" not in str(error)


def test_an_api_message_over_several_lines_is_one_line():
    body = {"error": {"code": 400, "message": "bad branch\n  try main\r\n", "status": "X"}}
    response = httpx.Response(400, json=body, request=httpx.Request("POST", BASE))
    assert str(error_from_response(response)) == "X (400): bad branch try main"


def test_non_json_error_body_falls_back_to_the_http_status():
    response = httpx.Response(
        502, text="<html>Bad gateway</html>", request=httpx.Request("GET", BASE)
    )
    error = error_from_response(response)
    assert isinstance(error, Unavailable)
    assert "502" in str(error) and "Bad gateway" in str(error)


def test_error_details_are_kept():
    details = [{"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": []}]
    body = {
        "error": {"code": 400, "message": "bad", "status": "INVALID_ARGUMENT", "details": details}
    }
    client, _, _ = make_client(lambda r: httpx.Response(400, json=body))
    with pytest.raises(BadRequest) as info:
        client.create_session({"prompt": "x"})
    assert info.value.details == details


def test_success_with_a_body_that_is_not_json_is_unavailable():
    client, _, _ = make_client(lambda r: httpx.Response(200, text="<html>"))
    with pytest.raises(Unavailable):
        client.get_session("1")


# -- retries --------------------------------------------------------------------------


def scripted(*responses):
    """Answer with each response (or raise each exception) in turn, then the last forever."""
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        item = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(item, Exception):
            raise item
        return item

    return handler


def test_429_with_retry_after_is_retried_after_that_delay():
    client, recorder, sleeps = make_client(
        scripted(
            httpx.Response(
                429, json=envelope(429, "RESOURCE_EXHAUSTED"), headers={"Retry-After": "3"}
            ),
            httpx.Response(200, json={"id": "1"}),
        )
    )
    assert client.get_session("1") == {"id": "1"}
    assert len(recorder.requests) == 2
    assert sleeps == [3.0]


def test_get_retries_5xx_with_capped_exponential_backoff_then_gives_up():
    policy = RetryPolicy(attempts=6, base_delay=1.0, max_delay=4.0, jitter=0)
    client, recorder, sleeps = make_client(
        scripted(httpx.Response(503, json=envelope(503, "UNAVAILABLE"))), retry=policy
    )
    with pytest.raises(Unavailable):
        client.get_session("1")
    assert len(recorder.requests) == 6
    assert sleeps == [1.0, 2.0, 4.0, 4.0, 4.0]


def test_jitter_adds_at_most_its_fraction():
    policy = RetryPolicy(base_delay=2.0, jitter=0.5)
    for _ in range(50):
        assert 2.0 <= policy.delay(1) <= 3.0


def test_rate_limit_after_all_retries_exits_6():
    client, recorder, _ = make_client(
        scripted(httpx.Response(429, json=envelope(429, "RESOURCE_EXHAUSTED")))
    )
    with pytest.raises(RateLimited) as info:
        list(client.list_sources())
    assert info.value.exit_code == 6
    assert len(recorder.requests) == client.retry.attempts


def test_get_retries_a_dropped_connection():
    client, recorder, _ = make_client(
        scripted(httpx.ReadError("connection reset"), httpx.Response(200, json={"id": "1"}))
    )
    assert client.get_session("1") == {"id": "1"}
    assert len(recorder.requests) == 2


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ReadError("connection dropped after sending"),
        httpx.ReadTimeout("no answer"),
        httpx.RemoteProtocolError("server closed the connection"),
    ],
)
def test_create_is_never_retried_once_it_may_have_reached_the_server(failure):
    client, recorder, sleeps = make_client(scripted(failure, httpx.Response(200, json={"id": "2"})))
    with pytest.raises(Unavailable) as info:
        client.create_session({"prompt": "only once"})
    assert info.value.exit_code == 7
    assert len(recorder.requests) == 1
    assert sleeps == []


def test_create_is_not_retried_on_a_5xx():
    client, recorder, _ = make_client(
        scripted(httpx.Response(500, json=envelope(500, "INTERNAL")), httpx.Response(200, json={}))
    )
    with pytest.raises(Unavailable):
        client.create_session({"prompt": "x"})
    assert len(recorder.requests) == 1


def test_create_is_retried_when_the_connection_was_never_made():
    client, recorder, _ = make_client(
        scripted(
            httpx.ConnectError("refused"), httpx.Response(200, json={"id": "3", "state": "QUEUED"})
        )
    )
    assert client.create_session({"prompt": "x"})["id"] == "3"
    assert len(recorder.requests) == 2


def test_send_message_is_not_retried_after_a_timeout():
    client, recorder, _ = make_client(scripted(httpx.ReadTimeout("slow")))
    with pytest.raises(Unavailable):
        client.send_message("1", "hello")
    assert len(recorder.requests) == 1


def test_client_errors_are_not_retried():
    client, recorder, _ = make_client(
        scripted(httpx.Response(404, json=envelope(404, "NOT_FOUND")))
    )
    with pytest.raises(NotFound):
        client.get_session("1")
    assert len(recorder.requests) == 1


# -- the 404 that follows a fresh create ------------------------------------------------


def test_activities_404_right_after_create_is_retried():
    now = 1_800_000_000.0
    calls = {"activities": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/activities"):
            calls["activities"] += 1
            if calls["activities"] < 3:
                return httpx.Response(404, json=envelope(404, "NOT_FOUND"))
            return httpx.Response(200, json={"activities": [{"id": "a"}]})
        return httpx.Response(200, json={"id": "7", "createTime": "2027-01-15T08:00:00Z"})

    client, _, sleeps = make_client(handler, clock=lambda: now)
    assert [a["id"] for a in client.list_activities("7")] == ["a"]
    assert calls["activities"] == 3
    assert len(sleeps) == 2


def test_activities_404_of_an_old_or_unknown_session_is_not_retried():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/activities"):
            return httpx.Response(404, json=envelope(404, "NOT_FOUND"))
        return httpx.Response(200, json={"id": "7", "createTime": "2020-01-01T00:00:00Z"})

    client, recorder, _ = make_client(handler, clock=lambda: 1_800_000_000.0)
    with pytest.raises(NotFound):
        list(client.list_activities("7"))
    assert recorder.paths == ["GET /v1alpha/sessions/7/activities", "GET /v1alpha/sessions/7"]


# -- URL and key safety -----------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["http://jules.googleapis.com/v1alpha", "http://10.0.0.5:8080/v1alpha", "ftp://x/y", "nope"],
)
def test_key_never_sent_over_plain_http_except_loopback(url):
    with pytest.raises(UsageError):
        JulesClient("k", url)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080/v1alpha", "http://localhost/v1alpha", "http://[::1]:9/v1alpha"]
)
def test_loopback_http_is_allowed(url):
    JulesClient("k", url).close()


def test_trace_redacts_the_key():
    lines: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"echo": request.headers["X-Goog-Api-Key"]})

    client, _, _ = make_client(handler, trace=lines.append)
    client.request("GET", "sessions/secret-key-123456")
    assert lines and all("secret-key-123456" not in line for line in lines)
    assert any("GET" in line and "200" in line for line in lines)


def test_parse_time_accepts_all_precisions():
    assert parse_time("2026-08-08T12:42:12Z") == parse_time("2026-08-08T12:42:12.000000000Z")
    assert parse_time("2026-08-08T12:42:12.441608052Z") == pytest.approx(
        parse_time("2026-08-08T12:42:12.441608Z")
    )
    assert parse_time("2026-08-08T14:42:12+02:00") == parse_time("2026-08-08T12:42:12Z")
    assert parse_time("garbage") is None


def test_api_error_is_a_jules_error_with_one_line():
    error = ApiError("x")
    assert str(error) == "x"


def test_an_http_error_names_the_resource():
    client, _, _ = make_client(lambda r: httpx.Response(404, json=envelope(404, "NOT_FOUND")))
    with pytest.raises(NotFound) as info:
        client.get_session("sessions/424242")
    assert str(info.value).startswith("sessions/424242: NOT_FOUND (404)")
    assert "jules session list" in str(info.value)


# -- fault handling: messages, hints, time-outs (the e2e matrix is test_fault_matrix.py) --


def test_retry_delay_scale_and_http_timeout_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("JULES_RETRY_DELAY_SCALE", "0.01")
    monkeypatch.setenv("JULES_HTTP_TIMEOUT", "2.5")
    client = JulesClient("k", BASE)
    assert client.retry.scale == 0.01
    assert client.retry.delay(1, retry_after=30) == pytest.approx(0.3)
    assert client._timeout.read == 2.5 and client._timeout.connect == 2.5
    monkeypatch.setenv("JULES_HTTP_TIMEOUT", "60")
    assert JulesClient("k", BASE)._timeout.connect == 10.0  # connecting stays bounded
    monkeypatch.delenv("JULES_HTTP_TIMEOUT")
    monkeypatch.delenv("JULES_RETRY_DELAY_SCALE")
    defaults = JulesClient("k", BASE)
    assert defaults.retry == RetryPolicy() and defaults._timeout.read == 30.0


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("JULES_HTTP_TIMEOUT", "0"),
        ("JULES_HTTP_TIMEOUT", "soon"),
        ("JULES_HTTP_TIMEOUT", "nan"),
        ("JULES_RETRY_DELAY_SCALE", "-1"),
        ("JULES_RETRY_DELAY_SCALE", "inf"),
    ],
)
def test_bad_timing_variables_are_usage_errors(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(UsageError, match=name) as info:
        JulesClient("k", BASE)
    assert info.value.exit_code == ExitCode.USAGE


def test_html_error_page_is_summarised_by_its_title():
    page = (
        "<html><head><title>502 Bad Gateway</title><style>p{}</style></head><body>"
        + "<p>nginx</p>" * 500
        + "</body></html>"
    )
    client, _, _ = make_client(
        lambda r: httpx.Response(502, text=page, headers={"Content-Type": "text/html"})
    )
    with pytest.raises(Unavailable) as info:
        client.get_session("1")
    text = str(info.value)
    assert 'HTTP 502 Bad Gateway: an HTML page "502 Bad Gateway"' in text
    assert "<" not in text and "nginx" not in text and len(text) < 300


def test_html_page_without_a_title_shows_its_first_words_shortened():
    response = httpx.Response(
        503,
        text="<html><script>var x = 1;</script><body>" + "Down for maintenance " * 20,
        request=httpx.Request("GET", BASE),
    )
    text = str(error_from_response(response))
    assert 'an HTML page "Down for maintenance' in text and "..." in text
    assert "var x" not in text and len(text) < 300


def test_plain_text_error_body_is_quoted_shortly():
    client, _, _ = make_client(lambda r: httpx.Response(500, text="upstream connect error " * 30))
    with pytest.raises(Unavailable) as info:
        client.get_session("1")
    assert 'HTTP 500 Internal Server Error: "upstream connect error' in str(info.value)
    assert len(str(info.value)) < 300


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{"sessions": [', "is not JSON"),
        ("[1, 2]", "is JSON but not an object"),
        ("null", "is JSON but not an object"),
        ("<html><title>Sign in</title></html>", 'not JSON: an HTML page "Sign in"'),
    ],
)
def test_a_success_that_is_not_a_json_object_is_a_failing_service(body, expected):
    client, recorder, _ = make_client(
        scripted(httpx.Response(200, text=body), httpx.Response(200, json={"id": "1"}))
    )
    assert client.get_session("1") == {"id": "1"}  # a read tries again
    client, recorder, _ = make_client(scripted(httpx.Response(200, text=body)))
    with pytest.raises(Unavailable, match=expected) as info:
        client.get_session("1")
    assert info.value.exit_code == ExitCode.UNAVAILABLE
    assert len(recorder.requests) == client.retry.attempts
    assert f"(tried {client.retry.attempts} times)" in str(info.value)


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (httpx.ConnectError("[Errno 111] Connection refused"), "cannot connect to "),
        (httpx.ReadError("[Errno 104] Connection reset by peer"), "was reset"),
        (
            httpx.RemoteProtocolError(
                "peer closed connection without sending complete message body"
            ),
            "was cut short",
        ),
        (
            httpx.RemoteProtocolError("Server disconnected without sending a response."),
            "closed the connection without answering",
        ),
        (httpx.ReadTimeout("timed out"), "no answer from jules.example.test within 30 s"),
        (httpx.ConnectTimeout("timed out"), "timed out connecting to jules.example.test"),
        (httpx.WriteError("broken pipe"), "failed (WriteError)"),
    ],
)
def test_transport_failures_say_what_happened(failure, expected):
    client, _, _ = make_client(scripted(failure))
    with pytest.raises(Unavailable, match=re.escape(expected)) as info:
        client.get_session("1")
    assert "\n" not in str(info.value)
    assert "(connection refused)" in str(info.value) or "refused" not in str(failure)


@pytest.mark.parametrize(
    ("call", "check"),
    [
        (lambda c: c.create_session({"prompt": "x"}), "`jules session list`"),
        (lambda c: c.send_message("77", "hi"), "`jules activities list 77`"),
        (lambda c: c.approve_plan("sessions/77"), "`jules session show 77`"),
    ],
)
@pytest.mark.parametrize(
    "failure",
    [
        httpx.ReadTimeout("slow"),
        httpx.ReadError("[Errno 104] Connection reset by peer"),
        httpx.Response(503, json=envelope(503, "UNAVAILABLE")),
        httpx.Response(200, text="<html>"),
    ],
    ids=["timeout", "reset", "503", "not-json"],
)
def test_an_unsafe_call_that_may_have_happened_says_how_to_check(call, check, failure):
    client, recorder, _ = make_client(scripted(failure, httpx.Response(200, json={"id": "9"})))
    with pytest.raises(Unavailable) as info:
        call(client)
    assert len(recorder.requests) == 1
    assert check in str(info.value) and "(tried" not in str(info.value)


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(429, json=envelope(429, "RESOURCE_EXHAUSTED")),
        httpx.Response(400, json=envelope(400, "INVALID_ARGUMENT")),
        httpx.ConnectError("[Errno 111] Connection refused"),
    ],
    ids=["429", "400", "refused"],
)
def test_an_unsafe_call_that_surely_did_not_happen_has_the_usual_hint(failure):
    client, _, _ = make_client(scripted(failure))
    with pytest.raises(ApiError) as info:
        client.create_session({"prompt": "x"})
    assert "jules session list` to see before" not in str(info.value)


def test_an_echoed_key_is_redacted_from_the_error():
    page = "<html><title>Denied for secret-key-123456</title></html>"
    client, _, _ = make_client(lambda r: httpx.Response(502, text=page))
    with pytest.raises(Unavailable) as info:
        client.get_session("1")
    assert "secret-key-123456" not in str(info.value) and "***" in str(info.value)


def test_a_time_limit_holds_only_for_the_thread_that_set_it():
    """The MCP server runs its tools in threads over one client: one wait's time limit
    must neither cut a call of another thread short nor be undone when that one ends."""
    import threading

    client, recorder, sleeps = make_client(
        lambda request: httpx.Response(503, json=envelope(503, "UNAVAILABLE"))
    )
    inside, release = threading.Event(), threading.Event()

    def limited() -> None:
        with client.time_limit(0.1):  # shorter than any retry pause
            inside.set()
            release.wait(5)

    other = threading.Thread(target=limited)
    other.start()
    try:
        assert inside.wait(5)
        with pytest.raises(Unavailable):
            client.get_session("1")
        assert len(recorder.requests) == 5  # every retry, as if no limit were set anywhere
        with client.time_limit(0.1), pytest.raises(Unavailable):
            client.get_session("1")
        assert len(recorder.requests) == 6  # here the limit holds: no pause of 0.5 s
    finally:
        release.set()
        other.join()
