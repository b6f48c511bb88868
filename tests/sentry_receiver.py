"""A loopback Sentry envelope receiver for tests (stdlib only, real HTTP).

It listens on 127.0.0.1 (port 0 = any free port), accepts ``POST /api/<project>/envelope/``,
decodes ``br``, ``gzip`` and plain bodies, parses the envelope framing (an envelope header line,
then items: an item header line and a payload that is either ``length`` bytes long or ends at the
next newline) and records what it received.

Modes (switch at any time with :meth:`SentryReceiver.set_mode`):

* ``"ok"``: 200, the envelope is recorded as *accepted*;
* ``"429"``: 429 with ``Retry-After: N`` (``retry_after`` seconds), nothing accepted;
* ``"500"``: 500, nothing accepted;
* any mode with ``delay``: the answer comes ``delay`` seconds late (a hung server).

Every request is recorded in :attr:`SentryReceiver.requests` (with its status), accepted
envelopes in :attr:`SentryReceiver.envelopes`. :meth:`stop` closes the socket (clients get
"connection refused"); :meth:`start` listens again on the same port.
"""

from __future__ import annotations

import gzip
import json
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

try:  # brotli is a test dependency; without it br bodies are reported as undecodable
    import brotli  # type: ignore[import-untyped]
except ImportError:  # pragma: no cover
    brotli = None

_PATH_RE = re.compile(r"^/api/(?P<project>[^/]+)/envelope/?$")


@dataclass
class EnvelopeItem:
    """One envelope item: its header (``type``, ``length``, ...) and raw payload bytes."""

    headers: dict[str, Any]
    payload: bytes

    @property
    def type(self) -> str | None:
        return self.headers.get("type")

    def json(self) -> Any:
        """The payload parsed as JSON."""
        return json.loads(self.payload)


@dataclass
class Envelope:
    """A decoded envelope plus the raw (decompressed) body it came from."""

    headers: dict[str, Any]
    items: list[EnvelopeItem]
    raw: bytes
    project: str
    http_headers: dict[str, str] = field(default_factory=dict)

    def items_of(self, type_: str) -> list[EnvelopeItem]:
        return [i for i in self.items if i.type == type_]


def decode_body(body: bytes, content_encoding: str | None) -> bytes:
    """Undo the HTTP ``Content-Encoding`` (``br``, ``gzip``, ``deflate`` or none)."""
    enc = (content_encoding or "").strip().lower()
    if enc in ("", "identity"):
        return body
    if enc in ("gzip", "x-gzip"):
        return gzip.decompress(body)
    if enc == "br":
        if brotli is None:
            raise ValueError("brotli body but the brotli module is not installed")
        return brotli.decompress(body)
    if enc == "deflate":
        import zlib

        return zlib.decompress(body)
    raise ValueError(f"unsupported Content-Encoding {enc!r}")


def parse_envelope(data: bytes) -> tuple[dict[str, Any], list[EnvelopeItem]]:
    """Parse Sentry's envelope framing.

    >>> h, items = parse_envelope(b'{"event_id":"ab"}\\n{"type":"event","length":2}\\n{}\\n'
    ...                           b'{"type":"x"}\\n{"a":1}\\n')
    >>> h["event_id"], [i.type for i in items], items[1].json()
    ('ab', ['event', 'x'], {'a': 1})
    """
    pos = 0
    n = len(data)

    def read_line() -> bytes:
        nonlocal pos
        end = data.find(b"\n", pos)
        if end < 0:
            end = n
        line = data[pos:end]
        pos = min(end + 1, n)
        return line

    header_line = read_line()
    headers = json.loads(header_line) if header_line.strip() else {}
    items: list[EnvelopeItem] = []
    while pos < n:
        line = read_line()
        if not line.strip():
            continue
        item_headers = json.loads(line)
        length = item_headers.get("length")
        if length is not None:
            payload = data[pos : pos + int(length)]
            if len(payload) != int(length):
                raise ValueError("truncated envelope item")
            pos += int(length)
            if pos < n and data[pos : pos + 1] == b"\n":
                pos += 1
        else:
            payload = read_line()
        items.append(EnvelopeItem(item_headers, payload))
    return headers, items


