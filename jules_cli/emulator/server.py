"""Serve the emulator over HTTP on loopback: in a background thread for tests
(start_server) or in the foreground for `jules emulator serve` (serve_forever)."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import socket
import socketserver
import struct
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import IO, Any
from wsgiref.handlers import SimpleHandler
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer

from jules_cli.emulator.app import DropConnection, EmulatorApp
from jules_cli.emulator.state import Emulator, load_seed_file

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
# The key printed for clients when the emulator accepts any key.
DEMO_API_KEY = "jules-emulator-key"


class _Handler(ServerHandler):
    request_handler: _RequestHandler

    def handle_error(self) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, DropConnection):
            # Answer nothing more: the server then closes the socket, and the client sees
            # a connection dropped mid-request (or mid-body, for a truncated answer). The
            # base close() skips the access log, which cannot cope with a request that
            # has no status.
            if exc.reset:
                self.request_handler.server.abort_on_close(self.request_handler.connection)
            SimpleHandler.close(self)
            return
        super().handle_error()


class _RequestHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """No per-request lines on stderr."""

    def handle(self) -> None:
        # wsgiref's own handle(), with the ServerHandler that knows DropConnection.
        self.raw_requestline = self.rfile.readline(65537)
        if len(self.raw_requestline) > 65536:
            self.requestline = ""
            self.request_version = ""
            self.command = ""
            self.send_error(414)
            return
        if not self.parse_request():
            return
        handler = _Handler(
            self.rfile, self.wfile, self.get_stderr(), self.get_environ(), multithread=True
        )
        handler.request_handler = self
        handler.run(self.server.get_app())


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    # The listen queue. socketserver's default of 5 dropped connections (1.2 % of requests
    # failed) with 200 concurrent clients; the kernel caps this at net.core.somaxconn.
    request_queue_size = 1024

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._abort_lock = threading.Lock()
        self._to_abort: set[socket.socket] = set()

    def abort_on_close(self, connection: socket.socket) -> None:
        """Close this connection with a TCP reset (RST) instead of a clean FIN."""
        with self._abort_lock:
            self._to_abort.add(connection)

    def shutdown_request(self, request: Any) -> None:
        with self._abort_lock:
            abort = request in self._to_abort
            self._to_abort.discard(request)
        if not abort:
            super().shutdown_request(request)
            return
        # SO_LINGER on with a zero timeout makes close() send RST and drop unsent data,
        # and no shutdown() first: that would send the clean FIN this fault avoids.
        with contextlib.suppress(OSError):
            request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_request(request)

    def server_bind(self) -> None:
        # HTTPServer.server_bind() resolves the host name (getfqdn), which can take
        # seconds on machines with slow DNS; loopback needs none of that.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = port
        self.setup_environ()


class _ThreadingServer6(_ThreadingServer):
    address_family = socket.AF_INET6


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class ServerHandle:
    """A running emulator server. Also the `emulator_server` test fixture's value."""

    def __init__(self, emulator: Emulator, app: EmulatorApp, server: _ThreadingServer) -> None:
        self.emulator = emulator
        self.app = app
        self._server = server
        host, port = server.server_address[:2]
        self.host = str(host)
        self.port = int(port)
        netloc = f"[{self.host}]" if ":" in self.host else self.host
        self.root_url = f"http://{netloc}:{self.port}"
        self.url = f"{self.root_url}/v1alpha"
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"jules-emulator-{self.port}",
            daemon=True,
        )
        self._thread.start()

    @property
    def api_key(self) -> str:
        """The key clients should send: the required one, else the demo key."""
        return self.emulator.api_key or DEMO_API_KEY

    @property
    def env(self) -> dict[str, str]:
        """Environment variables that point a `jules` subprocess at this server."""
        return {"JULES_API_URL": self.url, "JULES_API_KEY": self.api_key}

    def requests(self) -> list[dict[str, Any]]:
        return self.app.requests()

    def clear_requests(self) -> None:
        self.app.clear_requests()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until no API request is being handled (a delayed one has finished and
        done its work); False if that takes longer than `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while self.app.in_flight():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True

    def fault(self, **spec: Any) -> None:
        """Queue one fault, e.g. fault(status=429, retryAfter=0, times=2, path="sessions")."""
        self.app.add_faults([spec])

    def advance(self, seconds: float) -> None:
        self.emulator.advance(seconds)

    def settle(self) -> None:
        self.emulator.settle()

    def reset(self) -> None:
        self.app.reset()

    def is_running(self) -> bool:
        return self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def shutdown(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


def start_server(
    emulator: Emulator,
    host: str = DEFAULT_HOST,
    port: int = 0,
    *,
    allow_remote: bool = False,
    app: EmulatorApp | None = None,
) -> ServerHandle:
    """Serve `emulator` in a background thread; port 0 picks a free port.

    Only loopback addresses unless allow_remote: the emulator has no real security.
    OSError if the port is taken.
    """
    if not allow_remote and not is_loopback_host(host):
        raise ValueError(
            f"refusing to serve the emulator on {host}: it is meant for loopback "
            "(127.0.0.1, ::1, localhost) only"
        )
    server_class = _ThreadingServer6 if ":" in host else _ThreadingServer
    server = server_class((host.strip("[]"), port), _RequestHandler)
    app = app or EmulatorApp(emulator, freeze_gc=True)
    server.set_app(app)
    return ServerHandle(emulator, app, server)


def serve_forever(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    speed: float = 1.0,
    seed_file: str | Path | None = None,
    api_key: str | None = None,
    faults: list[dict[str, Any]] | None = None,
    allow_remote: bool = False,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
    bash_output: bool | None = None,
) -> int:
    """Run `jules emulator serve` until Ctrl-C; returns the exit code (0).

    Prints the `export JULES_API_URL=...` and `export JULES_API_KEY=...` lines on stdout
    (flushed at once, so `... | head -2` or a reading script gets them), a banner on
    stderr. Raises ValueError for a bad seed file, speed or host, OSError if the port
    cannot be bound.
    """
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    seed = load_seed_file(seed_file) if seed_file else None
    emulator = Emulator(speed=speed, api_key=api_key, seed=seed, bash_output=bash_output)
    handle = start_server(emulator, host, port, allow_remote=allow_remote)
    try:
        if faults:
            handle.app.add_faults(faults)
        print(f"export JULES_API_URL={handle.url}", file=stdout)
        print(f"export JULES_API_KEY={handle.api_key}", file=stdout)
        stdout.flush()
        print(
            f"Jules API emulator on {handle.url} (speed {speed:g}); "
            f"control plane at {handle.root_url}/_emulator/. Press Ctrl-C to stop.",
            file=stderr,
        )
        stderr.flush()
        while handle.is_running():
            handle.wait(0.5)
    except KeyboardInterrupt:
        print("Emulator stopped.", file=stderr)
    finally:
        handle.shutdown()
    return 0


def control(root_url: str, method: str, action: str, body: Any = None) -> Any:
    """Call the control plane of a running emulator (a convenience for scripts)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{root_url.rstrip('/')}/_emulator/{action}",
        data=data,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")
