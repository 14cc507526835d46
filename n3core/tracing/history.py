"""A conversation's history recorded once: the writer leaves out what an earlier llm request
already recorded, the reader puts it back (docs/trace-format.md, "Request history").

An agent sends its whole conversation on every turn, so recording every request whole made
traces grow with the square of the turns, and cut long conversations' requests at
`max_payload`. Instead each request names the earlier request its first messages came from
and records only the rest; its tool definitions, when unchanged, are a reference too. The
earlier request is always earlier in the file, so a trace cut short still rebuilds every
request it holds; one whose history was dropped or discarded shows a `history` cut marker
where the missing messages were.
"""
from __future__ import annotations

import hashlib
import threading

from . import core as _core
from .payload import CUT_HISTORY, CUT_REASONS, T_CUT, T_STR, Cut
from .reqhash import canonical, digest_with

FIELD = "history"  # the payload key a 1.3 writer adds to every llm request it records
MESSAGES, TOOLS = "messages", "tools"
WINDOW = 256  # a request may refer back at most this many requests; readers keep as many
_MISSING = Cut(CUT_REASONS[CUT_HISTORY], "list")
_KEY_BYTES = bytes((T_STR, len(FIELD))) + FIELD.encode()  # the field's key, as encoded


class Recorded(dict):
    """What the trace records for a request (history left out), holding the request itself
    as `full`: the replayer is offered the whole request, the encoder records this dict."""

    __slots__ = ("full",)


def whole(payload):
    """The request itself when `payload` is its recorded form; anything else unchanged."""
    return payload.full if type(payload) is Recorded else payload


def _chain(previous: bytes, part: bytes) -> bytes:
    return hashlib.blake2b(previous + len(part).to_bytes(8, "little") + part,
                           digest_size=16).digest()


class _Part:
    """One recorded message (or tool list) and its canonical JSON, made once."""

    __slots__ = ("value", "text")

    def __init__(self, value):
        self.value = value
        self.text = canonical(value)


def _decode(raw: bytes):
    return _core.reader.decode_payload(raw, 0, len(raw))


def _digest(payload: dict, others, given: dict) -> str:
    """The request hash of the whole request: `others` holds its recorded fields but those
    in `given` (messages: a tuple of parts; tools: one part), in `payload`'s key order."""
    if not isinstance(others, dict):  # cut as a whole: hash what a reader would rebuild
        others = {}
    rebuilt, texts = {}, {}
    for key in payload:
        if key == MESSAGES:
            rebuilt[key] = [p.value for p in given[key]]
            texts[key] = "[" + ",".join(p.text for p in given[key]) + "]"
        elif key in given:
            rebuilt[key], texts[key] = given[key].value, given[key].text
        elif key in others:
            rebuilt[key] = others[key]
    return digest_with(rebuilt, texts)


