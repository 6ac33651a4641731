"""Every promise held against a hostile API server (tests/hostile_server.py) on loopback.

The installed `jules` runs as a subprocess, as in a CI job, against a server that repeats
page tokens, sends empty pages forever, trickles a byte at a time, answers 429 forever,
echoes the key into every field, sends gzip bombs, huge bodies, lone surrogates, escape
codes, NaN, JSON nested too deeply, `{}` for a create, or loses the answer of a DELETE.
Each test bounds its run (a loop that never ends fails by its time-out, not by hanging).
"""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import time

import pytest

from tests.conftest import jules_command
from tests.hostile_server import Answer, HostileServer, Request, gzip_bomb, not_found, pages

KEY = "sk-HOSTILE-7c1e5a9b3d2f-SECRET"
PIECE = 8
SID = "4242"
ESC = "\x1b]0;owned\x07\x1b[2J\x9b31m"  # retitle, clear the screen, 8-bit CSI
# A wait ends at most FINAL_LOOK_SECONDS (1 s) after its --timeout; the rest is for the
# process to start its clock before the first request and to exit, on a busy machine.
WAIT_SLACK = 2.5
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def pieces(secret: str = KEY) -> list[str]:
    return [secret[i : i + PIECE] for i in range(len(secret) - PIECE + 1)]


def leaks(text: str | bytes) -> list[str]:
    if isinstance(text, bytes):
        return [piece for piece in pieces() if piece.encode() in text]
    return [piece for piece in pieces() if piece in text]


class Ran:
    def __init__(self, result: subprocess.CompletedProcess[str], elapsed: float) -> None:
        self.code = result.returncode
        self.stdout = result.stdout
        self.stderr = result.stderr
        self.elapsed = elapsed
        self.ended = time.monotonic()

    def since_first_request(self, server: HostileServer) -> float:
        """Seconds from the first request's arrival to the end: start-up excluded, which
        on a busy machine can take seconds."""
        return self.ended - server.calls()[0].at

    def errors(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("Error: ")]

    def one_error_line(self) -> str:
        assert "Traceback" not in self.stderr, self.stderr
        lines = self.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: "), self.stderr
        return lines[0]

    def __repr__(self) -> str:
        return f"exit {self.code} after {self.elapsed:.1f} s\n{self.stdout}\n{self.stderr}"


def run(server: HostileServer, *args: str, timeout: float = 30, **env: str) -> Ran:
    full_env = {
        **os.environ,
        "JULES_API_URL": server.url,
        "JULES_API_KEY": KEY,
        "JULES_RETRY_DELAY_SCALE": "0.01",
        **env,
    }
    started = time.monotonic()
    result = subprocess.run(
        [*jules_command(), *args],
        input="",
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
    )
    return Ran(result, time.monotonic() - started)


@pytest.fixture
def server():
    with HostileServer(lifetime=90) as hostile:
        yield hostile


def session(sid: str = SID, **fields) -> dict:
    return {
        "name": f"sessions/{sid}",
        "id": sid,
        "title": "a title",
        "state": "COMPLETED",
        "createTime": "2026-01-17T00:00:00Z",
        "updateTime": "2026-01-17T00:10:00Z",
        **fields,
    }


# -- 5: pages that never end ---------------------------------------------------------------


@pytest.mark.parametrize("repeat", [True, False], ids=["repeated-token", "endless-empty-pages"])
@pytest.mark.parametrize(
    ("items_key", "args"),
    [
        ("sessions", ["session", "list"]),
        ("sessions", ["session", "list", "--json"]),
        ("sources", ["sources", "list", "--json"]),
        ("sources", ["session", "new", "--repo", "o/unknown", "hello"]),
        ("sessions", ["api", "sessions", "--paginate"]),
    ],
    ids=["session-list", "session-list-json", "sources-list", "new-repo-lookup", "api-paginate"],
)
def test_pages_that_never_end_stop_with_exit_7(server, items_key, args, repeat):
    server.handler = pages(items_key, repeat=repeat, empty=not repeat)
    ran = run(server, *args)
    assert ran.code == 7, ran
    assert "paging stopped" in ran.one_error_line()
    assert len(server.calls("GET")) <= 12  # MAX_EMPTY_PAGES + 1, or the second token
    assert not server.calls("POST")  # nothing was created from a broken list


# -- 6: deadlines --------------------------------------------------------------------------