@dataclass
class RequestRecord:
    """One HTTP request the receiver answered."""

    path: str
    status: int
    envelope: Envelope | None
    error: str | None
    at: float


class SentryReceiver:
    """Threaded loopback receiver; see the module docstring."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.mode = "ok"
        self.retry_after = 1
        self.delay = 0.0
        self.envelopes: list[Envelope] = []
        self.requests: list[RequestRecord] = []
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._conns: set[socket.socket] = set()

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> "SentryReceiver":
        """Listen (again) on the same port; the first start picks a free port."""
        if self._server is not None:
            return self
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def setup(self) -> None:
                super().setup()
                with receiver._lock:
                    receiver._conns.add(self.connection)

            def finish(self) -> None:
                try:
                    super().finish()
                finally:
                    with receiver._lock:
                        receiver._conns.discard(self.connection)

            def do_POST(self) -> None:  # noqa: N802
                receiver._handle(self)

        class Server(ThreadingHTTPServer):
            allow_reuse_address = True
            daemon_threads = True

        self._server = Server((self.host, self.port), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening: clients now get connection refused."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        # also drop open keep-alive connections, or clients would still be answered on them
        with self._lock:
            conns = list(self._conns)
            self._conns.clear()
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()
        if self._thread is not None:
            self._thread.join(5)
        self._server = None
        self._thread = None

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def dsn(self) -> str:
        return f"http://key@{self.host}:{self.port}/1"

    def set_mode(self, mode: str, retry_after: int | None = None, delay: float | None = None) -> None:
        """``"ok"``, ``"429"`` (with ``Retry-After: retry_after``) or ``"500"``.

        ``delay``: seconds to wait *after* recording an envelope and before answering (a slow
        or hung server: the client may give up although the envelope was stored).
        """
        if mode not in ("ok", "429", "500"):
            raise ValueError(mode)
        with self._lock:
            self.mode = mode
            if retry_after is not None:
                self.retry_after = retry_after
            if delay is not None:
                self.delay = delay

    def clear(self) -> None:
        with self._lock:
            self.envelopes.clear()
            self.requests.clear()

    # -- queries ---------------------------------------------------------------------------
    def items(self, type_: str | None = None) -> list[EnvelopeItem]:
        """Items of accepted envelopes (optionally only one item type)."""
        with self._lock:
            return [i for e in self.envelopes for i in e.items if type_ is None or i.type == type_]

    def events(self) -> list[dict[str, Any]]:
        """Accepted error/message events as dicts."""
        return [i.json() for i in self.items("event")]

    def checkins(self) -> list[dict[str, Any]]:
        return [i.json() for i in self.items("check_in")]

    def wait_for(self, predicate: Any, timeout: float = 5.0) -> bool:
        """Wait until ``predicate(self)`` is true (re-checked after every request)."""
        deadline = time.monotonic() + timeout
        while True:
            if predicate(self):
                return True
            if time.monotonic() >= deadline:
                return False
            with self._cond:
                self._cond.wait(0.05)

    # -- request handling ------------------------------------------------------------------
    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        m = _PATH_RE.match(h.path.split("?", 1)[0])
        env: Envelope | None = None
        error: str | None = None
        delay = 0.0
        if not m:
            status = 404
            error = "bad path"
        else:
            try:
                raw = decode_body(body, h.headers.get("Content-Encoding"))
                headers, items = parse_envelope(raw)
                env = Envelope(headers, items, raw, m.group("project"), dict(h.headers.items()))
            except Exception as exc:  # noqa: BLE001 - report to the test
                error = f"{type(exc).__name__}: {exc}"
            with self._lock:
                mode, retry_after, delay = self.mode, self.retry_after, self.delay
            if error is not None:
                status = 400
            else:
                status = {"ok": 200, "429": 429, "500": 500}[mode]
        if env is not None and delay > 0:
            time.sleep(delay)
        extra: dict[str, str] = {}
        if status == 429:
            extra["Retry-After"] = str(retry_after)
        reply = b"{}" if status == 200 else json.dumps({"detail": error or mode}).encode()
        with self._cond:
            self.requests.append(RequestRecord(h.path, status, env, error, time.time()))
            if status == 200 and env is not None:
                self.envelopes.append(env)
            self._cond.notify_all()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(reply)))
        for k, v in extra.items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(reply)
