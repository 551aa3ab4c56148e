"""Sockets and HTTP/1.1 framing for the sandboxes: a threaded keep-alive server.

The server reads each request completely, hands it to its `RequestProcessor` (the sandbox) and
writes the answer in one piece, or drops the connection unanswered when the processor says so,
which is how the sandboxes simulate a lost connection.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import socketserver
import sys
import threading
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from sandbox.routing import Request, Response

logger = logging.getLogger("sandbox")

_IDLE_TIMEOUT_S = 120  # an idle keep-alive connection is closed after this long


class RequestProcessor(Protocol):
    def process(self, request: Request) -> Response | None:
        """The answer to a request, or None to drop the connection without answering."""
        ...


class RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: clients reuse one connection for many calls
    disable_nagle_algorithm = True  # without it small answers wait ~40 ms for a delayed ACK
    timeout = _IDLE_TIMEOUT_S
    server: SandboxHTTPServer

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _serve(self) -> None:
        try:
            body = self._read_body()
        except ValueError:
            self.close_connection = True
            self._send(Response.json({"error": "unreadable request body"}, 400))
            return
        url = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=url.path,
            query=parse_qs(url.query, keep_blank_values=True),
            headers=self.headers,
            body=body,
        )
        response = self.server.app.process(request)
        if response is None:
            self._drop()
        else:
            self._send(response)

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0:
            raise ValueError("negative Content-Length")
        return self.rfile.read(length) if length else b""

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        while True:
            size = int(self.rfile.readline(1024).split(b";")[0].strip(), 16)
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers carry nothing the sandbox needs
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _send(self, response: Response) -> None:
        try:
            reason = HTTPStatus(response.status).phrase
        except ValueError:
            reason = ""
        headers = {
            "Date": formatdate(usegmt=True),
            "Server": "relist-sandbox",
            **response.headers,
            "Content-Length": str(len(response.body)),
        }
        if self.close_connection:
            headers["Connection"] = "close"
        head = f"{self.protocol_version} {response.status} {reason}\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        # One write, so the answer leaves in as few segments as possible.
        self.wfile.write(head.encode("latin-1") + b"\r\n" + response.body)

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("sandbox.http", extra={"line": format % args})


class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # benchmarks open many connections at once

    def __init__(self, address: tuple[str, int], app: RequestProcessor) -> None:
        self.app = app
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, RequestHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name (getfqdn), which can stall without DNS.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Wake handler threads blocked on idle keep-alive connections so that they end."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, OSError):  # the client went away; nothing to report
            logger.debug("sandbox.connection_error", extra={"error": repr(error)})
        else:
            logger.error("sandbox.handler_error", exc_info=error)