def test_http_timeout_bounds_the_whole_request_of_a_server_sending_a_byte_at_a_time(server):
    server.handler = lambda request: Answer(**{**vars(Answer.json(session())), "drip": 0.3})
    ran = run(server, "session", "show", SID, JULES_HTTP_TIMEOUT="1")
    assert ran.code == 7, ran
    assert "within 1 s (timed out)" in ran.one_error_line()
    # 5 tries of 1 s each: reads 0.3 s apart never hit an idle time-out, and the answer
    # would take a minute per try.
    assert len(server.calls()) == 5
    assert ran.since_first_request(server) < 5 * 1 + 1.5, ran


@pytest.mark.parametrize(
    "command",
    [["session", "wait", SID], ["session", "wait", SID, "4343"], ["activities", "tail", SID]],
    ids=["wait", "wait-many", "tail"],
)
def test_wait_timeout_bounds_retries_that_honour_retry_after(server, command):
    server.handler = lambda request: Answer.json(
        {"error": {"code": 429, "message": "slow down", "status": "RESOURCE_EXHAUSTED"}},
        429,
        **{"Retry-After": "30"},
    )
    # The real pauses: the server's 30 s Retry-After would be honoured up to 60 s a try.
    ran = run(server, *command, "--timeout", "2", JULES_RETRY_DELAY_SCALE="1")
    assert ran.code == 6, ran
    assert "RESOURCE_EXHAUSTED" in ran.one_error_line()
    assert ran.since_first_request(server) < 2 + WAIT_SLACK, ran


@pytest.mark.parametrize(
    "command",
    [["session", "wait", SID], ["session", "wait", SID, "4343"], ["activities", "tail", SID]],
    ids=["wait", "wait-many", "tail"],
)
def test_wait_timeout_bounds_a_request_that_never_completes(server, command):
    server.handler = lambda request: Answer(**{**vars(Answer.json(session())), "drip": 0.5})
    ran = run(server, *command, "--timeout", "2")
    assert ran.code == 7, ran
    assert "timed out" in ran.one_error_line()
    assert ran.since_first_request(server) < 2 + WAIT_SLACK, ran


# -- 7: the key echoed back ----------------------------------------------------------------


def _echoing(request: Request) -> Answer:
    key = request.key
    echoed = session(title=f"title {key}", prompt=f"prompt {key[3:20]}", url=f"https://x/{key}")
    echoed["outputs"] = [
        {
            "changeSet": {
                "gitPatch": {"unidiffPatch": f"--- a/k\n+++ b/k\n@@ -1 +1 @@\n-{key}\n+x\n"}
            }
        }
    ]
    if request.path.endswith("/activities"):
        return Answer.json(
            {
                "activities": [
                    {
                        "name": f"sessions/{SID}/activities/a1",
                        "id": "a1",
                        "createTime": "2026-01-17T00:01:00Z",
                        "progressUpdated": {"title": f"step {key}"},
                        "artifacts": [{"bashOutput": {"command": f"echo {key}", "output": key}}],
                    }
                ]
            }
        )
    if request.path.endswith("/sessions"):
        return Answer.json({"sessions": [echoed]})
    return Answer.json(echoed)


@pytest.mark.parametrize(
    "args",
    [
        ["session", "list"],
        ["session", "list", "--json"],
        ["session", "show", SID],
        ["session", "show", SID, "--json"],
        ["api", f"sessions/{SID}"],
        ["activities", "list", SID],
        ["session", "diff", SID],
        ["--debug", "session", "show", SID],
    ],
    ids=lambda args: "-".join(a.strip("-") for a in args),
)
def test_a_server_echoing_the_key_never_gets_it_printed(server, args):
    server.handler = _echoing
    ran = run(server, *args)
    assert ran.code == 0, ran
    assert not leaks(ran.stdout), ran.stdout
    assert not leaks(ran.stderr), ran.stderr
    if "--json" in args or args[0] == "api":
        json.loads(ran.stdout)  # still valid JSON, the key replaced by ***


def test_files_saved_from_a_server_echoing_the_key_hold_no_piece_of_it(server, tmp_path):
    server.handler = _echoing
    patch = tmp_path / "out.patch"
    assert run(server, "session", "diff", SID, "-o", str(patch)).code == 0
    folder = tmp_path / "artifacts"
    ran = run(server, "session", "artifacts", SID, "-o", str(folder))
    assert ran.code == 0, ran
    saved = [patch, *folder.iterdir()]
    assert len(saved) >= 3
    for path in saved:
        assert not leaks(path.read_bytes()), path


