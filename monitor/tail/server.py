"""The sidecar's HTTP endpoint (``--metrics-addr``): ``/metrics``, ``/healthz``, ``/readyz``.

Off by default. The address is ``HOST:PORT``; a bare ``PORT`` (or ``:PORT``) listens on the
loopback interface only (``127.0.0.1``): the endpoint is exposed beyond the machine (or pod)
only when an address such as ``0.0.0.0:9464`` says so. Port 0 picks a free port (the log line
``metrics on http://...`` and the status file name the one chosen).

``/metrics``
    Prometheus text format from :class:`monitor.tail.metrics.TailMetrics` (``prometheus_client``).
``/healthz`` (liveness)
    200 while the main loop has gone round within ``health_stall_s`` seconds (default 60): the
    process is alive and its loop is not stuck. 503 otherwise; a restart is the cure.
``/readyz`` (readiness)
    200 when all of: the loop is running (started, not shutting down, not stalled), the store is
    writable (a file can be created and removed in its ``tmp/``, and ``events/`` and
    ``quarantine/`` are writable), and no followed file has waited for a commit for more than
    ``ready_commit_age_s`` seconds (default 60): with bytes waiting, the last commit of that
    file is recent enough; with nothing to read, there is nothing to be late with. 503
    otherwise, with the reasons. The body is JSON either way.

Example:
    >>> parse_addr("9464"), parse_addr(":9464"), parse_addr("0.0.0.0:80"), parse_addr("[::1]:9464")
    (('127.0.0.1', 9464), ('127.0.0.1', 9464), ('0.0.0.0', 80), ('::1', 9464))
    >>> readiness(running=True, stalled_s=0.5, stall_s=60, writable=None, waiting_s=0.0, commit_age_s=60)
    []
    >>> readiness(running=True, stalled_s=0.5, stall_s=60, writable="events/ is not writable", waiting_s=75.0,
    ...           commit_age_s=60)
    ['store not writable: events/ is not writable', 'bytes waiting for 75 s without a commit (limit 60 s)']
"""

from __future__ import annotations

import json
import os
import socket
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable

from monitor.errors import UserError

__all__ = ["parse_addr", "readiness", "store_writable", "ProbeServer"]

LOOPBACK = "127.0.0.1"


def parse_addr(text: str) -> tuple[str, int]:
    """``HOST:PORT``, ``[IPv6]:PORT``, ``:PORT`` or ``PORT`` -> (host, port); no host = loopback.

    >>> parse_addr("localhost:9")
    ('localhost', 9)
    >>> parse_addr("nope")
    Traceback (most recent call last):
    ...
    monitor.errors.UserError: metrics address 'nope': expected HOST:PORT or PORT (e.g. 127.0.0.1:9464)
    >>> parse_addr("9\u00b2")  # a superscript digit is a digit to str.isdigit, not to int()
    Traceback (most recent call last):
    ...
    monitor.errors.UserError: metrics address '9²': expected HOST:PORT or PORT (e.g. 127.0.0.1:9464)
    """
    bad = UserError(f"metrics address {text!r}: expected HOST:PORT or PORT (e.g. 127.0.0.1:9464)")
    value = text.strip()
    if value.startswith("["):
        host, sep, port = value[1:].partition("]:")
        if not sep:
            raise bad
    elif value.count(":") == 1:
        host, _, port = value.partition(":")
    elif ":" not in value:
        host, port = "", value
    else:
        raise bad
    if not (port.isascii() and port.isdigit()) or not 0 <= int(port) <= 65535 or any(c.isspace() for c in host):
        raise bad
    return host or LOOPBACK, int(port)


def readiness(*, running: bool, stalled_s: float, stall_s: float, writable: str | None, waiting_s: float,
              commit_age_s: float) -> list[str]:
    """Why the sidecar is not ready (``[]``: ready); see the module docstring.

    ``stalled_s``: seconds since the loop last went round; ``writable``: why the store is not
    writable (None: it is); ``waiting_s``: the longest time a file with unread bytes has gone
    without a commit.

    >>> readiness(running=False, stalled_s=0, stall_s=60, writable=None, waiting_s=0, commit_age_s=60)
    ['not running (starting or shutting down)']
    """
    reasons = []
    if not running:
        reasons.append("not running (starting or shutting down)")
    if stalled_s > stall_s:
        reasons.append(f"main loop stalled for {stalled_s:.0f} s (limit {stall_s:g} s)")
    if writable:
        reasons.append(f"store not writable: {writable}")
    if waiting_s > commit_age_s:
        reasons.append(f"bytes waiting for {waiting_s:.0f} s without a commit (limit {commit_age_s:g} s)")
    return reasons


