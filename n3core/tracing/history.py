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
from .reqhash import SLOT, canonical, canonical_bytes, digest_with

FIELD = "history"  # the payload key a 1.3 writer adds to every llm request it records
MESSAGES, TOOLS = "messages", "tools"
WINDOW = 256  # a request may refer back at most this many requests; readers keep as many
_MISSING = Cut(CUT_REASONS[CUT_HISTORY], "list")
_KEY_BYTES = bytes((T_STR, len(FIELD))) + FIELD.encode()  # the field's key, as encoded
SPLITS = 64  # texts around the messages a writer keeps (one per endpoint and tool list, say)
_SLACK = 256  # bytes a recorded request takes beyond its parts: keys, headers, history field


class Recorded(dict):
    """What the trace records for a request (history left out), holding the request itself
    as `full`: the replayer is offered the whole request, the encoder records this dict."""

    __slots__ = ("full",)


def whole(payload):
    """The request itself when `payload` is its recorded form; anything else unchanged."""
    return payload.full if type(payload) is Recorded else payload


class _Part:
    """One recorded message (or tool list): its encoding, and its canonical JSON (UTF-8)
    made once; its decoded value only when asked for."""

    __slots__ = ("raw", "json")

    def __init__(self, raw: bytes):
        self.raw, self.json = raw, canonical_bytes(raw)

    @property
    def value(self):
        return _decode(self.raw)

    @property
    def text(self) -> str:
        return self.json.decode("utf-8", "surrogatepass")


class _Call:
    """A recorded request: its encoded messages, their parts, its tools part, and
    (canonical JSON before its messages, the request hash's state after them), set once
    its hash is taken (None until then, or when the hash was taken whole).

    A request also keeps its messages themselves, their snapshots (the core's `snapshot`;
    None for one it could not vouch for) and the context their encodings were made in, so
    a later request may continue it by identity; `objs` is empty when the encodings were
    made again after a secret was learned."""

    __slots__ = ("encoded", "parts", "tools", "hashed", "objs", "snaps", "context")

    def __init__(self, encoded, parts, tools, objs=(), snaps=(), context=None):
        self.encoded, self.parts, self.tools, self.hashed = encoded, parts, tools, None
        self.objs, self.snaps, self.context = objs, snaps, context


def _decode(raw: bytes):
    return _core.reader.decode_payload(raw, 0, len(raw))


_OPEN = '{"' + MESSAGES + '":'
_CUT = bytes((T_CUT,))
_SLOTS = {key: (SLOT + key, canonical(SLOT + key)) for key in (MESSAGES, TOOLS)}


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _digest(payload: dict, others_raw: bytes, base, kept: int, call, splits: dict) -> str:
    """The request hash of the whole request (`call` its recorded messages and tools),
    continuing the hash `base`, the call whose first `kept` messages it shares, took.

    `others_raw` encodes the recorded fields but messages and (when given) tools. The
    canonical JSON is the text before the messages, the messages, the text after them:
    when the text before them is base's, its hash state after them is continued, so each
    message is hashed once, in the request it is new in. The text around the messages is
    the same on every call of a conversation, so `splits` keeps it by what it is made of.
    """
    key = (others_raw, tuple(payload), call.tools)
    split = splits.get(key)
    if split is None:
        split = _split(_rebuilt(payload, others_raw, call.tools), call.tools) or ()
        if split:  # the text after the messages as the hash takes it, made once
            split = (split[0], _utf8("]" + split[1]))
        if len(splits) >= SPLITS:
            splits.clear()
        splits[key] = split
    if not split:
        return _digest_whole(_rebuilt(payload, others_raw, call.tools), call.parts, call.tools)
    before, after = split
    hashed = base.hashed if base is not None else None
    if hashed is not None and hashed[0] == before:
        state, new = hashed[1].copy(), call.parts[kept:]
        text = b"".join([b"," + p.json for p in new]) if kept else b",".join([p.json for p in new])
    else:
        state = hashlib.blake2b(_utf8(before + "["), digest_size=16)
        text = b",".join([p.json for p in call.parts])
    state.update(text)
    call.hashed = (before, state)
    final = state.copy()
    final.update(after)
    return final.hexdigest()


def _rebuilt(payload: dict, others_raw: bytes, tools) -> dict:
    """The request as a reader rebuilds it, in the payload's key order, messages None."""
    others = _decode(others_raw)
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
    return rebuilt