# -- 8: loopback by address, not by name ----------------------------------------------------


def test_a_name_under_localhost_is_not_loopback(server):
    url = f"http://api.localhost:{server.port}/v1alpha"
    ran = run(server, "session", "list", JULES_API_URL=url)
    assert ran.code == 2, ran
    assert "plain http" in ran.one_error_line()
    assert not server.calls()


def test_localhost_itself_is_loopback_when_it_resolves_there(server):
    server.handler = lambda request: Answer.json({"sessions": [session()]})
    ran = run(server, "session", "list", JULES_API_URL=f"http://localhost:{server.port}/v1alpha")
    assert ran.code == 0, ran
    assert server.calls()[0].key == KEY


# -- 9, 18: text JSON cannot carry -----------------------------------------------------------


SURROGATE_SESSION = (
    '{"name": "sessions/4242", "id": "4242", "state": "COMPLETED", '
    '"title": "lone \\ud800 high \\udfff low", "prompt": "\\udc80"}'
)


@pytest.mark.parametrize("args", [["session", "show", SID], ["session", "list"]])
def test_lone_surrogates_render_escaped(server, args):
    body = SURROGATE_SESSION if args[1] == "show" else f'{{"sessions": [{SURROGATE_SESSION}]}}'
    server.handler = lambda request: Answer.raw(body)
    ran = run(server, *args)
    assert ran.code == 0, ran
    assert "lone \\ud800 high \\udfff low" in ran.stdout


def test_lone_surrogates_keep_json_valid(server):
    server.handler = lambda request: Answer.raw(f'{{"sessions": [{SURROGATE_SESSION}]}}')
    for args in (
        ["session", "list", "--json"],
        ["session", "list", "--jsonl"],
        ["api", "sessions"],
    ):
        ran = run(server, *args)
        assert ran.code == 0, ran
        first = ran.stdout.splitlines()[0] if "--jsonl" in args else ran.stdout
        data = json.loads(first)
        item = data if "--jsonl" in args else (data["sessions"] if args[0] == "api" else data)[0]
        assert item["title"] == "lone \ud800 high \udfff low"  # the same string again


def _strict(text: str):
    def refuse(constant: str):
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("args", [["session", "show", SID, "--json"], ["api", f"sessions/{SID}"]])
def test_nan_and_infinity_keep_json_valid(server, args):
    server.handler = lambda request: Answer.raw(
        '{"name": "sessions/4242", "id": "4242", "a": NaN, "b": Infinity, "c": -Infinity, '
        '"d": [1e999], "e": 1.5}'
    )
    ran = run(server, *args)
    assert ran.code == 0, ran
    data = _strict(ran.stdout)
    assert (data["a"], data["b"], data["c"], data["d"], data["e"]) == (
        "NaN",
        "Infinity",
        "-Infinity",
        ["Infinity"],
        1.5,
    )


@pytest.mark.parametrize("args", [["session", "show", SID], ["session", "show", SID, "--json"]])
def test_json_nested_too_deeply_is_exit_7(server, args):
    server.handler = lambda request: Answer.raw(
        '{"id": "4242", "x": ' + "[" * 100_000 + "]" * 100_000 + "}"
    )
    ran = run(server, *args)
    assert ran.code == 7, ran
    assert "nested too deeply" in ran.one_error_line()


# -- 10: size ---------------------------------------------------------------------------------


def test_the_gzip_bomb_is_a_valid_gzip_of_json_of_the_size_asked():
    import gzip

    size = 3 * (1 << 20) + 5
    text = gzip.decompress(gzip_bomb(size))  # checks the CRC-32 and the size too
    assert len(text) == size + len('{"sessions": [], "padding": ""}')
    assert json.loads(text)["sessions"] == []


def test_a_gzip_bomb_is_refused_without_being_expanded(server):
    bomb = gzip_bomb(400 * 1024 * 1024)  # 400 MB of JSON in about 400 kB
    server.handler = lambda request: Answer.raw(bomb, **{"Content-Encoding": "gzip"})
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    ran = run(server, "session", "list", "--json")
    assert ran.code == 7, ran
    assert "larger than 64 MB" in ran.one_error_line()
    assert len(server.calls()) == 1  # the same answer would come again: not retried
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if peak_kib > before:  # the largest child so far is this one
        assert peak_kib < 300 * 1024, f"{peak_kib} KiB"


