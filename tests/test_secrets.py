"""The API key stays secret: never in stdout, stderr, --debug traces, error messages or
tracebacks, never in a file other than config.toml, never in a URL, never over plain http
to anything but loopback; config.toml is private from the moment it exists.

Every command runs as a subprocess (the installed `jules`) against one loopback emulator
that accepts only the recognisable key KEY, once with the key from the environment and
once with it from the profile under --debug; then the failure paths: a wrong key, injected
403/429/500, connection refused, a proxy that echoes the request headers back, answers
that are not JSON or not the expected shape (a genuine crash, traceback and all).
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from jules_cli import config
from jules_cli.emulator import Emulator, ServerHandle, start_server
from tests.conftest import jules_command

KEY = "sk-TEST-9f8e7d6c5b4a-SECRET"
WRONG_KEY = "sk-WRONG-0a1b2c3d4e5f-NOPE"
PIECE = 8  # no run of this many characters of a key may show


def pieces(secret: str) -> list[str]:
    return [secret[i : i + PIECE] for i in range(len(secret) - PIECE + 1)]


def leaks(text: str, secret: str = KEY) -> list[str]:
    return [piece for piece in pieces(secret) if piece in text]


def files_leaking(root: Path, secret: str = KEY) -> list[str]:
    """Files under root (config.toml excepted) holding a piece of the secret."""
    found = []
    for path in root.rglob("*"):
        if path.is_file() and path.name != "config.toml":
            data = path.read_bytes()
            if any(piece.encode() in data for piece in pieces(secret)):
                found.append(str(path.relative_to(root)))
    return found


def assert_kept_secret(
    result: subprocess.CompletedProcess[str], root: Path, secret: str = KEY
) -> None:
    assert not leaks(result.stdout, secret), result.stdout
    assert not leaks(result.stderr, secret), result.stderr
    assert not files_leaking(root, secret)


@pytest.fixture(scope="module")
def server() -> Iterator[ServerHandle]:
    handle = start_server(Emulator(speed=200, api_key=KEY))
    try:
        yield handle
    finally:
        handle.shutdown()


@pytest.fixture(autouse=True)
def no_faults_left(server: ServerHandle) -> Iterator[None]:
    yield
    server.app.clear_faults()


@dataclass
class World:
    done: str  # a COMPLETED session with a patch
    waiting: str  # AWAITING_PLAN_APPROVAL
    activity: str  # an activity of `done`
    checkout: Path  # a git checkout the patch applies to


def _create(http: httpx.Client, **fields) -> str:
    body = {
        "prompt": "Add a greeting",
        "sourceContext": {"source": "sources/github/jules-demo/hello-world"},
        **fields,
    }
    return http.post("sessions", json=body).raise_for_status().json()["id"]


def make_world(server: ServerHandle, folder: Path) -> World:
    with httpx.Client(base_url=server.url + "/", headers={"X-Goog-Api-Key": KEY}) as http:
        done = _create(http)
        waiting = _create(http, requirePlanApproval=True)
        server.settle()
        activities = http.get(f"sessions/{done}/activities").raise_for_status().json()
    checkout = folder / "checkout"
    checkout.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(checkout)], check=True)
    return World(done, waiting, activities["activities"][0]["id"], checkout)


@dataclass
class Run:
    args: list[str]
    env: dict[str, str]
    input: str = ""
    cwd: Path | None = None


def run_together(*runs: Run, timeout: float = 60) -> list[subprocess.CompletedProcess[str]]:
    """Run the commands side by side (the suite runs on two cores), each as a user would:
    the installed `jules`, stdin a pipe."""
    processes = []
    for spec in runs:
        process = subprocess.Popen(
            [*jules_command(), *spec.args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **spec.env},
            cwd=spec.cwd,
        )
        processes.append((process, spec))
    results = []
    for process, spec in processes:
        stdout, stderr = process.communicate(spec.input, timeout=timeout)
        results.append(
            subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
        )
    return results


def run(args: list[str], env: dict[str, str], *, input: str = "", cwd: Path | None = None):
    return run_together(Run(args, env, input, cwd))[0]


# (id, arguments, exit code, stdin): every command that may touch the key.
COMMANDS: list[tuple[str, Callable[[World], list[str]], int, str]] = [
    ("auth-login", lambda w: ["auth", "login", "--with-key"], 0, KEY + "\n"),
    ("auth-status", lambda w: ["auth", "status"], 0, ""),
    ("auth-status-json", lambda w: ["auth", "status", "--json"], 0, ""),
    ("auth-logout", lambda w: ["auth", "logout"], 0, ""),
    ("config-list", lambda w: ["config", "list"], 0, ""),
    ("config-list-json", lambda w: ["config", "list", "--json"], 0, ""),
    ("config-get", lambda w: ["config", "get", "repo"], 3, ""),
    ("config-path", lambda w: ["config", "path"], 0, ""),
    ("sources-list", lambda w: ["sources", "list"], 0, ""),
    ("sources-show", lambda w: ["sources", "show", "jules-demo/hello-world"], 0, ""),
    ("session-new", lambda w: ["session", "new", "--repo", "jules-demo/hello-world", "Hi"], 0, ""),
    ("session-list", lambda w: ["session", "list", "--json"], 0, ""),
    ("session-show", lambda w: ["session", "show", w.done], 0, ""),
    ("session-approve", lambda w: ["session", "approve", w.waiting], 0, ""),
    ("session-send", lambda w: ["session", "send", w.waiting, "hello"], 0, ""),
    ("session-wait", lambda w: ["session", "wait", w.done], 0, ""),
    ("session-diff", lambda w: ["session", "diff", w.done, "-o", "../saved.patch"], 0, ""),
    ("session-apply", lambda w: ["session", "apply", w.done], 0, ""),
    ("session-artifacts", lambda w: ["session", "artifacts", w.done, "-o", "../arts"], 0, ""),
    ("session-archive", lambda w: ["session", "archive", w.done], 0, ""),
    ("session-unarchive", lambda w: ["session", "unarchive", w.done], 0, ""),
    ("session-delete", lambda w: ["session", "delete", w.done, "--yes"], 0, ""),
    ("activities-list", lambda w: ["activities", "list", w.done], 0, ""),
    ("activities-show", lambda w: ["activities", "show", w.done, w.activity], 0, ""),
    ("activities-tail", lambda w: ["activities", "tail", w.done, "--json"], 0, ""),
    ("api", lambda w: ["api", f"sessions/{w.done}/activities", "--paginate"], 0, ""),
]


@pytest.mark.parametrize(
    ("args", "code", "stdin"),
    [pytest.param(args, code, stdin, id=name) for name, args, code, stdin in COMMANDS],
)
def test_no_command_shows_the_key(server, tmp_path, args, code, stdin):
    """Each command twice: the key from JULES_API_KEY; the key from the profile, --debug."""
    env_world = make_world(server, tmp_path / "env")
    profile_world = make_world(server, tmp_path / "profile")
    profile_config = tmp_path / "profile" / "config"
    config.Profile(path=profile_config / "config.toml").set(config.KEY_FIELD, KEY)
    from_env, from_profile = run_together(
        Run(
            args(env_world),
            {"JULES_API_URL": server.url, "JULES_API_KEY": KEY},
            stdin,
            env_world.checkout,
        ),
        Run(
            ["--debug", *args(profile_world)],
            {"JULES_API_URL": server.url, "JULES_CONFIG_DIR": str(profile_config)},
            stdin,
            profile_world.checkout,
        ),
    )
    for result in (from_env, from_profile):
        assert result.returncode == code, result.stderr
        assert_kept_secret(result, tmp_path)
    offline = args(env_world)[0] == "config" or args(env_world)[:2] == ["auth", "logout"]
    assert offline or "debug: " in from_profile.stderr
    if args(env_world)[:2] == ["auth", "status"]:
        assert config.mask_key(KEY) in from_env.stdout and "env" in from_env.stdout
        assert config.mask_key(KEY) in from_profile.stdout and "profile" in from_profile.stdout


def test_the_files_commands_write_hold_no_key_but_hold_their_content(server, tmp_path):
    world = make_world(server, tmp_path)
    env = {"JULES_API_URL": server.url, "JULES_API_KEY": KEY, "JULES_DEBUG": "1"}
    assert run(["session", "diff", world.done, "-o", "../saved.patch"], env, cwd=world.checkout)
    assert "diff --git" in (tmp_path / "saved.patch").read_text()
    result = run(["session", "artifacts", world.done, "-o", "../arts"], env, cwd=world.checkout)
    assert result.returncode == 0 and any((tmp_path / "arts").iterdir())
    result = run(["session", "apply", world.done], env, cwd=world.checkout)
    assert result.returncode == 0 and (world.checkout / "hello.py").exists()
    assert not files_leaking(tmp_path)


# -- failure paths --------------------------------------------------------------------


def plain_and_debug(
    args: list[str], env: dict[str, str], *, input: str = ""
) -> list[subprocess.CompletedProcess[str]]:
    """The command as is, and with --debug (whose traces and tracebacks say the most)."""
    return run_together(Run(args, env, input), Run(["--debug", *args], env, input))


@pytest.mark.parametrize(
    ("fault", "args", "code"),
    [
        pytest.param({"status": 403, "times": 2}, ["session", "list"], 4, id="403"),
        pytest.param(
            {"status": 429, "retryAfter": 0, "times": None}, ["sources", "list"], 6, id="429"
        ),
        pytest.param(
            {"status": 500, "retryAfter": 0, "times": None}, ["auth", "status"], 7, id="500"
        ),
        pytest.param(
            {"status": 400, "times": 2}, ["session", "new", "--no-repo", "x"], 5, id="400"
        ),
    ],
)
def test_api_errors_do_not_show_the_key(server, tmp_path, fault, args, code):
    server.fault(**fault)
    env = {"JULES_API_URL": server.url, "JULES_API_KEY": KEY}
    for result in plain_and_debug(args, env):
        assert result.returncode == code, result.stderr
        assert result.stderr.strip().splitlines()[-1].startswith("Error: ")
        assert_kept_secret(result, tmp_path)


@pytest.mark.parametrize(
    ("args", "stdin"),
    [
        (["sources", "list"], ""),
        (["auth", "status"], ""),
        (["auth", "login", "--with-key"], WRONG_KEY + "\n"),
    ],
    ids=["sources-list", "auth-status", "auth-login"],
)
def test_a_refused_key_is_not_shown(server, tmp_path, args, stdin):
    env = {"JULES_API_URL": server.url}
    if args[:2] != ["auth", "login"]:
        env["JULES_API_KEY"] = WRONG_KEY
    for result in plain_and_debug(args, env, input=stdin):
        assert result.returncode == 4, result.stderr
        assert "Error:" in result.stderr
        assert_kept_secret(result, tmp_path, WRONG_KEY)
    assert not (tmp_path / "jules-config" / "config.toml").exists()  # nothing stored


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_connection_refused_does_not_show_the_key(tmp_path):
    url = f"http://127.0.0.1:{_closed_port()}/v1alpha"
    # The retries happen (five tries), without their seconds of back-off.
    env = {"JULES_API_URL": url, "JULES_API_KEY": KEY, "JULES_RETRY_DELAY_SCALE": "0.01"}
    for result in plain_and_debug(["session", "list"], env):
        assert result.returncode == 7, result.stderr
        assert "127.0.0.1" in result.stderr.splitlines()[-1]
        assert_kept_secret(result, tmp_path)


# -- a misbehaving server: echoes, non-JSON answers, wrong shapes ---------------------


class MisbehavingServer:
    """Loopback HTTP server whose answer is set per test; it records every request."""

    def __init__(self) -> None:
        self.answer: tuple[int, dict[str, str], bytes] = (200, {}, b"{}")
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                headers = dict(self.headers.items())
                owner.requests.append((self.command, self.path, headers))
                length = int(headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                status, extra, body = owner.answer
                if body == b"ECHO":
                    # A debugging proxy's error page that lists the request it got.
                    listed = "".join(f"<li>{k}: {v}</li>" for k, v in headers.items())
                    body = f"<html><body>Bad gateway for {self.path}<ul>{listed}</ul>".encode()
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_DELETE = _any

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/v1alpha"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="module")
def misbehaving() -> Iterator[MisbehavingServer]:
    server = MisbehavingServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def bad_server(misbehaving: MisbehavingServer) -> MisbehavingServer:
    misbehaving.requests.clear()
    return misbehaving


@pytest.mark.parametrize(
    ("answer", "args", "code"),
    [
        pytest.param(
            (502, {"Retry-After": "0", "Content-Type": "text/html"}, b"ECHO"),
            ["sources", "list"],
            7,
            id="proxy-echoes-headers",
        ),
        pytest.param(
            (401, {"Content-Type": "text/plain"}, f"bad key {KEY[:14]}".encode()),
            ["session", "list"],
            4,
            id="error-quotes-part-of-key",
        ),
        pytest.param(
            (200, {"Content-Type": "application/json"}, b"{not json"),
            ["session", "send", "123", "hi"],
            7,
            id="not-json",
        ),
    ],
)
def test_a_server_echoing_the_key_does_not_make_us_show_it(
    bad_server, tmp_path, answer, args, code
):
    bad_server.answer = answer
    env = {"JULES_API_URL": bad_server.url, "JULES_API_KEY": KEY}
    for result in plain_and_debug(args, env):
        assert result.returncode == code, result.stderr
        assert_kept_secret(result, tmp_path)
        assert "Traceback" not in result.stderr
    assert bad_server.requests, "the request never reached the server"


@pytest.mark.parametrize(
    ("body", "args"),
    [
        (b'{"sessions": "not a list"}', ["session", "list"]),
        (b'{"sessions": [{"id": 5, "state": {"x": 1}}]}', ["session", "list"]),
        (b'{"activities": [7]}', ["activities", "list", "123"]),
    ],
    ids=["list-not-list", "bad-items", "activity-not-object"],
)
def test_a_crash_and_its_traceback_do_not_show_the_key(bad_server, tmp_path, body, args):
    """A wrong-shaped answer: whatever the command makes of it (a clean error, or an
    unexpected exception with a traceback under --debug), the key is not in it."""
    bad_server.answer = (200, {"Content-Type": "application/json"}, body)
    env = {"JULES_API_URL": bad_server.url, "JULES_API_KEY": KEY}
    plain, debug = plain_and_debug(args, env)
    assert bad_server.requests
    for result in (plain, debug):
        assert_kept_secret(result, tmp_path)
        if result.returncode != 0:
            assert result.stderr.strip().splitlines()[-1].startswith("Error: ")
    assert "Traceback" not in plain.stderr


@pytest.mark.parametrize(
    "key",
    ["sk-TEST-9f8e7d6c5b4a-S\u00e9CRET", "sk-TEST-9f8e7d6c5b4a-\x01SECRET", "sk-TEST 9f8e7d6c5b4a"],
    ids=["non-ascii", "control", "space"],
)
def test_a_key_that_cannot_be_sent_is_a_clear_error_without_the_key(bad_server, tmp_path, key):
    env = {"JULES_API_URL": bad_server.url, "JULES_API_KEY": key}
    for result in plain_and_debug(["sources", "list"], env):
        assert result.returncode == 2, result.stderr
        assert result.stderr.count("\n") == 1 and "JULES_API_KEY" in result.stderr
        assert_kept_secret(result, tmp_path, key)
    login = run(["auth", "login", "--with-key"], {"JULES_API_URL": bad_server.url}, input=key)
    assert login.returncode == 2 and "standard input" in login.stderr
    assert_kept_secret(login, tmp_path, key)
    assert not bad_server.requests


# -- plain http -----------------------------------------------------------------------


def test_plain_http_to_a_remote_host_is_refused_before_any_request(bad_server, tmp_path):
    # Any request that did go out would reach bad_server through the proxy variables.
    proxy = f"http://127.0.0.1:{bad_server.port}"
    env = {"JULES_API_KEY": KEY, "HTTP_PROXY": proxy, "http_proxy": proxy, "NO_PROXY": ""}
    results = run_together(
        Run(["--api-url", "http://example.com/v1alpha", "sources", "list"], env),
        Run(["--api-url", "http://example.com/v1alpha", "--debug", "auth", "status"], env),
        Run(["session", "list"], {**env, "JULES_API_URL": "http://10.0.0.1:8765/v1alpha"}),
    )
    for result in results:
        assert result.returncode == 2, result.stderr
        assert result.stderr.count("\n") == 1 and "plain http" in result.stderr
        assert_kept_secret(result, tmp_path)
    login = run(
        ["--api-url", "http://example.com/v1alpha", "auth", "login", "--with-key"],
        {"HTTP_PROXY": proxy, "http_proxy": proxy},
        input=KEY,
    )
    assert login.returncode == 2, login.stderr
    assert not (tmp_path / "jules-config" / "config.toml").exists()
    assert not bad_server.requests


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]"])
def test_plain_http_to_loopback_is_allowed(host, tmp_path):
    family_host = "::1" if host == "[::1]" else "127.0.0.1"
    try:
        handle = start_server(Emulator(speed=200, api_key=KEY), host=family_host)
    except OSError:
        pytest.skip(f"no loopback {family_host} here")
    try:
        url = f"http://{host}:{handle.port}/v1alpha"
        result = run(["sources", "list"], {"JULES_API_URL": url, "JULES_API_KEY": KEY})
        assert result.returncode == 0, result.stderr
        assert "jules-demo/hello-world" in result.stdout
        assert handle.requests()[0]["apiKey"] == KEY  # sent, as a header
        assert "key" not in handle.requests()[0]["query"]
    finally:
        handle.shutdown()


def test_plain_http_to_loopback_never_goes_through_a_proxy(server, bad_server, tmp_path):
    """A proxy from HTTP_PROXY would carry the key in plain text off this machine (and
    could not reach our loopback anyway): loopback URLs are always spoken to directly."""
    proxy = f"http://127.0.0.1:{bad_server.port}"
    env = {
        "JULES_API_URL": server.url,
        "JULES_API_KEY": KEY,
        **{name: proxy for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")},
    }
    result = run(["--debug", "sources", "list"], env)
    assert result.returncode == 0, result.stderr
    assert not bad_server.requests
    assert_kept_secret(result, tmp_path)


# -- the config file ------------------------------------------------------------------


def test_auth_login_creates_a_private_file_in_a_private_folder(server, tmp_path):
    folder = tmp_path / "jules-config"
    assert not folder.exists()
    result = run(["auth", "login", "--with-key"], {"JULES_API_URL": server.url}, input=KEY)
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / "config.toml").stat().st_mode) == 0o600
    # No temporary file left; the lock that serializes writers is private too.
    assert sorted(p.name for p in folder.iterdir()) == ["config.toml", "config.toml.lock"]
    assert stat.S_IMODE((folder / "config.toml.lock").stat().st_mode) == 0o600
    assert KEY in (folder / "config.toml").read_text()
    assert_kept_secret(result, tmp_path)


def test_a_config_file_others_can_read_warns_once_and_the_command_works(server, tmp_path):
    config.Profile().set(config.KEY_FIELD, KEY)
    path = config.config_path()
    os.chmod(path, 0o644)
    result = run(["--debug", "sources", "list"], {"JULES_API_URL": server.url})
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "Warning" in line]
    assert len(warnings) == 1
    assert str(path) in warnings[0] and f"chmod 600 {path}" in warnings[0]
    assert_kept_secret(result, tmp_path)
    # The key in force from the environment does not make the file's key any safer.
    result = run(["sources", "list"], {"JULES_API_URL": server.url, "JULES_API_KEY": KEY})
    assert result.returncode == 0 and "chmod 600" in result.stderr
    # Storing a key again rewrites the file private.
    result = run(["auth", "login", "--with-key"], {"JULES_API_URL": server.url}, input=KEY)
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    result = run(["sources", "list"], {"JULES_API_URL": server.url})
    assert result.returncode == 0 and "Warning" not in result.stderr


def test_a_readable_config_file_without_a_key_gives_no_warning(server, tmp_path):
    config.Profile().set("repo", "jules-demo/hello-world")
    os.chmod(config.config_path(), 0o644)
    result = run(["sources", "list"], {"JULES_API_URL": server.url, "JULES_API_KEY": KEY})
    assert result.returncode == 0 and "Warning" not in result.stderr


def test_no_request_carried_the_key_in_its_url(server, tmp_path):
    """Last in this module: every request the emulator saw so far (every command above),
    plus a few here, sent the key in the X-Goog-Api-Key header only, never as ?key=."""
    world = make_world(server, tmp_path)
    env = {"JULES_API_URL": server.url, "JULES_API_KEY": KEY}
    run_together(
        Run(["session", "list"], env),
        Run(["activities", "tail", world.done, "--json"], env),
        Run(["api", f"sessions/{world.done}"], env),
    )
    log = server.requests()
    assert len(log) >= 3
    for entry in log:
        assert "key" not in entry["query"], entry
        for secret in (KEY, WRONG_KEY):
            assert not leaks(entry["path"] + json.dumps(entry["query"]), secret), entry
        assert entry["apiKey"] in (KEY, WRONG_KEY), entry  # from the header


def test_an_unexpected_crash_quoting_the_key_shows_neither_line_nor_traceback_with_it(
    monkeypatch, capsys
):
    """Defence in depth for bugs to come: whatever an unexpected exception says, the
    entry point's error line and its --debug traceback hide the key."""
    from jules_cli import __main__ as entry
    from jules_cli.cli import app as app_module

    monkeypatch.setenv("JULES_API_KEY", KEY)
    monkeypatch.setattr(sys, "stdout", sys.stdout)  # main wraps it; undone after the test

    def crashing_app(*args, **kwargs):
        config.resolve_key(None)  # as every command that talks to the API does first
        raise RuntimeError(f"request headers {{'x-goog-api-key': '{KEY}'}}")

    monkeypatch.setattr(app_module, "build_app", lambda only=None: crashing_app)
    for argv, traceback_shown in (
        (["session", "list"], False),
        (["--debug", "sources", "list"], True),
    ):
        assert entry.main(argv) == 1
        stderr = capsys.readouterr().err
        assert "unexpected RuntimeError: request headers" in stderr
        assert ("Traceback" in stderr) is traceback_shown
        assert not leaks(stderr), stderr


