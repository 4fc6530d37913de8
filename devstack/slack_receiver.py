"""A stand-in Slack: an incoming webhook and a small Web API, recording what they receive.

POST /hook records a message (JSON) and answers like Slack (200 "ok"), or with the next scripted
failure; GET /messages returns the recorded messages as a JSON list; DELETE /messages forgets
them (and the Web API's calls and script); POST /script queues canned answers, e.g. [{"status": 429, "headers": {"Retry-After": "1"},
"body": "rate_limited"}] (each used once, in order) or {"repeat": {...}} for every answer.

The Web API (devstack/slack_web_api.py) answers POST /api/<method> for views.open, views.update,
chat.postMessage and chat.postEphemeral; GET /api/calls lists the calls, POST /api/script queues failures.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import click

from devstack.slack_web_api import WebApiStandIn


class SlackRecorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages: list[Any] = []
        self.attempts = 0
        self.script: list[dict[str, Any]] = []
        self.repeat: dict[str, Any] | None = None

    def next_answer(self) -> dict[str, Any] | None:
        with self.lock:
            self.attempts += 1
            if self.script:
                return self.script.pop(0)
            return self.repeat


class Handler(BaseHTTPRequestHandler):
    recorder: SlackRecorder
    web_api: WebApiStandIn

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: str, content_type: str = "text/plain", headers: dict[str, str] | None = None) -> None:
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _read_json(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length).decode("utf-8"))

    def do_POST(self) -> None:
        if self.path.startswith("/api/"):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            status, body, headers = self.web_api.answer(self.path.removeprefix("/api/"), dict(self.headers.items()), raw)
            self._send(status, json.dumps(body, ensure_ascii=False), "application/json; charset=utf-8", headers)
            return
        if self.path == "/hook":
            answer = self.recorder.next_answer()
            try:
                payload = self._read_json()
            except (ValueError, UnicodeDecodeError):
                self._send(400, "invalid_payload")
                return
            if answer is not None and int(answer.get("status", 200)) != 200:
                self._send(int(answer["status"]), str(answer.get("body", "")), headers=answer.get("headers"))
                return
            with self.recorder.lock:
                self.recorder.messages.append(payload)
            self._send(200, "ok")
        elif self.path == "/script":
            script = self._read_json()
            with self.recorder.lock:
                if isinstance(script, dict):
                    self.recorder.repeat = script.get("repeat")
                    self.recorder.script = list(script.get("once", []))
                else:
                    self.recorder.script = list(script)
                    self.recorder.repeat = None
            self._send(200, "ok")
        else:
            self._send(404, "no_service")

    def do_GET(self) -> None:
        if self.path == "/messages":
            with self.recorder.lock:
                body = json.dumps(self.recorder.messages, ensure_ascii=False)
            self._send(200, body, "application/json")
        elif self.path == "/attempts":
            self._send(200, json.dumps({"attempts": self.recorder.attempts}), "application/json")
        elif self.path == "/api/calls":
            self._send(200, json.dumps(self.web_api.recorded_calls(), ensure_ascii=False), "application/json")
        elif self.path == "/health":
            self._send(200, "ok")
        else:
            self._send(404, "not found")

    def do_DELETE(self) -> None:
        if self.path == "/messages":
            with self.recorder.lock:
                self.recorder.messages.clear()
                self.recorder.script.clear()
                self.recorder.repeat = None
                self.recorder.attempts = 0
            self.web_api.reset()
            self._send(200, "ok")
        else:
            self._send(404, "not found")


def serve(host: str, port: int, bot_token: str) -> None:
    Handler.recorder = SlackRecorder()
    Handler.web_api = WebApiStandIn(bot_token)
    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    server.serve_forever()


@click.command(help=__doc__)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=9000, show_default=True)
@click.option("--bot-token", required=True, help="the one bot token the Web API accepts (devstack/stack.py passes SLACK_BOT_TOKEN)")
def cli(host: str, port: int, bot_token: str) -> None:
    serve(host, port, bot_token)


if __name__ == "__main__":
    cli(prog_name="python -m devstack.slack_receiver")
