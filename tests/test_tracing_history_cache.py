"""A writer that takes old messages' encodings from the request it continues by identity
records the bytes and hashes encoding afresh gives.

Every request of a scripted conversation (messages changed in place between calls, a secret
learned part way, new redaction rules) goes through such a writer and through the algorithm
as it was before (`_Reference`, every message encoded on every call, the hash taken as it
was), each with its own redaction rules, and the recorded payload's bytes and the request
hash are compared call by call.
"""
from __future__ import annotations

import dataclasses
import hashlib

import pytest

from n3core.tracing import core, history, probes, session
from n3core.tracing.history import FIELD, MESSAGES, TOOLS, WINDOW, Recorded, Writer
from n3core.tracing.payload import T_CUT
from n3core.tracing.pyencode import SNAP_DEPTH, SNAP_SIZE
from n3core.tracing.redaction import key_rules
from n3core.tracing.reqhash import canonical, digest_with

from tests.support.tracing_cores import tracing_core  # noqa: F401 - fixture

LIMITS = (32, 256 * 1024, 200)
SECRET = "sk-live-0123456789abcdef"
_OPEN = '{"' + MESSAGES + '":'


class _OldPart:
    """A recorded message as the writer kept it before: decoded, then its canonical JSON."""

    def __init__(self, raw):
        self.value = history._decode(raw)
        self.text = canonical(self.value)


class _Reference(Writer):
    """The writer as it was before it kept encodings: every message encoded on each call,
    the hash continued only when `messages` sorts first (its state kept in `hashed`)."""

    def __init__(self):
        super().__init__(by_identity=False)

    def record(self, payload, encode, limits, secrets):
        max_depth, max_bytes, max_repr, redaction = limits
        messages, tools = payload[MESSAGES], payload.get(TOOLS)

        def enc(value, depth):
            return encode(value, max(0, max_depth - depth), max_bytes, max_repr, redaction)

        known = len(secrets)
        encoded = [enc(m, 2) for m in messages]
        tools_raw = enc(tools, 1) if isinstance(tools, list) and tools else None
        if len(secrets) != known:
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
            new = tuple(_OldPart(p) for p in encoded[kept:])
            rec_tools = (self._calls[tools_base].tools if tools_base is not None
                         else _OldPart(tools_raw)
                         if tools_raw is not None else None)
            found: dict = {"call": number}
            if base is not None:
                found[MESSAGES] = [base_number, kept]
            if tools_base is not None:
                found[TOOLS] = tools_base
            recorded = Recorded()
            for key, value in payload.items():
                if key == MESSAGES:
                    value = list(messages[kept:])
                elif key == TOOLS and tools_base is not None:
                    value = None
                recorded[key] = value
            recorded[FIELD] = found
            recorded.full = payload
            call = history._Call((base.encoded if base is not None else ()) + tuple(encoded[kept:]),
                                 (base.parts if base is not None else ()) + new, rec_tools)
            call.hashed = _continued(base.hashed if base is not None else None, kept, new)
            if encode(recorded, max_depth, max_bytes, max_repr, redaction)[:1] != bytes((T_CUT,)):
                self._remember(number, call, tools_raw)
        given = {MESSAGES, TOOLS} if rec_tools is not None else {MESSAGES}
        others = history._decode(encode({k: v for k, v in payload.items() if k not in given},
                                        max_depth, max_bytes, max_repr, redaction))
        return recorded, _old_digest(payload, others, call.parts, rec_tools, call.hashed)


def _continued(state, count, parts):
    if state is None:
        state = hashlib.blake2b((_OPEN + "[").encode(), digest_size=16)
    else:
        state = state.copy()
    for index, part in enumerate(parts, count):
        state.update(("," if index else "").encode() + part.text.encode("utf-8", "surrogatepass"))
    return state


def _old_digest(payload, others, messages, tools, state):
    if not isinstance(others, dict):
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


@dataclasses.dataclass
class Note:
    text: str


class Label(str):
    pass


class _Side:
    """One writer and the rules it redacts by, recording requests as a tracer would."""

    def __init__(self, writer, encode):
        self.writer, self.encode, self.rules = writer, encode, key_rules()

    def record(self, payload, limits=LIMITS):
        recorded, digest = self.writer.record(payload, self.encode, (*limits, self.rules),
                                              self.rules.secrets)
        return self.encode(recorded, *limits, self.rules), recorded[FIELD], digest

    def redact(self, rules):
        self.rules = rules