def test_a_huge_body_is_refused_at_the_cap(server):
    server.handler = lambda request: Answer(
        200, {"Content-Type": "application/json"}, b"{", huge=10**9
    )
    ran = run(server, "session", "list")
    assert ran.code == 7, ran
    assert "larger than 64 MB" in ran.one_error_line()
    assert ran.elapsed < 20


def test_a_small_gzip_answer_is_read(server):
    import gzip

    body = gzip.compress(json.dumps({"sessions": [session()]}).encode())
    server.handler = lambda request: Answer.raw(body, **{"Content-Encoding": "gzip"})
    ran = run(server, "session", "list", "--json")
    assert ran.code == 0, ran
    assert json.loads(ran.stdout)[0]["id"] == SID
    assert "gzip" in server.calls()[0].headers.get("accept-encoding", "")


# -- 11: escape codes from the API never reach the terminal ------------------------------------


def _hostile(request: Request) -> Answer:
    if request.path.endswith("/sources"):
        return Answer.json({"sources": [{"name": f"sources/github/o/r{ESC}", "id": f"x{ESC}"}]})
    if request.path.endswith("/sessions"):
        return Answer.json({"sessions": [session(sid=f"1{ESC}")]})
    if request.path.endswith("/activities"):
        patch = "--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\n"
        return Answer.json(
            {
                "activities": [
                    {
                        "id": f"act{ESC}",
                        "createTime": "2026-01-17T00:01:00Z",
                        "progressUpdated": {"title": "t"},
                        "artifacts": [
                            {"changeSet": {"gitPatch": {"unidiffPatch": patch}}},
                            {"media": {"mimeType": "image/png", "data": "!!not base64!!"}},
                        ],
                    }
                ]
            }
        )
    if request.method == "POST":
        return Answer.json(
            {"error": {"code": 500, "message": f"boom {ESC}", "status": "INTERNAL"}}, 500
        )
    return Answer.json(session(state=f"COMPLETED{ESC}"))


@pytest.mark.parametrize(
    "args",
    [
        ["sources", "list", "-q"],
        ["session", "list", "-q"],
        ["session", "diff", SID, "-o", "{tmp}/out.patch"],
        ["session", "artifacts", SID, "-o", "{tmp}/saved"],
        ["session", "archive", SID, "4343"],
        ["--debug", "session", "archive", SID],
    ],
    ids=["sources-q", "session-q", "diff-o", "artifacts-o", "archive-several", "debug"],
)
def test_escape_codes_from_the_api_never_reach_the_terminal(server, tmp_path, args):
    server.handler = _hostile
    ran = run(server, *(arg.replace("{tmp}", str(tmp_path)) for arg in args))
    assert "Traceback" not in ran.stderr, ran
    assert ran.stdout + ran.stderr, ran
    assert not CONTROL.search(ran.stdout.replace("\n", "")), repr(ran.stdout)
    assert not CONTROL.search(ran.stderr.replace("\n", "")), repr(ran.stderr)
    assert "\\x1b" in ran.stdout + ran.stderr  # shown, not obeyed


# -- 12: a DELETE whose answer was lost ------------------------------------------------------


def test_a_delete_whose_first_answer_was_lost_is_success(server):
    def handler(request: Request) -> Answer:
        if request.method != "DELETE":
            return not_found()
        # The first DELETE deletes, and its answer never arrives; the retry finds nothing.
        return Answer(lose=True) if len(server.calls("DELETE")) == 1 else not_found()

    server.handler = handler
    ran = run(server, "session", "delete", SID, "--yes")
    assert ran.code == 0, ran
    assert "already deleted" in ran.stderr
    assert len(server.calls("DELETE")) == 2


def test_a_delete_of_an_unknown_session_is_still_not_found(server):
    server.handler = lambda request: not_found()
    ran = run(server, "session", "delete", SID, "--yes")
    assert ran.code == 3, ran
    assert len(server.calls("DELETE")) == 1


# -- 17: list fields of the wrong type --------------------------------------------------------


@pytest.mark.parametrize(
    "args", [["session", "list"], ["session", "list", "--json"], ["session", "list", "-q"]]
)
@pytest.mark.parametrize("items", ['"abc"', '{"id": "1"}', "[7]", '["1"]'])
def test_a_list_field_of_the_wrong_type_is_a_broken_answer(server, args, items):
    server.handler = lambda request: Answer.raw(f'{{"sessions": {items}}}')
    ran = run(server, *args)
    assert ran.code == 7, ran
    assert "sessions" in ran.one_error_line()
    assert ran.stdout in ("", "[\n")  # never ["a", "b", "c"]


