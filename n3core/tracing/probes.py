"""What the compile-time pass's injected calls go through in an instrumented build.

Kept apart from `session` because generated code needs a little more than the core's
span calls: a return value handed back unchanged, one `error_occurred` per exception
(at the innermost span it leaves), generators closed early ending normally, payloads
turned into plain data, and secrets removed before anything is encoded. With no tracer
started every hook returns after one check.
"""
from __future__ import annotations

import dataclasses
import os
import re

from . import session as _s
from .payload import type_name

ERROR_SITE = 0  # the build's site table reserves id 0 for error_occurred
REDACTED = "[REDACTED]"
_SECRET_KEY = re.compile(
    r"(?i)^(.*[_-])?(api[_-]?key|authorization|password|passwd|secret|token|cookie|credentials?)$")
_SECRET_ENV = re.compile(r"(?i)(key|secret|token|passw|credential|auth)")
_PRIMITIVE = (str, int, float, bool, type(None), bytes)
_LEAVES = frozenset(_PRIMITIVE)
_key_is_secret: dict = {}
_secret_values: tuple[str, ...] = ()
MISS = object()  # what `answer` returns when no replay answers the call
_replayer = None


def configure_redaction(patterns=(), environ=None) -> None:
    """Collect the values to scrub: env vars whose names look secret, and extra patterns."""
    global _secret_values, _SECRET_KEY
    environ = os.environ if environ is None else environ
    values = [v for k, v in environ.items() if _SECRET_ENV.search(k) and len(v) >= 6]
    _secret_values = tuple(sorted(set(values), key=len, reverse=True))
    if patterns:
        _SECRET_KEY = re.compile("|".join([_SECRET_KEY.pattern, *patterns]), re.I)
    _key_is_secret.clear()


def plain(value, depth: int = 0):
    """Plain, secret-free data for the encoder: dataclasses become dicts, secrets vanish."""
    kind = type(value)
    if kind is str:
        return _scrub(value) if _secret_values else value
    if kind in _PRIMITIVE or depth > 32:
        return value
    if kind is dict:
        out = {}
        for key, item in value.items():
            secret = _key_is_secret.get(key)
            if secret is None:
                secret = _key_is_secret[key] = type(key) is str and bool(_SECRET_KEY.search(key))
            if secret:
                out[key] = REDACTED
            elif type(item) in _LEAVES and not (_secret_values and type(item) is str):
                out[key] = item
            else:
                out[key] = plain(item, depth + 1)
        return out
    if kind in (list, tuple):
        return [item if type(item) in _LEAVES and not (_secret_values and type(item) is str)
                else plain(item, depth + 1) for item in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return plain({f.name: getattr(value, f.name) for f in dataclasses.fields(value)}, depth)
    return value


def _scrub(text: str) -> str:
    for secret in _secret_values:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def enter(site, payload=None):
    if _s._tracer is None:
        return None
    return _s.enter(site, None if payload is None else plain(payload))


def exit(token, value):  # noqa: A001 - named after the span edge it closes
    if token is not None:
        _s.exit(token, None)
    return value


def exit_value(token, value):
    if token is not None:
        data = plain(value)
        _s.exit(token, data if type(data) is dict and dataclasses.is_dataclass(value) else {"output": data})
    return value


def fail(token, exc: BaseException) -> None:
    if token is None:
        return
    if isinstance(exc, GeneratorExit):  # the consumer stopped early: not a failure
        _s.exit(token, None)
        return
    if getattr(exc, "_n3__reported", False):
        _s._fail_end(token, {"type": _type(exc), "message": plain(_message(exc))})
        return
    try:
        exc._n3__reported = True
    except AttributeError:
        pass
    payload = plain(_s.error_payload(exc))
    payload["type"] = _type(exc)
    _s.instant(ERROR_SITE, payload)
    _s._fail_end(token, payload)


def install_replayer(replayer) -> None:
    """Let `replayer.answer(token, payload)` answer boundary calls (None uninstalls it)."""
    global _replayer
    _replayer = replayer


def answer(token, payload):
    """A recorded answer for this llm/tool/clock call, or MISS to run it for real."""
    replayer = _replayer
    return MISS if replayer is None else replayer.answer(token, payload)


def instant(site, payload=None) -> None:
    if _s._tracer is not None:
        _s.instant(site, None if payload is None else plain(payload))


def _type(exc: BaseException) -> str:
    """The error's type as users know it: the runtime copy's classes under their real name."""
    name = type_name(exc)
    return "n3core.runtime." + name[len("_n3_runtime."):] if name.startswith("_n3_runtime.") else name


def _message(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:  # noqa: BLE001
        return "<str() failed>"
