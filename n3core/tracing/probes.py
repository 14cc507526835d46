"""The hooks of an instrumented build that do more than one call into the core.

Generated code reaches them through `hooks` (`fail`, `answer`, `MISS`, `request`): one
`error_occurred` per exception (at the innermost span it leaves), generators closed early
ending normally, boundary calls a replay may answer, and the redaction rules. Payloads are
handed to the encoder as they are (it records dataclasses as the dicts of their fields and
removes secrets while it encodes, `payload.Redaction`, configured here), but for llm
requests, which leave out what earlier ones recorded (`history`). With no tracer started
every hook returns after one call into the core.
"""
from __future__ import annotations

import os

from . import history as _hist
from . import reqhash as _reqhash
from . import session as _s
from .format import ERROR_SITE
from .payload import Redaction, type_name
from .redaction import environment_rules

MISS = object()  # what `answer` returns when no replay answers the call
_replayer = None


def configure_redaction(patterns=(), environ=None) -> Redaction:
    """The rules a build's tracer redacts by: secret-named keys (and `patterns`), and the
    values of secret-named environment variables wherever they appear.

    Returns them for `session.start(..., redaction=...)`; a running tracer follows them
    from now on.
    """
    rules = environment_rules(os.environ if environ is None else environ, patterns)
    tracer = _h.tracer
    if tracer is not None:
        tracer.redact(rules)
    return rules


def enter(site, payload=None):
    return _h.enter(site, payload)


def exit(token, value):  # noqa: A001 - named after the span edge it closes
    if token is not None:
        _h.exit(token, None)
    return value


def exit_value(token, value):
    """Close the span recording a dataclass return as its fields, anything else as output."""
    return _h.exit_value(token, value)


def fail(token, exc: BaseException) -> None:
    """End a span as failed; the first span an exception leaves also records error_occurred.

    Nothing here may raise: the generated `except` block re-raises the program's own
    exception after this call, whatever that exception's methods and attributes do.
    """
    if token is None:
        return
    if isinstance(exc, GeneratorExit):  # the consumer stopped early: not a failure
        _h.exit(token, None)
        return
    if _attr(exc, "_n3__reported") is True:
        _h.fail_end(token, {"type": _type(exc), "message": _message(exc)})
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
    _h.instant(ERROR_SITE, payload)
    _h.fail_end(token, payload)


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
    tracer = _h.tracer
    if not isinstance(payload, dict) or tracer is None:
        return payload
    config = tracer.config
    redaction = tracer.redaction
    limits = (config.max_depth, config.max_payload, config.max_repr)
    if not isinstance(payload.get(_hist.MESSAGES), list) or config.policy == "flight-recorder":
        payload[_reqhash.FIELD] = _reqhash.live_digest(payload, redaction, limits)
        return payload
    payload.pop(_reqhash.FIELD, None)
    recorded, digest = tracer.history.record(
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
    _h.instant(site, payload)


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


# Last, because hooks imports this module's names at its end: either module may load first.
from . import hooks as _h  # noqa: E402
