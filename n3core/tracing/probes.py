"""What the compile-time pass's injected calls go through in an instrumented build.

Kept apart from `session` because generated code needs a little more than the core's
span calls: a return value handed back unchanged, one `error_occurred` per exception
(at the innermost span it leaves), generators closed early ending normally, and the
redaction rules. Payloads are handed to the encoder as they are (it records dataclasses
as the dicts of their fields and removes secrets while it encodes, `payload.Redaction`,
configured here), but for llm requests, which leave out what earlier ones recorded
(`history`). With no tracer started every hook returns after one call into the core.
"""
from __future__ import annotations

import os
import re

from . import history as _hist
from . import reqhash as _reqhash
from . import session as _s
from .payload import Redaction, scrub, type_name

ERROR_SITE = 0  # the build's site table reserves id 0 for error_occurred
_SECRET_KEY = re.compile(
    r"(?i)^(.*[_-])?(api[_-]?key|authorization|password|passwd|secret|token|cookie|credentials?)$")
_SECRET_ENV = re.compile(r"(?i)(key|secret|token|passw|credential|auth)")
_key_is_secret: dict = {}  # the encoders' verdict cache: key -> is it secret-named
_secret_values: list = []  # longest first; the encoders add values they redact by key
MISS = object()  # what `answer` returns when no replay answers the call
_replayer = None
_history: tuple = (None, None)  # (tracer, history.Writer): what that tracer's trace holds


def _secret_key(key: str) -> bool:
    """The rule behind `_key_is_secret`, asked once per key (by the encoder, on a miss)."""
    return _SECRET_KEY.search(key) is not None


def _rules() -> Redaction:
    return Redaction(_key_is_secret, _secret_key, _secret_values)


def configure_redaction(patterns=(), environ=None) -> None:
    """Collect the values to scrub: env vars whose names look secret, and extra patterns.

    The rules apply to tracers started afterwards, and to the running one from now on.
    """
    global _secret_values, _SECRET_KEY
    environ = os.environ if environ is None else environ
    values = [v for k, v in environ.items() if _SECRET_ENV.search(k) and len(v) >= 6]
    _secret_values = sorted(set(values), key=len, reverse=True)
    if patterns:
        _SECRET_KEY = re.compile("|".join([_SECRET_KEY.pattern, *patterns]), re.I)
    _key_is_secret.clear()
    rules = _s.default_redaction = _rules()
    tracer = _s._tracer
    if tracer is not None:
        tracer.recorder.redact(rules)


_s.default_redaction = _rules()  # key names are redacted even before configure_redaction


def scrub_text(text: str) -> str:
    """`text` with the secret values removed, for strings written outside payloads (the
    trace header's argv); payloads are scrubbed by the encoder itself."""
    return scrub(text, _secret_values) if _secret_values else text


def enter(site, payload=None):
    return _s.enter(site, payload)


def exit(token, value):  # noqa: A001 - named after the span edge it closes
    if token is not None:
        _s.exit(token, None)
    return value


def exit_value(token, value):
    """Close the span recording a dataclass return as its fields, anything else as output."""
    return _s.exit_value(token, value)


def fail(token, exc: BaseException) -> None:
    """End a span as failed; the first span an exception leaves also records error_occurred.

    Nothing here may raise: the generated `except` block re-raises the program's own
    exception after this call, whatever that exception's methods and attributes do.
    """
    if token is None:
        return
    if isinstance(exc, GeneratorExit):  # the consumer stopped early: not a failure
        _s.exit(token, None)
        return
    if _attr(exc, "_n3__reported") is True:
        _s._fail_end(token, {"type": _type(exc), "message": _message(exc)})
        return
    try:
        exc._n3__reported = True
    except Exception:  # noqa: BLE001 - slots, a read-only __setattr__, anything
        pass
    payload = _s.error_payload(exc)
    payload.update(type=_type(exc), message=_message(exc, payload["message"]))
    code = _attr(exc, "code")
    if isinstance(code, str):  # the runtime's own errors carry a code and a hint
        payload["code"] = code
        hint = _attr(exc, "hint")
        if isinstance(hint, str):
            payload["hint"] = hint
    _s.instant(ERROR_SITE, payload)
    _s._fail_end(token, payload)


def _attr(exc: BaseException, name: str):
    """exc.name, or None when it is missing or its property raises."""
    try:
        return getattr(exc, name, None)
    except Exception:  # noqa: BLE001
        return None


def request(payload):
    """A boundary's payload with the hash a replay checks it by (`reqhash`), computed on the
    form the trace records: redacted and bounded by the running tracer's limits.

    An llm request (a dict with a `messages` list) is returned as the `history.Recorded`
    form the trace keeps, without what earlier requests already recorded; its hash is that
    of the whole request as a reader rebuilds it.
    """
    global _history
    tracer = _s._tracer
    if not isinstance(payload, dict) or tracer is None:
        return payload
    config = tracer.config
    redaction = _s.default_redaction
    limits = (config.max_depth, config.max_payload, config.max_repr)
    if not isinstance(payload.get(_hist.MESSAGES), list) or config.policy == "flight-recorder":
        payload[_reqhash.FIELD] = _reqhash.live_digest(payload, redaction, limits)
        return payload
    if _history[0] is not tracer:
        _history = (tracer, _hist.Writer())
    payload.pop(_reqhash.FIELD, None)
    recorded, digest = _history[1].record(
        payload, tracer.ring.encode, (*limits, redaction),
        redaction.secrets if redaction is not None else ())
    payload[_reqhash.FIELD] = recorded[_reqhash.FIELD] = digest
    return recorded


def install_replayer(replayer) -> None:
    """Let `replayer.answer(token, payload)` answer boundary calls (None uninstalls it)."""
    global _replayer
    _replayer = replayer


def answer(token, payload):
    """A recorded answer for this llm/tool/clock call, or MISS to run it for real."""
    replayer = _replayer
    if replayer is None:
        return MISS
    return replayer.answer(token, _hist.whole(payload))


def instant(site, payload=None) -> None:
    _s.instant(site, payload)


def _type(exc: BaseException) -> str:
    """The error's type as users know it: the runtime copy's classes under their real name."""
    name = type_name(exc)
    return "n3core.runtime." + name[len("_n3_runtime."):] if name.startswith("_n3_runtime.") else name


def _message(exc: BaseException, text: str | None = None) -> str:
    """The message alone: a runtime error's `message`, not the paragraph its str() prints
    (type, component and location are recorded apart, by the payload and the site);
    else `text`, str(exc) when it was already taken."""
    message = _attr(exc, "message")
    if isinstance(message, str) and _attr(exc, "code"):
        return message
    return _s.safe_str(exc) if text is None else text
