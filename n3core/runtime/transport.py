"""Minimal async HTTP on the standard library, shared by the openai provider and http tools.

urllib runs in a worker thread so the event loop keeps running (parallel steps and tool
calls still overlap); the result is a plain status/headers/body triple and failures are one
exception type, so callers turn them into their own component's error.
"""
from __future__ import annotations

import asyncio
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


def _send(method: str, url: str, headers: dict, body: bytes | None, timeout: float) -> Response:
    import http.client
    import socket
    import urllib.error
    import urllib.parse
    import urllib.request

    host = urllib.parse.urlsplit(url).hostname or ""
    handlers = [urllib.request.ProxyHandler({})] if host in _LOOPBACK else []
    opener = urllib.request.build_opener(*handlers)
    request = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        with opener.open(request, timeout=timeout) as reply:
            return Response(reply.status, dict(reply.headers.items()), reply.read())
    except urllib.error.HTTPError as exc:
        try:
            payload = exc.read()
        except Exception:
            payload = b""
        return Response(exc.code, dict(exc.headers.items()) if exc.headers else {}, payload)
    except (socket.timeout, TimeoutError) as exc:
        raise TransportError("timeout", f"no answer within {timeout:g} s") from exc
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, (socket.timeout, TimeoutError)):
            raise TransportError("timeout", f"no answer within {timeout:g} s") from exc
        raise TransportError("connection", f"cannot connect: {exc.reason}") from exc
    except (OSError, ValueError, http.client.HTTPException) as exc:
        raise TransportError("connection", f"request failed: {exc}") from exc


async def request(method: str, url: str, *, headers: dict | None = None,
                  body: bytes | None = None, timeout: float = 30.0) -> Response:
    return await asyncio.to_thread(_send, method, url, dict(headers or {}), body, timeout)
