"""The replayer: answers each boundary call from the book, or records why it cannot.

Installed with `probes.install_replayer`; it also observes every event the replay's own
tracer records (`session.observe`), which is how it knows each call's logical key: the
span path is followed per span, so concurrent tasks get their keys whatever the order.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from n3core.tracing import probes
from n3core.tracing.history import MESSAGES, whole
from n3core.tracing.reqhash import FIELD, live_digest

from .keys import BOUNDARY_EVENTS, KeyTracker, site_key

MODES = ("stop", "fail", "live")
HISTORY = 6


class StopReplay(BaseException):
    """Raised through the program to end a replay at a divergence, or at the user's quit
    (not an Exception, so the program's own error handling does not catch it)."""

    def __init__(self, quit: bool = False):  # noqa: A002 - what the user asked for
        super().__init__("quit" if quit else "divergence")
        self.quit = quit


@dataclass
class Departure:
    """Where the replay left the record: verdict changed, extra, missing or mocked."""

    verdict: str
    key: str
    site: object
    cause: str = ""
    recorded: object = None
    replayed: object = None
    before: list = field(default_factory=list)
    action: str = ""  # stop, fail, live, mock

    @property
    def divergence(self) -> bool:
        return self.verdict != "mocked"


class Replayer:
    def __init__(self, book, runtime, sites, *, mode="stop", mocks=None, limits=None,
                 redaction=None, on_event=None):
        self.book, self.runtime, self.mode = book, runtime, mode
        self.entries = book.entries
        self.sites = {s.id: s for s in sites}
        self.names = {sid: site_key(s) for sid, s in self.sites.items()}
        self.kinds = {sid: BOUNDARY_EVENTS.get(s.event_type) for sid, s in self.sites.items()}
        self.mocks = mocks or {}
        self.limits = limits
        self.redaction = redaction  # the replay tracer's rules: requests hash as it records them
        self.tracker = KeyTracker()
        self.history: deque = deque(maxlen=HISTORY)
        self.used: set = set()
        self.matched = 0
        self.departures: list = []
        self.stopped = False
        self.events = 0
        self._on_event = on_event

    # -- what the tracer sees ----------------------------------------------------------
    def observe(self, kind, token, site, payload) -> None:
        self.events += 1
        if kind == "start":
            path = self.tracker.start(token.span, token.parent, self.names.get(site, f"site:{site}"))
        elif kind == "instant":
            path = self.names.get(site, f"site:{site}")
        else:
            path = self.tracker.end(token.span) or self.names.get(site, f"site:{site}")
        self.history.append((kind, path, self.sites.get(site)))
        if self._on_event is not None:  # the request as the program made it, history included
            self._on_event(kind, token, self.sites.get(site), whole(payload), path)

    # -- what boundaries ask -----------------------------------------------------------
    def answer(self, token, payload):
        if self.stopped:
            raise StopReplay()
        site = self.sites.get(token.site) if token is not None else None
        key = self.tracker.paths.get(token.span) if token is not None else None
        if site is None or key is None:
            return self._diverge("extra", key or "(untraced call)", site, None, payload)
        mock = self.mocks.get((site.component, site.name)) if self.mocks else None
        if mock is not None:
            self.used.add(key)
            self.departures.append(Departure("mocked", key, site, f"--mock {mock.name}",
                                             action="mock"))
            return mock.answer(self.runtime)
        entry = self.entries.get(key)
        if entry is None:
            return self._diverge("extra", key, site, None, payload)
        if entry.recorded_request is not None or payload is not None:
            digest = payload.get(FIELD) if isinstance(payload, dict) else None
            if not isinstance(digest, str):
                digest = live_digest(payload, self.redaction, self.limits)
            if digest != entry.hash:
                return self._diverge("changed", key, site, entry, payload)
        self.used.add(key)
        self.matched += 1
        if entry.outcome == "error":
            raise self.runtime.error(entry.answer, site)
        if entry.kind == "llm":  # a tool's or clock's answer is its recorded output
            return self.runtime.response(entry.answer)
        return entry.answer["output"]

    def _diverge(self, verdict, key, site, entry, payload):
        recorded = entry.request if entry is not None else None
        replayed = _recorded_form(payload, self.redaction, self.limits)
        cause = self._cause()
        if entry is not None:
            self.used.add(key)
        self.departures.append(Departure(verdict, key, site, cause, recorded, replayed,
                                         [h for h in self.history][:-1], self.mode))
        if self.mode == "live":
            return probes.MISS
        self.stopped = True
        raise StopReplay()

    def _cause(self) -> str:
        for departure in self.departures:
            if departure.verdict == "mocked":
                return f"downstream of {departure.cause} ({departure.key})"
            return f"downstream of the first changed request ({departure.key})"
        return "the first changed request"

    def missing(self) -> list:
        """Recorded calls the replay never made; those inside a mocked component are
        departures caused by its mock rather than divergences."""
        mocked = [(f"{kind}:{name}#", mock) for (kind, name), mock in self.mocks.items()
                  if kind in ("prompt", "agent")]
        out = []
        for entry in self.book.ordered():
            if entry.key in self.used:
                continue
            by = next((m for marker, m in mocked if marker in entry.key), None)
            verdict, cause = ("mocked", f"skipped by --mock {by.name}") if by else ("missing", self._cause())
            out.append(Departure(verdict, entry.key, entry.site, cause, entry.request, None))
        return out


def _recorded_form(payload, redaction, limits):
    """The replayed request as a reader of its trace sees it: whole, since a recorded llm
    request is never cut for the length of its history (max_payload bounds each message)."""
    from n3core.tracing.reqhash import as_recorded

    if limits is not None and isinstance(payload, dict) and MESSAGES in payload:
        limits = (limits[0], 1 << 40, *limits[2:])
    try:
        return as_recorded(payload, redaction, limits)
    except Exception:  # noqa: BLE001 - a report must not fail on an odd payload
        return repr(payload)
