"""A pass-through HTTP proxy in front of the S3 endpoint that can be told to fail on purpose.

The API reaches S3 through it in the test stack, so a test can make uploads of export files fail
(503 SlowDown, as S3 does under throttling) while status objects still get through.
POST /__faults__ {"fail_prefix": "exports/", "status": 503} turns failures on for PUT/POST
requests whose object key starts with the prefix; {"fail_prefix": null} turns them off.
"""

from __future__ import annotations

import http.client
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

import click

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}


class FaultState:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.fail_prefix: str | None = None
        self.status = 503
        self.failed_requests = 0


class ProxyHandler(BaseHTTPRequestHandler):
    upstream_port: int
    state: FaultState
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _answer(self, status: int, body: bytes, headers: dict[str, str] | None = None, length: int | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        self.wfile.write(body)

    def _should_fail(self) -> bool:
        if self.command not in ("PUT", "POST"):
            return False
        with self.state.lock:
            prefix = self.state.fail_prefix
        if prefix is None:
            return False
        path = unquote(urlsplit(self.path).path).lstrip("/")
        key = path.split("/", 1)[1] if "/" in path else ""
        return key.startswith(prefix)

    def _control(self, body: bytes) -> None:
        settings = json.loads(body or b"{}")
        with self.state.lock:
            self.state.fail_prefix = settings.get("fail_prefix")
            self.state.status = int(settings.get("status", 503))
            failed = self.state.failed_requests
        self._answer(200, json.dumps({"failed_requests": failed}).encode(), {"Content-Type": "application/json"})

    def _forward(self) -> None:
        body = self._body() if self.command in ("PUT", "POST", "DELETE") else b""
        if self.path.startswith("/__faults__"):
            self._control(body)
            return
        if self._should_fail():
            with self.state.lock:
                self.state.failed_requests += 1
                status = self.state.status
            error = b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
            self._answer(status, error, {"Content-Type": "application/xml"})
            return
        headers = {name: value for name, value in self.headers.items() if name.lower() not in _HOP_BY_HOP}
        headers["Content-Length"] = str(len(body))
        connection = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=60)
        try:
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
            forwarded = {name: value for name, value in response.getheaders() if name.lower() not in _HOP_BY_HOP | {"content-length"}}
            if self.command == "HEAD":  # no body, but the object's real length
                self._answer(response.status, b"", forwarded, length=int(response.getheader("Content-Length") or 0))
            else:
                self._answer(response.status, data, forwarded)
        finally:
            connection.close()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward  # noqa: N815 - http.server naming


def serve(port: int, upstream_port: int) -> None:
    ProxyHandler.upstream_port = upstream_port
    ProxyHandler.state = FaultState()
    server = ThreadingHTTPServer(("127.0.0.1", port), ProxyHandler)
    server.daemon_threads = True
    server.serve_forever()


@click.command(help=__doc__)
@click.option("--port", type=int, required=True)
@click.option("--upstream-port", type=int, required=True)
def cli(port: int, upstream_port: int) -> None:
    serve(port, upstream_port)


if __name__ == "__main__":
    cli(prog_name="python -m devstack.fault_proxy")