def store_writable(root: Path) -> str | None:
    """None when a file can be created and removed in ``root/tmp`` and ``events/`` and
    ``quarantine/`` are writable; else why not.

    >>> import tempfile
    >>> store_writable(Path(tempfile.mkdtemp())) is not None
    True
    """
    for sub in ("events", "quarantine", "tmp"):
        d = root / sub
        if not d.is_dir():
            return f"{sub}/ is missing"
        if not os.access(d, os.W_OK | os.X_OK):
            return f"{sub}/ is not writable"
    probe = root / "tmp" / f".ready-{uuid.uuid4().hex[:12]}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, b"1")
        finally:
            os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        return f"cannot create a file in tmp/ ({exc.strerror or exc})"
    return None


class ProbeServer:
    """``/metrics``, ``/healthz`` and ``/readyz`` on one address, served by a daemon thread.

    ``metrics()`` returns the exposition bytes; ``health()`` and ``ready()`` return the list of
    reasons for failing (``[]`` = 200).

    >>> import urllib.request, urllib.error
    >>> srv = ProbeServer("127.0.0.1:0", metrics=lambda: b"up 1\\n", content_type="text/plain",
    ...                   health=lambda: [], ready=lambda: ["store not writable: tmp/ is missing"])
    >>> srv.start()
    >>> urllib.request.urlopen(srv.url + "/healthz").read()
    b'{"status": "alive"}\\n'
    >>> try:
    ...     urllib.request.urlopen(srv.url + "/readyz")
    ... except urllib.error.HTTPError as e:
    ...     print(e.code, e.read().decode().strip())
    503 {"status": "not ready", "reasons": ["store not writable: tmp/ is missing"]}
    >>> srv.close()
    """

    def __init__(self, addr: str, *, metrics: Callable[[], bytes], content_type: str,
                 health: Callable[[], list[str]], ready: Callable[[], list[str]]) -> None:
        host, port = parse_addr(addr)
        routes: dict[str, Callable[[], tuple[int, str, bytes]]] = {
            "/metrics": lambda: (200, content_type, metrics()),
            "/healthz": lambda: _probe(health(), "alive"),
            "/readyz": lambda: _probe(ready(), "ready"),
        }

        class Handler(BaseHTTPRequestHandler):
            server_version = "llm-monitor-tail"

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                route = routes.get(self.path.split("?", 1)[0])
                if route is None:
                    code, ctype, body = 404, "text/plain; charset=utf-8", b"not found: /metrics, /healthz, /readyz\n"
                else:
                    try:
                        code, ctype, body = route()
                    except Exception as exc:  # noqa: BLE001 - a probe must answer, never kill the thread
                        code, ctype = 500, "text/plain; charset=utf-8"
                        body = f"{type(exc).__name__}: {exc}\n".encode()
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - no access log
                return

        server_cls = type("Server", (ThreadingHTTPServer,), {
            "address_family": socket.AF_INET6 if ":" in host else socket.AF_INET, "daemon_threads": True})
        try:
            self._server = server_cls((host, port), Handler)
        except OSError as exc:
            raise UserError(f"cannot listen on {addr}: {exc.strerror or exc}") from None
        bound = self._server.server_address
        self.host, self.port = str(bound[0]), int(bound[1])
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.5},
                                        name="tail-http", daemon=True)

    @property
    def url(self) -> str:
        """``http://host:port`` of the bound address."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> None:
        """Serve in the background."""
        self._thread.start()

    def close(self) -> None:
        """Stop serving and release the port."""
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()


def _probe(reasons: list[str], word: str) -> tuple[int, str, bytes]:
    body = {"status": word} if not reasons else {"status": f"not {word}", "reasons": reasons}
    return (200 if not reasons else 503), "application/json", (json.dumps(body) + "\n").encode()