def _cut_whole(recorded: dict, parts, encode, limits) -> bool:
    """Whether the encoder cuts `recorded` as a whole for its size: encoded only when the
    encodings of its parts (None or bytes), which it holds whole, come near the limit."""
    max_depth, max_bytes, max_repr, redaction = limits
    size = _SLACK
    for raw in parts:
        if raw is not None:
            if raw[:1] == _CUT:  # a part cut for its size may well be too big within it
                size = max_bytes + 1
                break
            size += len(raw)
    if size <= max_bytes:
        return False
    return encode(recorded, max_depth, max_bytes, max_repr, redaction)[:1] == _CUT


def _split(rebuilt: dict, tools):
    """(canonical JSON before the messages' list, after it) of `rebuilt`, whose messages
    are None, with tools' text taken from their part; None when only `_digest_whole`
    gives the hash it always gave (a key sorting before messages, slot text in a value)."""
    message_slot, message_text = _SLOTS[MESSAGES]
    tools_slot, tools_text = _SLOTS[TOOLS]
    first = min(rebuilt) == MESSAGES
    marked = dict(rebuilt)
    marked[MESSAGES] = message_slot
    if tools is not None:
        if message_text in tools.text:
            return None
        marked[TOOLS] = tools_slot
    text = canonical(marked)
    at = text.find(message_text)
    if at < 0 or (not first and text.find(message_text, at + 1) >= 0):
        return None
    if first and at != len(_OPEN):
        return None
    after = text[at + len(message_text):]
    if tools is not None:
        if text.count(tools_text) != 1:
            return None
        after = after.replace(tools_text, tools.text)
    return text[:at], after


def _digest_whole(rebuilt: dict, parts, tools) -> str:
    """The hash as the canonical JSON of the whole request gives it, messages' text given."""
    rest = canonical(rebuilt)
    joined = "[" + ",".join(p.text for p in parts) + "]"
    if min(rebuilt) == MESSAGES and rest.startswith(_OPEN + "null"):
        return hashlib.blake2b(_utf8(_OPEN + joined + rest[len(_OPEN) + 4:]),
                               digest_size=16).hexdigest()
    rebuilt[MESSAGES] = [p.value for p in parts]
    return digest_with(rebuilt, {MESSAGES: joined})


