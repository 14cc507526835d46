"""The tracing core: ring buffer, payload encoder, `.n3t` writer and reader.

User code may mark its own regions with `span` (a context manager and a decorator, sync
and async) and `marker` (an instant). Both cost one check when no tracer is running.
"""
from __future__ import annotations

import functools
import inspect

from . import hooks, session
from .format import SITE_USER_MARKER, SITE_USER_SPAN

__all__ = ["span", "marker", "session"]


class span:  # noqa: N801 - reads like the keyword it stands in for
    """A user span: `with span("load", n=3):`, `@span`, `@span("name")`, also on coroutines."""

    __slots__ = ("name", "fields", "_tokens")

    def __init__(self, name="span", **fields):
        if callable(name):
            raise TypeError("use @span or @span('name'), not span(function)")
        self.name = name
        self.fields = fields
        self._tokens: list = []

    def __new__(cls, name="span", **fields):
        if callable(name) and not fields:
            return cls(getattr(name, "__qualname__", "span"))(name)
        return super().__new__(cls)

    def __enter__(self):
        token = None
        if hooks.tracer is not None:
            token = hooks.enter(SITE_USER_SPAN, {"name": self.name, **self.fields})
        self._tokens.append(token)
        return self

    def __exit__(self, exc_type, exc, tb):
        token = self._tokens.pop() if self._tokens else None
        if token is not None:
            if exc is not None:
                session.fail(token, exc)
            else:
                hooks.exit(token)
        return False

    async def __aenter__(self):
        return self.__enter__()

    async def __aexit__(self, exc_type, exc, tb):
        return self.__exit__(exc_type, exc, tb)

    def __call__(self, fn):
        name, fields = self.name, self.fields
        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def async_wrapper(*args, **kwargs):
                with span(name, **fields):
                    return await fn(*args, **kwargs)
            return async_wrapper

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with span(name, **fields):
                return fn(*args, **kwargs)
        return wrapper


def marker(name: str, **fields) -> None:
    """Record an instant event named `name` with `fields` as its payload."""
    if hooks.tracer is not None:
        hooks.instant(SITE_USER_MARKER, {"name": name, **fields})
