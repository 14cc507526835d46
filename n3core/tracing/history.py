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


class _Part:
    """One recorded message (or tool list) and its canonical JSON, made once."""

    __slots__ = ("value", "text")

    def __init__(self, value):
        self.value = value
        self.text = canonical(value)


class _Call:
    """A recorded request: its encoded messages, their parts, its tools part, and the
    request hash's state after its messages (None when its keys do not allow one)."""

    __slots__ = ("encoded", "parts", "tools", "state")

    def __init__(self, encoded, parts, tools, state):
        self.encoded, self.parts, self.tools, self.state = encoded, parts, tools, state


def _decode(raw: bytes):
    return _core.reader.decode_payload(raw, 0, len(raw))


_OPEN = '{"' + MESSAGES + '":'


def _continued(state, count: int, parts) -> object:
    """The request hash's state after the canonical JSON's messages, from `state`, which
    holds the first `count` of them (None: nothing yet), and the new `parts`."""
    if state is None:
        state = hashlib.blake2b((_OPEN + "[").encode(), digest_size=16)
    else:
        state = state.copy()
    for index, part in enumerate(parts, count):
        state.update(("," if index else "").encode() + part.text.encode("utf-8", "surrogatepass"))
    return state


def _digest(payload: dict, others, messages: tuple, tools, state) -> str:
    """The request hash of the whole request, its messages' part taken from `state`.

    `others` holds the recorded fields but messages and (when given) tools. The canonical
    JSON sorts keys and `messages` sorts first among an llm request's, so the text is the
    messages, then the rest: each message is hashed once, in the request it is new in. A
    request with a key that sorts before it is hashed whole.
    """
    if not isinstance(others, dict):  # cut as a whole: hash what a reader would rebuild
        others = {}
    rebuilt = {}
    for key in payload:
        if key == MESSAGES:
            rebuilt[key] = None
        elif key == TOOLS and tools is not None:
            rebuilt[key] = tools.value
        elif key in others:
            rebuilt[key] = others[key]
    rest = canonical(rebuilt)
    if min(rebuilt) != MESSAGES or not rest.startswith(_OPEN + "null"):
        rebuilt[MESSAGES] = [p.value for p in messages]
        return digest_with(rebuilt, {MESSAGES: "[" + ",".join(p.text for p in messages) + "]"})
    final = state.copy()
    final.update(("]" + rest[len(_OPEN) + 4:]).encode("utf-8", "surrogatepass"))
    return final.hexdigest()


class Writer:
    """One tracer's memory of the requests it recorded: numbers, messages, tool lists.

    `_heads` maps a request's last encoded message to the latest request that ended with
    it, so the request a new one continues (the longest recorded request whose messages
    begin the new one) is found with a lookup per message from the end, however many
    conversations run at once, and checked byte for byte.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._count = 0
        self._calls: dict = {}  # number -> _Call
        self._heads: dict = {}
        self._tools: dict = {}  # encoded tools -> latest number that recorded them

    def record(self, payload: dict, encode, limits, secrets) -> tuple:
        """(what to record, the hash of the request as a reader rebuilds it) for an llm
        request dict; `limits` are max_depth, max_bytes, max_repr and the redaction."""
        max_depth, max_bytes, max_repr, redaction = limits
        messages, tools = payload[MESSAGES], payload.get(TOOLS)

        def enc(value, depth):
            return encode(value, max(0, max_depth - depth), max_bytes, max_repr, redaction)

        known = len(secrets)
        encoded = [enc(m, 2) for m in messages]
        tools_raw = enc(tools, 1) if isinstance(tools, list) and tools else None
        if len(secrets) != known:  # a secret learned late: scrub the earlier parts too
            encoded = [enc(m, 2) for m in messages]
            tools_raw = enc(tools, 1) if tools_raw is not None else None
        with self._lock:
            self._count += 1
            number = self._count
            base_number, base = self._base(encoded, number)
            kept = len(base.encoded) if base is not None else 0
            tools_base = self._tools.get(tools_raw) if tools_raw is not None else None
            if tools_base is not None and (number - tools_base > WINDOW
                                           or tools_base not in self._calls):
                tools_base = None
            new = tuple(_Part(_decode(p)) for p in encoded[kept:])
            rec_tools = (self._calls[tools_base].tools if tools_base is not None
                         else _Part(_decode(tools_raw)) if tools_raw is not None else None)
            history: dict = {"call": number}
            if base is not None:
                history[MESSAGES] = [base_number, kept]
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
            state = _continued(base.state if base is not None else None, kept, new)
            call = _Call((base.encoded if base is not None else ()) + tuple(encoded[kept:]),
                         (base.parts if base is not None else ()) + new, rec_tools, state)
            if encode(recorded, max_depth, max_bytes, max_repr, redaction)[:1] != bytes((T_CUT,)):
                self._remember(number, call, tools_raw)
        given = {MESSAGES, TOOLS} if rec_tools is not None else {MESSAGES}
        others = _decode(encode({k: v for k, v in payload.items() if k not in given},
                                max_depth, max_bytes, max_repr, redaction))
        return recorded, _digest(payload, others, call.parts, rec_tools, call.state)

    def _base(self, encoded: list, number: int) -> tuple:
        """(number, _Call) of the longest recorded request the new one continues, or
        (0, None)."""
        for k in range(len(encoded), 0, -1):
            found = self._heads.get(encoded[k - 1])
            if found is None or number - found > WINDOW:
                continue
            call = self._calls.get(found)
            if call is not None and len(call.encoded) == k and list(call.encoded) == encoded[:k]:
                return found, call
        return 0, None

    def _remember(self, number, call, tools_raw) -> None:
        self._calls[number] = call
        if call.encoded:
            self._heads[call.encoded[-1]] = number
        if tools_raw is not None:
            self._tools[tools_raw] = number
        if len(self._calls) > 2 * WINDOW:
            floor = number - WINDOW
            self._calls = {n: c for n, c in self._calls.items() if n > floor}
            self._heads = {e: n for e, n in self._heads.items() if n > floor}
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