class Writer:
    """One tracer's memory of the requests it recorded: numbers, messages, tool lists.

    `_heads` maps a request's last encoded message to the latest request that ended with
    it, so the request a new one continues (the longest recorded request whose messages
    begin the new one) is found with a lookup per message from the end, however many
    conversations run at once, and checked byte for byte.

    A conversation's messages come back on every turn as the same objects, so they are not
    encoded again: `_ends` maps the id of a request's last message to the latest request
    that ended with it, and when the new request begins with exactly that request's
    message objects, each still holding what its snapshot saw (one compiled walk,
    `unchanged_prefix`), the old messages' bytes are that request's, which encoding them
    afresh in the same context (encoder, limits, redaction, secrets known) would give.
    Only the new messages are encoded then; otherwise (a message changed in place, one a
    snapshot cannot vouch for, a secret learned since) every message is. The bytes are
    the same either way, and so is what is recorded. `by_identity=False` always encodes all.
    """

    def __init__(self, by_identity: bool = True):
        self._lock = threading.Lock()
        self._count = 0
        self._calls: dict = {}  # number -> _Call
        self._heads: dict = {}
        self._ends: dict = {}  # id(last message) -> latest number that ended with it
        self._tools: dict = {}  # encoded tools -> latest number that recorded them
        self._by_identity = by_identity
        self._context = None  # (encode, limits, secrets, how many secrets) encodings are made in
        self._splits: dict = {}  # what a request's hash text is made of -> (before, after)

    def record(self, payload: dict, encode, limits, secrets) -> tuple:
        """(what to record, the hash of the request as a reader rebuilds it) for an llm
        request dict; `limits` are max_depth, max_bytes, max_repr and the redaction."""
        max_depth, max_bytes, max_repr, redaction = limits
        messages, tools = payload[MESSAGES], payload.get(TOOLS)
        known = len(secrets)
        context = self._context_for(encode, limits, secrets)
        same = self._continued(messages, context) if self._by_identity else None
        kept = len(same.objs) if same is not None else 0
        fresh, snaps = self._encode(messages[kept:], encode, limits)
        tools_raw = (encode(tools, max(0, max_depth - 1), max_bytes, max_repr, redaction)
                     if isinstance(tools, list) and tools else None)
        others = dict(payload)  # the fields but messages and (when given) tools
        del others[MESSAGES]
        if tools_raw is not None:
            del others[TOOLS]
        others_raw = encode(others, max_depth, max_bytes, max_repr, redaction)
        if len(secrets) != known:  # a secret learned late: scrub every part, old ones too
            same, kept, snaps = None, 0, None
            fresh = self._encode(messages, encode, limits)[0]
            if tools_raw is not None:
                tools_raw = encode(tools, max(0, max_depth - 1), max_bytes, max_repr, redaction)
            others_raw = encode(others, max_depth, max_bytes, max_repr, redaction)
        if same is not None:
            encoded = same.encoded + tuple(fresh)
            objs, snapped = same.objs + tuple(messages[kept:]), same.snaps
        else:
            encoded, objs, snapped = tuple(fresh), tuple(messages), ()
        with self._lock:
            self._count += 1
            number = self._count
            base_number, base = self._base(encoded, number, same)
            kept = len(base.encoded) if base is not None else 0
            fresh = encoded[kept:]
            tools_base = self._tools.get(tools_raw) if tools_raw is not None else None
            if tools_base is not None and (number - tools_base > WINDOW
                                           or tools_base not in self._calls):
                tools_base = None
            new = tuple(map(_Part, fresh))
            rec_tools = (self._calls[tools_base].tools if tools_base is not None
                         else _Part(tools_raw) if tools_raw is not None else None)
            history: dict = {"call": number}
            if base is not None:
                history[MESSAGES] = [base_number, kept]
            if tools_base is not None:
                history[TOOLS] = tools_base
            recorded = Recorded(payload)  # the payload's keys in its order, then history
            recorded[MESSAGES] = list(messages[kept:])
            if tools_base is not None:
                recorded[TOOLS] = None
            recorded[FIELD] = history
            recorded.full = payload
            call = _Call(encoded, (base.parts if base is not None else ()) + new, rec_tools)
            if snaps is not None:
                call.objs, call.snaps, call.context = objs, snapped + tuple(snaps), context
            if not _cut_whole(recorded, (others_raw, tools_raw, *fresh), encode, limits):
                self._remember(number, call, tools_raw)
        return recorded, _digest(payload, others_raw, base, kept, call, self._splits)

    def _context_for(self, encode, limits, secrets):
        """The context encodings are made in now: the same object while nothing in it
        changed, so calls compare theirs by identity."""
        context = (encode, limits, secrets, len(secrets))
        if context != self._context:
            self._context = context
        return self._context

    def _continued(self, messages: list, context):
        """The latest request whose message objects, unchanged in place, begin `messages`
        and were encoded in `context`, or None when the longest request ending with one of
        them cannot be proved so (a message changed, or one a snapshot cannot vouch for)."""
        prefix = _core.ring.unchanged_prefix
        for k in range(len(messages), 0, -1):
            number = self._ends.get(id(messages[k - 1]))
            if number is None:
                continue
            call = self._calls.get(number)
            if call is None:
                continue
            if call.context is context and len(call.objs) == k and prefix(
                    messages, call.objs, call.snaps) == k:
                return call
            break  # not provably as it was: encoded afresh, its bytes will tell
        return None

    def _encode(self, messages, encode, limits) -> tuple:
        """([encoding of each message], [its snapshot, or None when it cannot vouch for the
        message or the message changed while it was encoded]); snapshots only when this
        writer continues requests by identity."""
        max_depth, max_bytes, max_repr, redaction = limits
        depth = max(0, max_depth - 2)
        if not self._by_identity:
            return [encode(m, depth, max_bytes, max_repr, redaction) for m in messages], None
        ring = _core.ring
        snaps = [ring.snapshot(m) for m in messages]
        encoded = [encode(m, depth, max_bytes, max_repr, redaction) for m in messages]
        for at, snap in enumerate(snaps):
            if snap is not None and not ring.unchanged(messages[at], snap):
                snaps[at] = None
        return encoded, snaps

    def _base(self, encoded, number: int, prefix=None) -> tuple:
        """(number, _Call) of the longest recorded request the new one continues, or
        (0, None); `prefix`, when given, is a request whose encodings begin `encoded`."""
        for k in range(len(encoded), 0, -1):
            found = self._heads.get(encoded[k - 1])
            if found is None or number - found > WINDOW:
                continue
            call = self._calls.get(found)
            if call is None or len(call.encoded) != k:
                continue
            if call is prefix or call.encoded == tuple(encoded[:k]):
                return found, call
        return 0, None

    def _remember(self, number, call, tools_raw) -> None:
        self._calls[number] = call
        if call.encoded:
            self._heads[call.encoded[-1]] = number
        if call.objs:
            self._ends[id(call.objs[-1])] = number
        if tools_raw is not None:
            self._tools[tools_raw] = number
        if len(self._calls) > 2 * WINDOW:
            floor = number - WINDOW
            self._calls = {n: c for n, c in self._calls.items() if n > floor}
            self._heads = {e: n for e, n in self._heads.items() if n > floor}
            self._ends = {e: n for e, n in self._ends.items() if n > floor}
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
