"""A hostile API server on loopback, for tests: every answer is scripted to misbehave.

`HostileServer` listens on 127.0.0.1 only, answers each request with whatever its
`handler(request)` returns (an `Answer`), records every request, and stops by itself after
`lifetime` seconds whatever happens (a test that forgets it cannot leave it running).
Each connection gets one answer and is closed (`Connection: close`), so a test controls
every byte. Ready-made misbehaviour, all bounded:

* `Answer.json(...)`, `Answer.raw(...)`: any status, headers and body, also bodies that
  are not valid JSON (NaN, deep nesting, lone surrogates) or that echo the request;
* `drip`: the whole answer (status line, headers, body) sent one byte per `drip` seconds;
* `lose`: the request is read (and counted), then the connection closed unanswered;
* `huge`: a Content-Length of that many bytes, streamed until the client hangs up;
* `gzip_bomb(n)`: a small gzip body that decompresses to n bytes of JSON;
* `pages(...)`: list answers with page tokens that repeat or never end.
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

KEY_HEADER = "x-goog-api-key"


@dataclass
class Request:
    method: str
    path: str  # without the query
    query: dict[str, str]
    headers: dict[str, str]  # names in lower case
    body: bytes
    at: float = field(default_factory=time.monotonic)  # when it arrived

    @property
    def key(self) -> str:
        return self.headers.get(KEY_HEADER, "")


@dataclass
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    drip: float | None = None  # seconds per byte of the whole answer
    lose: bool = False  # close without answering
    huge: int | None = None  # announce this many bytes and stream until the client leaves

    @classmethod
    def json(cls, data, status: int = 200, **headers: str) -> Answer:
        return cls(
            status, {"Content-Type": "application/json", **headers}, json.dumps(data).encode()
        )

    @classmethod
    def raw(cls, text: str | bytes, status: int = 200, **headers: str) -> Answer:
        body = text.encode() if isinstance(text, str) else text
        return cls(status, {"Content-Type": "application/json", **headers}, body)


REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 429: "Too Many Requests", 500: "Error"}


def not_found() -> Answer:
    return Answer.json(
        {
            "error": {
                "code": 404,
                "message": "Requested entity was not found.",
                "status": "NOT_FOUND",
            }
        },
        404,
    )


class HostileServer:
    def __init__(self, handler: Callable[[Request], Answer] | None = None, *, lifetime: float = 60):
        self.handler = handler or (lambda request: Answer.json({}))
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._socket = socket.create_server(("127.0.0.1", 0))
        self._socket.settimeout(0.2)
        self.port = self._socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/v1alpha"
        self._deadline = time.monotonic() + lifetime
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    # -- lifecycle ----------------------------------------------------------------------

    def __enter__(self) -> HostileServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)
        self._socket.close()

    @property
    def stopping(self) -> bool:
        return self._stopped.is_set() or time.monotonic() > self._deadline

    def calls(self, method: str | None = None) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if method is None or r.method == method]

    # -- serving ------------------------------------------------------------------------

    def _serve(self) -> None:
        while not self.stopping:
            try:
                connection, _ = self._socket.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._answer, args=(connection,), daemon=True).start()

    def _answer(self, connection: socket.socket) -> None:
        with connection:
            connection.settimeout(5)
            try:
                request = self._read(connection)
            except (OSError, ValueError):
                return
            if request is None:
                return
            with self._lock:
                self.requests.append(request)
            answer = self.handler(request)
            # The client leaving mid-answer is what most of these answers are for.
            with contextlib.suppress(OSError):
                self._send(connection, answer)

    def _read(self, connection: socket.socket) -> Request | None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = connection.recv(65536)
            if not chunk:
                return None
            data += chunk
            if len(data) > 1_000_000:
                raise ValueError("headers too long")
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _version = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length") or 0)
        while len(rest) < length:
            chunk = connection.recv(65536)
            if not chunk:
                break
            rest += chunk
        parts = urlsplit(target)
        return Request(method, parts.path, dict(parse_qsl(parts.query)), headers, rest[:length])

    def _send(self, connection: socket.socket, answer: Answer) -> None:
        if answer.lose:
            return
        headers = {"Connection": "close", **answer.headers}
        length = answer.huge if answer.huge is not None else len(answer.body)
        headers.setdefault("Content-Length", str(length))
        reason = REASONS.get(answer.status, "Whatever")
        head = f"HTTP/1.1 {answer.status} {reason}\r\n" + "".join(
            f"{name}: {value}\r\n" for name, value in headers.items()
        )
        data = head.encode("latin-1") + b"\r\n" + answer.body
        if answer.drip is not None:
            for index in range(len(data)):
                if self.stopping:
                    return
                connection.sendall(data[index : index + 1])
                time.sleep(answer.drip)
            return
        connection.sendall(data)
        if answer.huge is not None:
            block = b" " * 65536
            sent = len(answer.body)
            while sent < answer.huge and not self.stopping:
                connection.sendall(block)
                sent += len(block)


# -- ready-made misbehaviour ---------------------------------------------------------------


def gzip_bomb(decoded_bytes: int) -> bytes:
    """A gzip body of a JSON object holding one string of `decoded_bytes` spaces, made
    without holding the decoded text in memory (about 1/1000 of it compressed), and fast:
    each 1 MiB block of spaces is compressed once and repeated, a full flush between
    blocks making every block's compressed form the same; the trailer's CRC-32 and
    size are those of the whole text, so it is a valid gzip stream."""
    head, tail = b'{"sessions": [], "padding": "', b'"}'
    block = b" " * (1 << 20)
    packer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)  # raw deflate
    parts = [packer.compress(head) + packer.flush(zlib.Z_FULL_FLUSH)]
    packed = packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH)
    whole, rest = divmod(decoded_bytes, len(block))
    parts.append(packed * whole)
    last = block[:rest] + tail
    parts.append(packer.compress(last) + packer.flush())
    crc = zlib.crc32(head)
    for _ in range(whole):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(last, crc)
    size = len(head) + whole * len(block) + len(last)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # gzip, deflate, no name
    trailer = struct.pack("<II", crc & 0xFFFFFFFF, size & 0xFFFFFFFF)
    return header + b"".join(parts) + trailer


def pages(
    items_key: str, *, repeat: bool = False, empty: bool = False
) -> Callable[[Request], Answer]:
    """List answers that never end: with `repeat`, every page sends the same token (a
    circle); with `empty`, every page is empty with a new token; each page otherwise
    brings one item and a new token (for the others to notice nothing)."""

    def handler(request: Request) -> Answer:
        if not request.path.endswith(f"/{items_key}"):
            return not_found()  # one item (`sources/github/o/r`): only the list misbehaves
        number = int(request.query.get("pageToken", "0") or 0)
        token = "7" if repeat else str(number + 1)
        items = [] if empty else [_item(items_key, number)]
        return Answer.json({items_key: items, "nextPageToken": token})

    return handler


def _item(items_key: str, number: int) -> dict:
    if items_key == "sources":
        return {
            "name": f"sources/github/o/r{number}",
            "id": f"github/o/r{number}",
            "githubRepo": {"owner": "o", "repo": f"r{number}"},
        }
    return {"name": f"sessions/{number + 1}", "id": str(number + 1), "state": "COMPLETED"}
