"""What every HTTP llm provider shares: its settings, the call, and how a failure reads.

Every way a call can fail (HTTP status, timeout, refused connection, a body or stream that
is not the expected wire format) becomes one ProviderError naming the server, the status
and the server's own message; the api key is removed from anything that could end up in
that message. Settings are read on each call, so `env(...)` values are never captured by
a build.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass

from ..errors import ProviderError
from ..template import render
from ..values import resolve_env
from .. import transport
from . import sse

DEFAULT_TIMEOUT = 60.0
_MALFORMED = (ValueError, KeyError, IndexError, TypeError, AttributeError)


@dataclass
class Settings:
    base_url: str
    key: str | None
    model: str
    timeout: float
    stream: bool
    config: dict


class HttpProvider:
    """A provider reached over HTTP; subclasses say where, with what body, and how to read."""

    label = "http"
    default_base_url: str | None = None
    base_url_env: str | None = None  # read when the llm sets no base_url
    key_envs: tuple = ()  # tried in order when the llm sets no api_key
    key_required = False
    wire = "a JSON reply"  # what a malformed reply should have been
    wire_hint = "check that base_url points at the right endpoint"

    collector = None  # an sse.Collector class when the provider can stream
    parse = None  # (decoded reply, model) -> LLMResponse

    def __init__(self, llm):
        self.llm = llm

    def url(self, s: Settings) -> str:
        return s.base_url

    def headers(self, s: Settings) -> dict:
        return {"Authorization": f"Bearer {s.key}"} if s.key else {}

    def body(self, request, s: Settings) -> dict:
        raise NotImplementedError

    async def complete(self, request):
        s = self.settings()
        url, headers, body = self.url(s), self.headers(s), self.body(request, s)
        if s.stream and self.collector is not None:
            return await self.post_stream(url, headers, body, s, self.collector(s.model))
        return await self.post(url, headers, body, s, lambda data: self.parse(data, s.model))

    def settings(self) -> Settings:
        llm = self.llm
        config = resolve_env(llm.config, kind="llm", component=llm.name, loc=llm.loc)
        base_url = (config.get("base_url") or os.environ.get(self.base_url_env or "")
                    or self.default_base_url)
        if not base_url:
            where = f" or export {self.base_url_env}" if self.base_url_env else ""
            raise ProviderError(f"a '{llm.provider_name}' llm needs a base_url",
                                hint=f'add base_url: "https://..." to the llm block{where}')
        key = config.get("api_key")
        key = render(str(key), {}) if key else next(
            (os.environ[name] for name in self.key_envs if os.environ.get(name)), None)
        if self.key_required and not key:
            first = self.key_envs[0]
            raise ProviderError("no api key is configured",
                                hint=f'set api_key: env("{first}") on the llm and export {first}')
        model = render(str(config.get("model") or ""), {})
        timeout = float(config.get("timeout") or DEFAULT_TIMEOUT)
        return Settings(render(str(base_url), {}).rstrip("/"), key, model, timeout,
                        config.get("stream") is True, config)

    async def post(self, url: str, headers: dict, body: dict, s: Settings, parse):
        """POST `body` as JSON; `parse(data)` turns the decoded reply into an LLMResponse."""
        headers = {"Content-Type": "application/json", "Accept": "application/json",
                   **headers, **extra_headers(s)}
        try:
            reply = await transport.request("POST", url, headers=headers,
                                            body=json.dumps(body).encode(), timeout=s.timeout)
        except transport.TransportError as exc:
            raise self.unreachable(url, exc, s.key) from None
        if not 200 <= reply.status < 300:
            raise self.refused(url, reply, s.key)
        try:
            return parse(json.loads(reply.body))
        except _MALFORMED as exc:
            raise self.malformed(url, exc, reply.text(), s.key) from None

    async def post_stream(self, url: str, headers: dict, body: dict, s: Settings,
                          collector: sse.Collector):
        """POST `body` and read the server-sent events into `collector` as they arrive."""
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream",
                   **headers, **extra_headers(s)}

        async def consume(stream):
            if not 200 <= stream.status < 300:
                raise self.refused(url, await stream.read(), s.key)
            seen = []
            try:
                async for name, data in sse.events(stream.lines()):
                    seen.append(data)
                    if collector.feed(name, data):
                        break
                return collector.finish(collector.response())
            except ProviderError as err:
                err.message = scrub(err.message, s.key)
                raise
            except _MALFORMED as exc:
                raise self.malformed(url, exc, "\n".join(seen[-2:]), s.key) from None

        try:
            return await transport.stream("POST", url, consume, headers=headers,
                                          body=json.dumps(body).encode(), timeout=s.timeout)
        except transport.TransportError as exc:
            raise self.unreachable(url, exc, s.key) from None

    def unreachable(self, url: str, exc, key) -> ProviderError:
        hint = ("raise timeout on the llm or check the server" if exc.reason == "timeout"
                else "check base_url and that the server is running")
        return ProviderError(scrub(f"{self.label} request to {url} failed: {exc.detail}", key),
                             hint=hint)

    def refused(self, url: str, reply, key) -> ProviderError:
        return ProviderError(scrub(f"{self.label} server at {url} answered HTTP "
                                   f"{reply.status}: {server_message(reply)}", key),
                             hint=status_hint(reply.status))

    def malformed(self, url: str, exc, text: str, key) -> ProviderError:
        return ProviderError(scrub(f"{self.label} server at {url} sent a reply that is not "
                                   f"{self.wire} ({exc.__class__.__name__}: {exc}); body "
                                   f"starts {text[:120]!r}", key), hint=self.wire_hint)


def extra_headers(s: Settings) -> dict:
    """The llm's own `headers`, sent with every call (a gateway's routing or auth header)."""
    return {str(k): render(str(v), {}) for k, v in (s.config.get("headers") or {}).items()}


def scrub(text: str, key: str | None) -> str:
    return text.replace(key, "***") if key else text


def server_message(reply) -> str:
    """The error message a server put in its body, in the shapes providers use."""
    try:
        data = json.loads(reply.body)
    except ValueError:
        return " ".join(reply.text().split())[:200] or "(empty body)"
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict) and error.get("message"):
        kind = error.get("type")
        prefix = f"{kind}: " if isinstance(kind, str) and kind.endswith("_error") else ""
        return prefix + str(error["message"])
    if isinstance(error, str):
        return error
    if isinstance(data, dict) and data.get("message"):
        return str(data["message"])
    return json.dumps(data)[:200]


def status_hint(status: int) -> str:
    if status in (401, 403):
        return "check the api key the llm uses"
    if status == 404:
        return "check base_url and the model name"
    if status == 429:
        return "the server is rate limiting: wait, or lower the request rate"
    if status == 529:
        return "the server is overloaded; retry later"
    if status >= 500:
        return "the server failed; retry later or check its logs"
    return "check the llm's settings against what the server accepts"