def test_the_in_process_emulator_keeps_no_key_in_its_state(tmp_path):
    env = {"JULES_API_KEY": KEY, "JULES_EMULATOR": "1"}
    created, listed = run_together(
        Run(["session", "new", "--no-repo", "Add a greeting"], env),
        Run(["--debug", "sources", "list"], env),
    )
    assert created.returncode == 0 and listed.returncode == 0, created.stderr + listed.stderr
    assert any((tmp_path / "jules-config").iterdir())  # the state file is there
    for result in (created, listed):
        assert_kept_secret(result, tmp_path)


@pytest.mark.parametrize(
    "args",
    [
        ["session", "new", "--repo", ".", "Hi"],
        ["session", "list", "--repo", "."],
        ["--debug", "session", "new", "Hi"],  # the repository implied by the checkout
    ],
    ids=["new", "list", "implied"],
)
def test_credentials_in_a_git_remote_url_are_never_shown(server, tmp_path, args):
    """`--repo .` (and the implied checkout) name the remotes they found when none is
    GitHub's: without the user name and password of `https://user:token@host/...`."""
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    token = "ghp_SECRETtoken0123456789"
    for command in (
        ["init", "-q"],
        ["remote", "add", "origin", f"https://me:{token}@gitlab.com/me/x.git"],
        ["remote", "add", "upstream", f"deploy:{token}@example.com:me/y.git"],
    ):
        subprocess.run(["git", *command], cwd=checkout, check=True, capture_output=True)
    result = run(args, {"JULES_API_URL": server.url, "JULES_API_KEY": KEY}, cwd=checkout)
    assert result.returncode in (2, 3), result.stderr
    assert "gitlab.com/me/x.git" in result.stderr
    for text in (result.stdout, result.stderr):
        assert token not in text and token[:8] not in text and "me:" not in text
