"""A real loopback HTTP server speaking the OpenAI Chat Completions API, with scripted replies.

Tests import the `openai_server` fixture explicitly. Besides `/v1/chat/completions` the
server answers `/echo` (the request reflected back as JSON), `/status/NNN` (that status) and
`/drip` (a reply sent a byte at a time), which the http tool tests use. Scripted replies
also answer the Anthropic Messages path (`/v1/messages`) and `/llm` (the plain http
provider), and a reply with `"sse": [(event, data), ...]` is sent as server-sent events,
`"gap"` seconds apart, in a chunked body. A scripted reply with
`"drip": seconds` sends its first `drip_bytes` bytes (from the status line, or with `"drip_from": "body"` from the body) one at a time, each
`seconds` apart, then the rest: slow as a whole, though no single read waits long.
"""
from __future__ import annotations

import json
import socket
import sys
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support.loopback import send_whole


def chat(content=None, tool_calls=None, usage=None, finish_reason=None, model="gpt-test"):
    """A Chat Completions reply body; `tool_calls` items are (id, name, arguments dict)."""
    message = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = [
            {"id": call_id, "type": "function",
             "function": {"name": name, "arguments": json.dumps(arguments)}}
            for call_id, name, arguments in tool_calls]
    body = {"id": "chatcmpl-test", "object": "chat.completion", "model": model,
            "choices": [{"index": 0, "message": message,
                         "finish_reason": finish_reason or ("tool_calls" if tool_calls else "stop")}]}
    if usage is not None:
        body["usage"] = {"prompt_tokens": usage[0], "completion_tokens": usage[1],
                         "total_tokens": usage[0] + usage[1]}
    return {"status": 200, "json": body}


SCRIPTED = ("/chat/completions", "/v1/messages", "/llm")


def sse(events, gap=0.0):
    """A streamed reply: `events` are (event name or None, data: str or JSON-able)."""
    return {"status": 200, "sse": [(name, data if isinstance(data, str) else json.dumps(data))
                                   for name, data in events], "gap": gap}


def error(status: int, message: str):
    return {"status": status, "json": {"error": {"message": message, "type": "test_error"}}}


class FakeOpenAI:
    """The server and what it saw. `script(...)` queues replies for chat completions."""

    def __init__(self):
        self.requests: list[dict] = []
        self.replies: deque = deque()
        self.lock = threading.Lock()
        self.httpd = None
        self.thread = None
        self.connections: set = set()
        self.held = self.most_held_at_once = 0
        self.holding = threading.Condition()

    def drop_idle(self) -> None:
        """Close every open connection, as a server's keep-alive timeout does."""
        with self.lock:
            for sock in self.connections:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _hold(self, count=12, seconds=3.0) -> None:
        """Answer /hold only once `count` are held at once (or `seconds` pass)."""
        with self.holding:
            self.held += 1
            self.most_held_at_once = max(self.most_held_at_once, self.held)
            self.holding.notify_all()
            self.holding.wait_for(lambda: self.held >= count, timeout=seconds)

    @property
    def root(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def url(self) -> str:
        return self.root + "/v1"

    def script(self, *replies) -> None:
        with self.lock:
            self.replies.extend(replies)

    def chat_requests(self) -> list[dict]:
        return [r for r in self.requests if r["path"].endswith(SCRIPTED)]

    def _next_reply(self) -> dict:
        with self.lock:
            return self.replies.popleft() if self.replies else chat("default reply")

    def start(self) -> "FakeOpenAI":
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def setup(self):
                super().setup()
                with server.lock:
                    server.connections.add(self.connection)

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                parts = urlsplit(self.path)
                record = {"method": self.command, "path": parts.path,
                          "query": {k: v[0] if len(v) == 1 else v
                                    for k, v in parse_qs(parts.query).items()},
                          "headers": {k.lower(): v for k, v in self.headers.items()},
                          "body": body, "peer": self.client_address[1]}
                with server.lock:
                    server.requests.append(record)
                if parts.path.endswith(SCRIPTED) and self.command == "POST":
                    reply = server._next_reply()
                elif parts.path == "/echo":
                    reply = {"status": 200, "json": record}
                elif parts.path.startswith("/status/"):
                    status = int(parts.path.rsplit("/", 1)[1])
                    reply = {"status": status, "body": f"failure {status} from test server"}
                elif parts.path == "/text":
                    reply = {"status": 200, "body": "plain words"}
                elif parts.path == "/drip":
                    reply = {"status": 200, "json": {"dripped": True}, "drip": 0.25}
                elif parts.path == "/hold":
                    server._hold()
                    reply = {"status": 200, "json": {"held": True}}
                elif parts.path == "/away":  # same server, another host name
                    away = f"http://localhost:{server.httpd.server_address[1]}/echo"
                    reply = {"status": 307, "body": "", "headers": {"Location": away}}
                elif parts.path == "/moved":
                    reply = {"status": 302, "body": "", "headers": {"Location": "/text"}}
                elif parts.path == "/slow":
                    reply = {"status": 200, "json": {"slow": True}, "delay": 2.0}
                else:
                    reply = {"status": 404, "json": {"error": {"message": "no such route"}}}
                if reply.get("delay"):
                    time.sleep(reply["delay"])
                if "sse" in reply:
                    self._sse(reply)
                    return
                if "json" in reply:
                    payload = json.dumps(reply["json"]).encode()
                    ctype = "application/json"
                else:
                    payload = reply.get("body", "")
                    payload = payload.encode() if isinstance(payload, str) else payload
                    ctype = "text/plain"
                if reply.get("drip"):
                    self._drip(reply, payload, ctype)
                    return
                try:
                    send_whole(self, reply.get("status", 200), ctype, payload, reply.get("headers"))
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _sse(self, reply):
                try:
                    self.send_response(reply.get("status", 200))
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for name, data in reply["sse"]:
                        text = (f"event: {name}\n" if name else "") + f"data: {data}\n\n"
                        raw = text.encode()
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(raw), raw))
                        self.wfile.flush()
                        time.sleep(reply.get("gap") or 0)
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _drip(self, reply, payload, ctype):
                status = reply.get("status", 200)
                raw = (f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}\r\n"
                       f"Content-Type: {ctype}\r\nContent-Length: {len(payload)}\r\n\r\n").encode()
                raw += payload
                start = len(raw) - len(payload) if reply.get("drip_from") == "body" else 0
                end = min(start + reply.get("drip_bytes", 12), len(raw))
                try:
                    self.wfile.write(raw[:start])
                    for index in range(start, end):
                        self.wfile.write(raw[index:index + 1])
                        self.wfile.flush()
                        time.sleep(reply["drip"])
                    self.wfile.write(raw[end:])
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass
                self.close_connection = True

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        class Server(ThreadingHTTPServer):
            request_queue_size = 64  # the default 5 drops simultaneous connects

            def handle_error(self, request, client_address):
                if not isinstance(sys.exc_info()[1], ConnectionError):  # a client hung up
                    super().handle_error(request, client_address)

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def openai_server():
    server = FakeOpenAI().start()
    try:
        yield server
    finally:
        server.stop()
