"""The client's progress hook and the spinner's words (the screen tests show the rest)."""

from __future__ import annotations

import io

import httpx
import pytest

from jules_cli.api.client import JulesClient, RetryPolicy
from jules_cli.errors import Unavailable
from jules_cli.render.progress import Spinner, describe_request, error_text, seconds_text


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple] = []

    def request_started(self, method, url):
        self.events.append(("start", method, url.split("/v1alpha/")[1]))

    def request_ended(self):
        self.events.append(("end",))

    def retrying(self, delay, attempt, attempts, error):
        self.events.append(("retry", attempt, attempts, error_text(error)))


def test_the_client_reports_each_try_and_each_retry_pause():
    answers = iter([httpx.Response(503), httpx.Response(200, json={"sessions": []})])
    recorder = Recorder()
    client = JulesClient(
        "key",
        "https://jules.example.com/v1alpha",
        transport=httpx.MockTransport(lambda request: next(answers)),
        retry=RetryPolicy(scale=0),
        progress=recorder,
    )
    client.request("GET", "sessions")
    assert recorder.events == [
        ("start", "GET", "sessions"),
        ("end",),
        ("retry", 2, 5, "503 Service Unavailable"),
        ("start", "GET", "sessions"),
        ("end",),
    ]


def test_a_transport_failure_ends_the_request_too():
    def refuse(request):
        raise httpx.ConnectError("refused")

    recorder = Recorder()
    client = JulesClient(
        "key",
        "https://jules.example.com/v1alpha",
        transport=httpx.MockTransport(refuse),
        retry=RetryPolicy(attempts=1),
        progress=recorder,
    )
    with pytest.raises(Unavailable):
        client.request("GET", "sources")
    assert recorder.events == [("start", "GET", "sources"), ("end",)]


def test_what_a_request_waits_for_in_words():
    base = "https://h/v1alpha/"
    assert describe_request("GET", base + "sessions") == "listing sessions"
    assert describe_request("POST", base + "sessions") == "creating the session"
    assert describe_request("GET", base + "sessions/12") == "reading session 12"
    assert describe_request("POST", base + "sessions/12:sendMessage") == (
        "sending the message to session 12"
    )
    assert describe_request("POST", base + "sessions/12:archive") == "archiving session 12"
    assert describe_request("GET", base + "sessions/12/activities") == (
        "reading the activities of session 12"
    )
    assert describe_request("GET", base + "sources/github/o/r") == "reading source github/o/r"
    assert [seconds_text(s) for s in (0.84, 12.5, 125)] == ["0.8 s", "12 s", "2m 05s"]


def test_nothing_is_drawn_for_a_quick_request_and_output_erases_a_drawn_line():
    now = [0.0]
    stream = io.StringIO()
    spinner = Spinner(stream, clock=lambda: now[0])
    spinner.request_started("GET", "https://h/v1alpha/sessions")
    now[0] = 0.3
    spinner._draw()
    assert stream.getvalue() == ""  # under half a second: nothing
    now[0] = 0.8
    spinner._draw()
    assert stream.getvalue().endswith("Waiting for h: listing sessions (0.8 s)")
    spinner.stream.write("Warning: something\n")  # what Output writes to stderr
    assert stream.getvalue().endswith("\r\x1b[2KWarning: something\n")
    spinner.request_ended()
    spinner.close()