def _request(messages, base_url=None, **extra):
    """A request as the runtime makes one: `base_url` sorts before `messages`."""
    return {"provider": "mock", "model": "m-1", "messages": list(messages), "base_url": base_url,
            "tools": [{"name": "search", "description": "Search " * 5,
                       "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}],
            "params": {"temperature": 0.2}, **extra}


def _deep(levels: int) -> list:
    value = ["deep"]
    for _ in range(levels - 1):
        value = [value]
    return value


def _innermost(value: list) -> list:
    while isinstance(value[0], list):
        value = value[0]
    return value


def _script():
    """(the conversation, the endpoint it asks, [(step, what it does to them or to the sides)]);
    a request is recorded after every step."""
    system = {"role": "system", "content": "You are careful. " + SECRET}
    user = {"role": "user", "content": "go \ud800 surrogate"}
    chat, settings = [system, user], {"base_url": None}
    call = {"id": "c1", "name": "search", "arguments": {"q": "first"}}
    assistant = {"role": "assistant", "content": "", "tool_calls": [call]}
    tool = {"role": "tool", "tool_call_id": "c1", "content": "result " + "x" * 300}
    note = {"role": "user", "content": Note("a dataclass")}
    label = {"role": "user", "content": Label("a str subclass")}
    nested = {"role": "user", "content": _deep(SNAP_DEPTH + 3)}
    looped = {"role": "user", "content": []}
    looped["content"].append(looped["content"])
    number = {"role": "user", "content": 1}

    def grow(*items):
        chat.extend(items)

    def other_secret_rules(sides):
        for side in sides:
            side.redact(key_rules([r"^q$"]))

    return chat, settings, [
        ("turn", lambda s: grow(assistant, tool)),
        ("another endpoint", lambda s: settings.__setitem__("base_url", "http://127.0.0.1:9/")),
        ("same request again", lambda s: None),
        ("content replaced", lambda s: tool.__setitem__("content", "result changed")),
        ("tool call appended", lambda s: assistant["tool_calls"].append(
            {"id": "c2", "name": "search", "arguments": {"q": "second"}})),
        ("nested argument changed", lambda s: call["arguments"].__setitem__("q", "edited")),
        ("key added", lambda s: user.__setitem__("name", "ann")),
        ("key moved to the end", lambda s: user.__setitem__("role", user.pop("role"))),
        ("a number", lambda s: grow(number)),
        ("True in place of 1", lambda s: number.__setitem__("content", True)),
        ("1.0 in place of True", lambda s: number.__setitem__("content", 1.0)),
        ("dataclass", lambda s: grow(note)),
        ("dataclass field changed", lambda s: setattr(note["content"], "text", "changed")),
        ("str subclass", lambda s: grow(label)),
        ("deep nesting", lambda s: grow(nested)),
        ("deep leaf changed", lambda s: _innermost(nested["content"]).append("more")),
        ("a cycle", lambda s: grow(looped)),
        ("secret learned", lambda s: grow({"role": "user", "content": "key",
                                           "api_key": SECRET})),
        ("after the secret", lambda s: grow({"role": "user", "content": "again " + SECRET})),
        ("message removed", lambda s: chat.pop(2)),
        ("new rules", other_secret_rules),
        ("after the new rules", lambda s: grow({"role": "user", "content": "q"})),
    ]


def _compare(core_name, writer_factory):
    encode = core.ring_module(core_name).encode
    ours, theirs = _Side(writer_factory(), encode), _Side(_Reference(), encode)
    chat, settings, steps = _script()
    other = [{"role": "user", "content": "another conversation"}]
    calls = [("first", None)] + steps
    for n, (name, step) in enumerate(calls):
        if step is not None:
            step([ours, theirs])
        for payload in (_request(chat, settings["base_url"]), _request(other),
                        {"messages": list(chat), "model": "m-1"}):
            assert ours.record(payload) == theirs.record(payload), (n, name)
        other.append({"role": "assistant", "content": f"turn {n}"})
    assert theirs.rules.secrets == ours.rules.secrets
    return ours


def test_a_writer_continuing_by_identity_records_the_bytes_and_hashes_of_encoding_afresh(tracing_core):
    ours = _compare(tracing_core, lambda: Writer(by_identity=True))
    assert ours.writer._ends, "no request was continued by identity: the comparison proves nothing"


def test_a_writer_that_encodes_everything_records_the_same(tracing_core):
    _compare(tracing_core, lambda: Writer(by_identity=False))


def test_limits_are_part_of_what_a_kept_encoding_holds_for(tracing_core):
    encode = core.ring_module(tracing_core).encode
    ours, theirs = _Side(Writer(by_identity=True), encode), _Side(_Reference(), encode)
    chat = [{"role": "user", "content": "x" * 400, "data": [[["deep"]]]}]
    for limits in [LIMITS, (4, 256 * 1024, 200), (32, 300, 200), (32, 256 * 1024, 10), LIMITS]:
        assert ours.record(_request(chat), limits) == theirs.record(_request(chat), limits)


def _counting(encode, counts, messages):
    ids = {id(m) for m in messages}

    def counted(value, *args):
        if id(value) in ids:
            counts.append(id(value))
        return encode(value, *args)

    return counted


def test_a_continued_conversation_encodes_only_its_new_messages(tracing_core):
    counts, chat = [], [{"role": "user", "content": f"message {n}"} for n in range(30)]
    encode = _counting(core.ring_module(tracing_core).encode, counts, chat)
    side = _Side(Writer(by_identity=True), encode)
    for n in range(2, 31, 2):
        side.record(_request(chat[:n]))
    assert len(counts) == 30 and len(set(counts)) == 30


def test_conversations_alike_in_bytes_refer_to_each_other_as_before(tracing_core):
    """Two conversations of equal messages, distinct objects: the second's requests refer
    to the first's, as comparing bytes finds them, though its own are the ones it shares
    objects with."""
    encode = core.ring_module(tracing_core).encode
    ours, theirs = _Side(Writer(), encode), _Side(_Reference(), encode)
    for conversation in range(2):
        chat = [{"role": "user", "content": "go"}]
        for turn in range(4):
            payload = _request(chat)
            mine, reference = ours.record(payload), theirs.record(payload)
            assert mine == reference, (conversation, turn)
            chat += [{"role": "assistant", "content": f"a{turn}"},
                     {"role": "tool", "content": f"r{turn}"}]
    assert mine[1]["messages"][0] < 5, "the second conversation did not refer to the first"


def test_a_message_changed_in_place_is_encoded_again(tracing_core):
    counts, chat = [], [{"role": "user", "content": f"message {n}"} for n in range(3)]
    side = _Side(Writer(), _counting(core.ring_module(tracing_core).encode, counts, chat))
    side.record(_request(chat[:2]))
    side.record(_request(chat))
    assert len(counts) == 3
    chat[1]["content"] = "changed"
    side.record(_request(chat))
    assert len(counts) == 6, "a changed message was taken as it was"
    side.record(_request(chat + [{"role": "user", "content": "more"}]))
    assert len(counts) == 6


def test_what_a_writer_keeps_is_bounded_by_the_window(tracing_core):
    side = _Side(Writer(), core.ring_module(tracing_core).encode)
    chats = [[{"role": "user", "content": f"chat {n}"}] for n in range(3)]
    for n in range(3 * WINDOW):
        chat = chats[n % 3]
        chat.append({"role": "assistant", "content": f"turn {n}"})
        side.record(_request(chat))
    writer = side.writer
    assert len(writer._calls) <= 2 * WINDOW and len(writer._ends) <= 2 * WINDOW
    assert min(writer._calls) > WINDOW


@pytest.mark.parametrize("value", [
    {"a": Note("x")}, {"a": Label("x")}, {Label("k"): 1}, [{"a": {1, 2}}],
    _deep(SNAP_DEPTH + 1), list(range(SNAP_SIZE)), "a string", Note("x")])
def test_a_snapshot_does_not_vouch_for_what_can_change_unseen(tracing_core, value):
    assert core.ring_module(tracing_core).snapshot(value) is None


def test_a_snapshot_vouches_for_builtin_values_up_to_its_bounds(tracing_core):
    ring = core.ring_module(tracing_core)
    for value in (_deep(SNAP_DEPTH), list(range(SNAP_SIZE - 2)), (1, 2.5, b"x", None, True),
                  {1: "one", None: [], 2.5: (), b"k": {}}, []):
        snap = ring.snapshot(value)
        assert snap is not None and snap[0] is value and ring.unchanged(value, snap)


def test_both_cores_take_the_same_snapshot():
    value = {"role": "assistant", "tool_calls": [{"id": "c1", "arguments": {"q": ("x", 1)}}]}
    snaps = [core.ring_module(name).snapshot(value) for name in core.available()]
    assert snaps[0] == (value, 2, "role", "assistant", "tool_calls", value["tool_calls"], 1,
                        value["tool_calls"][0], 2, "id", "c1", "arguments",
                        value["tool_calls"][0]["arguments"], 1, "q", ("x", 1), 2, "x", 1)
    assert all(snap == snaps[0] for snap in snaps)


def test_a_snapshot_no_longer_holds_after_any_change_in_place(tracing_core):
    ring = core.ring_module(tracing_core)
    message = {"role": "assistant", "tool_calls": [{"id": "c1", "arguments": {"q": "x"}}],
               "parts": [["a"], []]}
    changes = (lambda: message["parts"][1].append(message["parts"][0].pop()),
               lambda: message["tool_calls"].append({}),
               lambda: message["tool_calls"][0]["arguments"].__setitem__("q", "y"),
               lambda: message.__setitem__("role", message.pop("role")),
               lambda: message.__setitem__("name", "n"),
               lambda: message["tool_calls"].pop(),
               lambda: message["parts"].__setitem__(0, []),
               lambda: message["parts"][0].extend(["a", "b"]))
    for n, change in enumerate(changes):
        snap = ring.snapshot(message)
        change()
        assert not ring.unchanged(message, snap), n
        assert ring.unchanged(message, ring.snapshot(message)), n
    assert not ring.unchanged(message, ring.snapshot(dict(message)))


def test_unchanged_prefix_stops_at_the_first_message_not_as_it_was(tracing_core):
    ring = core.ring_module(tracing_core)
    messages = [{"content": "a"}, {"content": "b"}, {"content": Note("c")}, {"content": "d"}]
    snaps = tuple(ring.snapshot(m) for m in messages)
    objs = tuple(messages)
    assert snaps[2] is None
    assert ring.unchanged_prefix(messages, objs, snaps) == 2
    assert ring.unchanged_prefix(messages[:2], objs, snaps) == 2
    assert ring.unchanged_prefix(messages[:2], objs[:1], snaps) == 1
    messages[1]["content"] = "changed"
    assert ring.unchanged_prefix(messages, objs, snaps) == 1
    assert ring.unchanged_prefix([dict(messages[0])] + messages[1:], objs, snaps) == 0


def test_a_traced_conversation_is_recorded_the_same_continued_by_identity(tmp_path, tracing_core):
    """Through probes.request and a running tracer's limits and rules: what is recorded
    and the hashes match a tracer whose writer encodes afresh."""
    from n3core.tracing.format import Site

    sites = [Site(1, "llm_call", "llm", "chat")]
    outcomes = []
    for by_identity in (True, False):
        chat = [{"role": "user", "content": "go"}]
        tracer = session.start(str(tmp_path / f"{by_identity}.n3t"), sites, {"install_hooks": False},
                               core=tracing_core)
        tracer.history = Writer(by_identity=by_identity)
        limits = (tracer.config.max_depth, tracer.config.max_payload, tracer.config.max_repr)
        seen = []
        try:
            for n in range(12):
                payload = probes.request(_request(chat))
                seen.append((tracer.ring.encode(payload, *limits, tracer.redaction),
                             payload["request_hash"]))
                chat += [{"role": "assistant", "content": f"a{n}"},
                         {"role": "tool", "content": f"r{n} " + SECRET * (n == 5)}]
                if n == 7:
                    chat[1]["content"] = "changed"
                    chat.append({"role": "user", "content": "k", "token": SECRET})
        finally:
            session.stop()
        outcomes.append(seen)
    assert outcomes[0] == outcomes[1]


@pytest.mark.parametrize("where", ["params", "tools", "content"])
@pytest.mark.parametrize("slot", [MESSAGES, TOOLS])
@pytest.mark.parametrize("base_url", [None, "http://127.0.0.1:9/"])
def test_text_like_the_hash_placeholders_is_hashed_as_before(tracing_core, where, slot, base_url):
    from n3core.tracing.reqhash import SLOT

    encode = core.ring_module(tracing_core).encode
    ours, theirs = _Side(Writer(by_identity=True), encode), _Side(_Reference(), encode)
    chat = [{"role": "user", "content": "go"}]
    for n in range(3):
        payload = _request(chat, base_url)
        odd = SLOT + slot
        if where == "params":
            payload["params"] = {"stop": odd}
        elif where == "tools":
            payload["tools"][0]["description"] = odd
        else:
            chat[0]["content"] = odd
        assert ours.record(payload) == theirs.record(payload), n
        chat.append({"role": "assistant", "content": f"turn {n}"})
