"""Minimal async HTTP on the standard library, shared by the openai provider and http tools.

urllib runs in a worker thread so the event loop keeps running (parallel steps and tool
calls still overlap); the result is a plain status/headers/body triple and failures are one
exception type, so callers turn them into their own component's error.

`timeout` is a deadline for the whole call, not for each socket read: a server that drips
one byte at a time would otherwise hold a call for as long as it likes. When the deadline
passes, a timer shuts the connection's socket down, which ends whatever read is blocked.
"""
from __future__ import annotations

import asyncio
import socket
import threading
import time
from dataclasses import dataclass


@dataclass
class Response:
    status: int
    headers: dict
    body: bytes

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


class TransportError(Exception):
    """The request never got an HTTP answer: `reason` is "timeout" or "connection"."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason, self.detail = reason, detail


_LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


class _Deadline:
    """Shuts down every socket of one call when its time is up."""

    def __init__(self, seconds: float):
        self.expires = time.monotonic() + seconds
        self.expired = False
        self._sockets: list = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def remaining(self) -> float:
        return max(0.001, self.expires - time.monotonic())

    def watch(self, sock) -> None:
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                _shutdown(sock)

    def cancel(self) -> None:
        self._timer.cancel()

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shutdown(sock)


def _shutdown(sock) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _handlers(deadline: _Deadline):
    import urllib.request

    def connection(base):
        class Connection(base):
            def connect(self):
                self.timeout = deadline.remaining()
                super().connect()
                deadline.watch(self.sock)
        return Connection

    class Http(urllib.request.HTTPHandler):
        def do_open(self, http_class, req, **kwargs):
            return super().do_open(connection(http_class), req, **kwargs)

    class Https(urllib.request.HTTPSHandler):
        def do_open(self, http_class, req, **kwargs):
            return super().do_open(connection(http_class), req, **kwargs)

    return [Http(), Https()]


def _send(method: str, url: str, headers: dict, body: bytes | None, timeout: float) -> Response:
    import http.client
    import urllib.error
    import urllib.parse
    import urllib.request

    deadline = _Deadline(timeout)
    late = f"no complete answer within {timeout:g} s"
    host = urllib.parse.urlsplit(url).hostname or ""
    handlers = [urllib.request.ProxyHandler({})] if host in _LOOPBACK else []
    opener = urllib.request.build_opener(*handlers, *_handlers(deadline))
    request = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        with opener.open(request, timeout=deadline.remaining()) as reply:
            return Response(reply.status, dict(reply.headers.items()), reply.read())
    except urllib.error.HTTPError as exc:
        try:
            payload = exc.read()
        except Exception:
            payload = b""
        if deadline.expired:
            raise TransportError("timeout", late) from exc
        return Response(exc.code, dict(exc.headers.items()) if exc.headers else {}, payload)
    except (socket.timeout, TimeoutError) as exc:
        raise TransportError("timeout", late) from exc
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, (socket.timeout, TimeoutError)) or deadline.expired:
            raise TransportError("timeout", late) from exc
        raise TransportError("connection", f"cannot connect: {exc.reason}") from exc
    except (OSError, ValueError, http.client.HTTPException) as exc:
        if deadline.expired:
            raise TransportError("timeout", late) from exc
        raise TransportError("connection", f"request failed: {exc}") from exc
    finally:
        deadline.cancel()


async def request(method: str, url: str, *, headers: dict | None = None,
                  body: bytes | None = None, timeout: float = 30.0) -> Response:
    return await asyncio.to_thread(_send, method, url, dict(headers or {}), body, timeout)