@pytest.mark.parametrize(
    ("body", "args"),
    [
        (
            {"sessions": [session(outputs="x", sourceContext="y", state=5, title=["t"])]},
            ["session", "list"],
        ),
        (
            {"sources": [{"name": "sources/github/o/r", "githubRepo": {"branches": "main"}}]},
            ["sources", "list"],
        ),
        (
            {"activities": [{"id": "a", "artifacts": "x", "planGenerated": []}]},
            ["activities", "list", SID],
        ),
    ],
    ids=["sessions", "sources", "activities"],
)
def test_fields_of_the_wrong_type_inside_items_never_crash(server, body, args):
    server.handler = lambda request: Answer.json(
        body if request.path.endswith(("sessions", "sources", "activities")) else session()
    )
    ran = run(server, *args)
    assert ran.code == 0, ran
    assert "Traceback" not in ran.stderr


# -- 18: a create answered with {} ---------------------------------------------------------------


@pytest.mark.parametrize("extra", [[], ["--wait"], ["--follow"], ["--json"]])
def test_a_create_answered_without_an_id_is_a_clear_error(server, extra):
    server.handler = lambda request: Answer.json({})
    ran = run(server, "session", "new", "--no-repo", *extra, "hello")
    assert ran.code == 7, ran
    line = ran.one_error_line()
    assert "without a session id" in line and "jules session list" in line
    assert len(server.calls("POST")) == 1  # never sent twice


# -- 18: a stdout that cannot be written ---------------------------------------------------------


def test_a_closed_stdout_gives_one_line_not_a_traceback(server):
    server.handler = lambda request: Answer.json({"sessions": [session()]})
    env = {**os.environ, "JULES_API_URL": server.url, "JULES_API_KEY": KEY}
    for args in (["session", "list"], ["--version"]):
        result = subprocess.run(
            ["sh", "-c", 'exec "$@" >&-', "sh", *jules_command(), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=30,
        )
        assert "Traceback" not in result.stderr, result.stderr
        assert result.returncode == 1, result.stderr
        assert result.stderr.startswith("Error: cannot write"), result.stderr


def test_guarded_backend_is_under_every_transport(monkeypatch):
    """The deadline and the loopback check sit below httpx, also for proxies."""
    from jules_cli.api.client import JulesClient, _GuardedBackend

    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    client = JulesClient(KEY, "https://example.com/v1alpha")
    transports = [client._http._transport, *client._http._mounts.values()]
    backends = [t._pool._network_backend for t in transports if t is not None]
    assert len(backends) >= 2
    assert all(isinstance(backend, _GuardedBackend) for backend in backends)


def test_localhost_resolving_elsewhere_is_refused_before_anything_is_sent():
    import httpcore

    from jules_cli.api.client import NotLoopback, _GuardedBackend

    class Stream(httpcore.NetworkStream):
        written = b""
        closed = False

        def get_extra_info(self, info):
            return ("10.1.2.3", 80) if info == "server_addr" else None

        def write(self, buffer, timeout=None):
            Stream.written += buffer

        def close(self):
            Stream.closed = True

    class Backend(httpcore.NetworkBackend):
        def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
            return Stream()

    guarded = _GuardedBackend(Backend(), loopback_only=True)
    with pytest.raises(NotLoopback, match="10.1.2.3"):
        guarded.connect_tcp("localhost", 80)
    assert Stream.closed and Stream.written == b""


@pytest.mark.parametrize(
    "since",
    [
        " 2026-01-17T00:00:00Z",
        "2026-01-17 00:00:00Z",
        "2026-01-17t00:00:00z",
        "2026-01-17T02:00:00+02:00",
    ],
)
def test_since_reaches_the_server_in_the_one_form_it_reads(server, since):
    server.handler = lambda request: Answer.json({"activities": []})
    ran = run(server, "activities", "list", SID, "--since", since)
    assert ran.code == 0, ran
    sent = server.calls("GET")[0].query["filter"]
    assert sent == 'create_time>"2026-01-17T00:00:00.000000Z"'


def test_a_leap_second_since_is_sent_as_the_next_minute(server):
    server.handler = lambda request: Answer.json({"activities": []})
    ran = run(server, "activities", "list", SID, "--since", "2026-01-17T00:00:60Z")
    assert ran.code == 0, ran
    assert server.calls("GET")[0].query["filter"] == 'create_time>"2026-01-17T00:01:00.000000Z"'