class Writer:
    """One tracer's memory of the requests it recorded: numbers, prefixes, tool lists.

    `_prefixes` maps the chained digest of a request's first k encoded messages to the
    latest (request number, k) that recorded them, so the longest prefix already in the
    trace is found with one lookup per message, however many conversations run at once.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._count = 0
        self._calls: dict = {}  # number -> (message parts, tools part or None)
        self._prefixes: dict = {}
        self._tools: dict = {}  # encoded tools -> latest number that recorded them

    def record(self, payload: dict, encode, limits, secrets) -> tuple:
        """(what to record, the hash of the request as a reader rebuilds it) for an llm
        request dict; `limits` are max_depth, max_bytes, max_repr and the redaction."""
        max_depth, max_bytes, max_repr, redaction = limits
        messages, tools = payload[MESSAGES], payload.get(TOOLS)

        def enc(value, depth):
            return encode(value, max(0, max_depth - depth), max_bytes, max_repr, redaction)

        known = len(secrets)
        parts = [enc(m, 2) for m in messages]
        tools_raw = enc(tools, 1) if isinstance(tools, list) and tools else None
        if len(secrets) != known:  # a secret learned late: scrub the earlier parts too
            parts = [enc(m, 2) for m in messages]
            tools_raw = enc(tools, 1) if tools_raw is not None else None
        chains, chain = [], b""
        for part in parts:
            chain = _chain(chain, part)
            chains.append(chain)
        with self._lock:
            self._count += 1
            number = self._count
            base, kept = self._prefix(chains, number)
            tools_base = self._tools.get(tools_raw) if tools_raw is not None else None
            if tools_base is not None and number - tools_base > WINDOW:
                tools_base = None
            old = self._calls[base][0][:kept] if base else ()
            new = tuple(_Part(_decode(p)) for p in parts[kept:])
            rec_tools = (self._calls[tools_base][1] if tools_base is not None
                         else _Part(_decode(tools_raw)) if tools_raw is not None else None)
            history: dict = {"call": number}
            if base:
                history[MESSAGES] = [base, kept]
            if tools_base is not None:
                history[TOOLS] = tools_base
            recorded = Recorded()
            for key, value in payload.items():
                if key == MESSAGES:
                    value = list(messages[kept:])
                elif key == TOOLS and tools_base is not None:
                    value = None
                recorded[key] = value
            recorded[FIELD] = history
            recorded.full = payload
            if encode(recorded, max_depth, max_bytes, max_repr, redaction)[:1] != bytes((T_CUT,)):
                self._remember(number, old + new, rec_tools, chains, tools_raw)
        given = {MESSAGES: old + new}
        if rec_tools is not None:
            given[TOOLS] = rec_tools
        others = _decode(encode({k: v for k, v in payload.items() if k not in given},
                                max_depth, max_bytes, max_repr, redaction))
        return recorded, _digest(payload, others, given)

    def _prefix(self, chains: list, number: int) -> tuple:
        for k in range(len(chains), 0, -1):
            found = self._prefixes.get(chains[k - 1])
            if found is not None and number - found[0] <= WINDOW and found[0] in self._calls:
                return found[0], k
        return 0, 0

    def _remember(self, number, messages, tools, chains, tools_raw) -> None:
        self._calls[number] = (messages, tools)
        for k, chain in enumerate(chains, 1):
            self._prefixes[chain] = (number, k)
        if tools_raw is not None:
            self._tools[tools_raw] = number
        if len(self._calls) > 2 * WINDOW:
            floor = number - WINDOW
            self._calls = {n: c for n, c in self._calls.items() if n > floor}
            self._prefixes = {c: v for c, v in self._prefixes.items() if v[0] > floor}
            self._tools = {t: n for t, n in self._tools.items() if n > floor}


class Rebuilder:
    """The reader's side: every request of a batch rebuilt whole, before anyone asks.

    Requests are rebuilt as their batch is read, in file order, so a view that decodes
    only event N (`inspect --event N`) still sees its whole request.
    """

    def __init__(self, sites):
        self._sites = sorted(s.id for s in sites if s.event_type == "llm_call")
        self._calls: dict = {}  # number -> (messages, tools, how many messages a gap hides)
        self._latest = 0

    def scan(self, batch) -> dict:
        """{event index: rebuilt payload} for the llm requests in `batch` that carry history."""
        found = {}
        if not self._sites or not len(batch) or not batch.mentions(_KEY_BYTES):
            return found
        column, kinds, lengths = batch.site.tobytes(), batch.kind, batch.lengths
        hits = []
        for site in self._sites:
            needle = site.to_bytes(4, "little")
            at = column.find(needle)
            while at >= 0:
                if at % 4 == 0:
                    hits.append(at // 4)
                at = column.find(needle, at + 1)
        for i in sorted(hits):
            if kinds[i] != 0 or not lengths[i]:
                continue
            if _KEY_BYTES not in batch.raw_payload(i) or not batch.recorded_get(i, (FIELD,)):
                continue
            rebuilt = self._rebuild(batch.recorded(i))
            if rebuilt is not None:
                found[i] = rebuilt
        return found

    def _rebuild(self, value):
        history = value.get(FIELD) if isinstance(value, dict) else None
        if not isinstance(history, dict) or not isinstance(history.get("call"), int):
            return None
        messages = value.get(MESSAGES)
        messages = list(messages) if isinstance(messages, list) else [messages]
        hidden, ref = 0, history.get(MESSAGES)
        if isinstance(ref, list) and len(ref) == 2 and isinstance(ref[1], int) and ref[1] > 0:
            kept, hidden = self._kept(ref[0], ref[1])
            messages = [*kept, *messages]
        out = {}
        for key, item in value.items():
            if key == FIELD:
                continue
            if key == MESSAGES:
                item = messages
            elif key == TOOLS and TOOLS in history:
                base = self._calls.get(history[TOOLS])
                item = _MISSING if base is None else base[1]
            out[key] = item
        number = history["call"]
        self._calls[number] = (tuple(messages), out.get(TOOLS), hidden)
        self._latest = max(self._latest, number)
        if len(self._calls) > 4 * WINDOW:
            floor = self._latest - 2 * WINDOW
            self._calls = {n: c for n, c in self._calls.items() if n > floor}
        return out


    def _kept(self, number, count: int) -> tuple:
        """(the first `count` messages of request `number`, how many of them a gap hides).

        A gap is one `history` marker standing for the messages that are not in the trace.
        """
        base = self._calls.get(number)
        if base is None:
            return (_MISSING,), count
        messages, _, hidden = base
        if not hidden:
            return (messages[:count], 0) if count <= len(messages) else ((_MISSING,), count)
        if count <= hidden:
            return (_MISSING,), count
        return messages[:1 + count - hidden], hidden


def fresh(rebuilt: dict) -> dict:
    """A copy a caller may change without changing what later calls are given."""
    out = dict(rebuilt)
    if isinstance(out.get(MESSAGES), list):
        out[MESSAGES] = list(out[MESSAGES])
    return out
