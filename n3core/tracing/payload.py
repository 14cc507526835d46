"""The payload encoding's shared parts: tags, limits, redaction rules, and the one decoder.

Tags and layouts are specified in docs/trace-format.md ("Payload encoding"). The two
encoders, `pyencode.encode` and the compiled one in `_ring.pyx`, build on what is here and
must produce the same bytes for the same value.
"""
from __future__ import annotations

import dataclasses
import json
import struct
from typing import Callable, NamedTuple

from .errors import TraceFormatError

T_NONE, T_FALSE, T_TRUE, T_INT, T_BIGINT, T_FLOAT = 0x00, 0x01, 0x02, 0x03, 0x04, 0x05
T_STR, T_BYTES, T_LIST, T_TUPLE, T_DICT, T_OPAQUE, T_CUT = 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0C

CUT_CYCLE, CUT_DEPTH, CUT_SIZE, CUT_MUTATED = 1, 2, 3, 4
CUT_HISTORY = 5  # never written: what a reader shows where a request's history is not in the trace
CUT_REASONS = {CUT_CYCLE: "cycle", CUT_DEPTH: "depth", CUT_SIZE: "size", CUT_MUTATED: "mutated",
               CUT_HISTORY: "history"}

DEFAULT_MAX_DEPTH = 32
DEFAULT_MAX_BYTES = 256 * 1024
DEFAULT_MAX_REPR = 200

DOUBLE = struct.Struct("<d")

REDACTED = "[REDACTED]"
MIN_LEARNED = 6  # a shorter value redacted by key is not scrubbed elsewhere: too common a string
MAX_LEARNED = 256  # secrets learned per rule set; past this, values are still redacted by key
MAX_VERDICTS = 8192  # key verdicts cached per rule set; past this they are computed each time
_FIELDS: dict = {}  # type -> tuple of its dataclass field names, or None; shared by both cores
_MAX_FIELD_TYPES = 4096


class Redaction(NamedTuple):
    """The secret-removal rules both encoders apply while they encode.

    `verdicts` caches, per dict key (or dataclass field name), whether its value is a
    secret; `rule(key)` decides keys not seen yet. Strings (values, keys, the repr of
    other types) have every one of `secrets` replaced by REDACTED, longest first. When
    `secrets` is a list, a value redacted because of its key is added to it (`learn`), so
    it is scrubbed wherever it shows up later, say rendered into the next llm request; a
    tuple is a fixed set.
    """

    verdicts: dict
    rule: Callable[[str], bool]
    secrets: "list | tuple" = ()


class Opaque(NamedTuple):
    """A value of a type the encoding has no tag for: its type name and a bounded repr."""

    type_name: str
    repr: str
    truncated: bool


class Cut(NamedTuple):
    """Where the encoder stopped on purpose: reason is cycle, depth, size or mutated."""

    reason: str
    type_name: str


def type_name(obj) -> str:
    """`module.Qualname` (no module for builtins), at most 256 characters; both cores use it."""
    cls = type(obj)
    module = getattr(cls, "__module__", "") or ""
    qual = getattr(cls, "__qualname__", cls.__name__)
    name = qual if module == "builtins" else f"{module}.{qual}"
    return name if len(name) <= 256 else name[:256]


def opaque_parts(obj, max_repr: int, secrets: tuple = ()):
    """(type name, repr cut to max_repr characters, was it cut); never raises.

    The repr is scrubbed of `secrets` before it is cut, so no prefix of one survives.
    """
    try:
        text = repr(obj)
        if not isinstance(text, str):
            text = "<repr returned a non-str>"
    except Exception as exc:  # noqa: BLE001 - a user __repr__ may raise anything
        text = f"<repr failed: {type_name(exc)}>"
    if secrets:
        text = scrub(text, secrets)
    if len(text) > max_repr:
        return type_name(obj), text[:max_repr], True
    return type_name(obj), text, False


def scrub(text: str, secrets: tuple) -> str:
    """`text` with every secret replaced by REDACTED (secrets are tried longest first)."""
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def dataclass_fields(cls):
    """The field names of dataclass type `cls` (cached per type), None for other types."""
    try:
        return _FIELDS[cls]
    except KeyError:
        pass
    except TypeError:  # an unhashable metaclass: not worth caching
        return None
    try:
        names = (tuple(f.name for f in dataclasses.fields(cls))
                 if dataclasses.is_dataclass(cls) else None)
    except Exception:  # noqa: BLE001 - a strange class must not break the traced program
        return None
    if len(_FIELDS) >= _MAX_FIELD_TYPES:
        _FIELDS.clear()
    _FIELDS[cls] = names
    return names


def key_is_secret(key, redaction: Redaction) -> bool:
    """Whether a dict key names a secret (its value is then recorded as REDACTED)."""
    verdicts = redaction.verdicts
    verdict = verdicts.get(key)
    if verdict is None:
        verdict = bool(redaction.rule(key))
        if len(verdicts) < MAX_VERDICTS:
            verdicts[key] = verdict
    return verdict


def learn(secrets, value) -> bool:
    """Add the strings in `value`, just redacted by key, to the list `secrets` (kept longest
    first); True if one was added. Both encoders call this one function, so they agree."""
    if type(secrets) is not list:
        return False
    added = False
    todo, seen = [value], 0
    while todo and seen < 64 and len(secrets) < MAX_LEARNED:
        item = todo.pop()
        seen += 1
        if type(item) is str:
            if (len(item) >= MIN_LEARNED and item not in secrets and REDACTED not in item
                    and item not in REDACTED):
                secrets.append(item)
                added = True
        elif type(item) in (list, tuple):
            todo.extend(reversed(item))
        elif type(item) is dict:
            todo.extend(reversed(list(item.values())))
    if added:
        secrets.sort(key=len, reverse=True)
    return added


def scrub_argv(argv, redaction: "Redaction | None") -> list:
    """The command line without its secrets, for the trace header.

    The value of a secret-named flag (`--api-key X`, `--token=X`, `password=X`) and of a
    secret-named key inside a JSON argument (`--input '{"password": ...}'`) become
    REDACTED and are learned; then every secret value known is scrubbed from every argument.
    """
    args = [a if isinstance(a, str) else str(a) for a in argv]
    if redaction is None:
        return args
    out, hide_next = [], False
    for arg in args:
        if hide_next:
            learn(redaction.secrets, arg)
            out.append(REDACTED)
            hide_next = False
            continue
        name, sep, value = arg.partition("=")
        flag = name.lstrip("-")
        if flag and flag[0] not in "{[\"'" and key_is_secret(flag, redaction):
            if sep:
                learn(redaction.secrets, value)
                out.append(f"{name}={REDACTED}")
                continue
            hide_next = arg.startswith("-")
        out.append(_scrub_json_arg(arg, redaction))
    return [scrub(arg, redaction.secrets) for arg in out]


def _scrub_json_arg(arg: str, redaction: Redaction) -> str:
    """A JSON object or array argument (alone, or after `--flag=`) with its secret-named
    keys' values redacted; any other argument unchanged."""
    start = min((i for i in (arg.find("{"), arg.find("[")) if i >= 0), default=-1)
    if start < 0 or (start and not arg[:start].endswith("=")):
        return arg
    try:
        doc = json.loads(arg[start:])
    except (ValueError, RecursionError):
        return arg
    changed, todo = False, [doc]
    for _ in range(100_000):
        if not todo:
            break
        item = todo.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if isinstance(key, str) and key_is_secret(key, redaction):
                    learn(redaction.secrets, value)
                    item[key] = REDACTED
                    changed = True
                else:
                    todo.append(value)
        elif isinstance(item, list):
            todo.extend(item)
    else:
        return REDACTED  # too large to check: hide it whole
    if not changed:
        return arg
    try:
        return arg[:start] + json.dumps(doc, ensure_ascii=False)
    except (ValueError, RecursionError):
        return REDACTED


JSON_NEST = 64  # the nesting past which a payload's canonical JSON is made from its decoded value
PLAIN_DEPTH = 64  # the nesting a plain value may have: a recorded answer deeper is refused


class NotPlain(ValueError):
    """A payload asked for as plain holds a Cut or Opaque value or nests too deeply."""


def special(value):
    """What keeps `value` from being plain: the first Cut or Opaque inside it, the string
    "depth" when a container in it lies deeper than PLAIN_DEPTH, or None.

    A replay hands recorded answers to the program, so every one is walked whole; the walk
    keeps its own stack, since a decoded payload may nest as deep as its bytes allow."""
    stack = [(value, 0)]
    pop, push = stack.pop, stack.append
    while stack:
        item, depth = pop()
        kind = type(item)
        if kind is dict:
            children = item.values()
        elif kind is list or kind is tuple:
            children = item
        elif isinstance(item, (Cut, Opaque)):
            return item
        else:
            continue
        if depth > PLAIN_DEPTH:
            return "depth"
        for child in children:
            if type(child) not in _SCALARS:
                push((child, depth + 1))
    return None


_SCALARS = frozenset((str, int, float, bool, type(None), bytes))


def decode(data) -> object:
    """Decode one encoded payload (bytes or memoryview) back into Python values."""
    buf = bytes(data)
    try:
        value, pos = _decode(buf, 0)
    except (IndexError, ValueError, struct.error, UnicodeDecodeError) as exc:
        raise TraceFormatError(f"undecodable payload ({len(buf)} bytes): {exc}") from None
    if pos != len(buf):
        raise TraceFormatError(f"payload has {len(buf) - pos} stray bytes after its value")
    return value


def _read_varint(buf: bytes, pos: int):
    shift = result = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7
        if shift > 70:
            raise ValueError("varint longer than 10 bytes")


def _read_text(buf: bytes, pos: int):
    n, pos = _read_varint(buf, pos)
    if pos + n > len(buf):
        raise ValueError("string runs past the payload")
    return buf[pos:pos + n].decode("utf-8", "surrogatepass"), pos + n


def _scalar(buf: bytes, tag: int, pos: int):
    """A value that holds no other value, and the position after it."""
    if tag == T_NONE:
        return None, pos
    if tag == T_FALSE:
        return False, pos
    if tag == T_TRUE:
        return True, pos
    if tag == T_INT:
        z, pos = _read_varint(buf, pos)
        return (z >> 1) ^ -(z & 1), pos
    if tag == T_BIGINT:
        n, pos = _read_varint(buf, pos)
        if pos + n > len(buf):
            raise ValueError("integer runs past the payload")
        return int.from_bytes(buf[pos:pos + n], "little", signed=True), pos + n
    if tag == T_FLOAT:
        return DOUBLE.unpack_from(buf, pos)[0], pos + 8
    if tag == T_STR:
        return _read_text(buf, pos)
    if tag == T_BYTES:
        n, pos = _read_varint(buf, pos)
        if pos + n > len(buf):
            raise ValueError("bytes run past the payload")
        return buf[pos:pos + n], pos + n
    if tag == T_OPAQUE:
        truncated = bool(buf[pos])
        name, pos = _read_text(buf, pos + 1)
        text, pos = _read_text(buf, pos)
        return Opaque(name, text, truncated), pos
    if tag == T_CUT:
        reason = CUT_REASONS.get(buf[pos], f"unknown({buf[pos]})")
        name, pos = _read_text(buf, pos + 1)
        return Cut(reason, name), pos
    raise ValueError(f"unknown payload tag 0x{tag:02x} at byte {pos - 1}")


_NO_KEY = object()


def _decode(buf: bytes, pos: int):
    """One value at `pos`, without recursion: a payload may nest as deep as its bytes allow.

    Each open container is a frame [tag, items, remaining, pending dict key].
    """
    stack: list = []
    while True:
        tag = buf[pos]
        pos += 1
        if tag in (T_LIST, T_TUPLE, T_DICT):
            n, pos = _read_varint(buf, pos)
            if n > len(buf) - pos:
                raise ValueError(f"a container of {n} items runs past the payload")
            if n:
                stack.append([tag, {} if tag == T_DICT else [], n * (2 if tag == T_DICT else 1),
                              _NO_KEY])
                continue
            value = {} if tag == T_DICT else [] if tag == T_LIST else ()
        else:
            value, pos = _scalar(buf, tag, pos)
        while True:
            if not stack:
                return value, pos
            frame = stack[-1]
            items = frame[1]
            if frame[0] != T_DICT:
                items.append(value)
            elif frame[3] is _NO_KEY:
                frame[3] = value
            else:
                key, frame[3] = frame[3], _NO_KEY
                try:
                    items[key] = value
                except TypeError:  # an unhashable key (a list) decodes as its tuple twin
                    items[_freeze(key)] = value
            frame[2] -= 1
            if frame[2]:
                break
            stack.pop()
            value = tuple(items) if frame[0] == T_TUPLE else items


MAX_KEY_DEPTH = 64


def _freeze(value):
    """The hashable twin of a list or dict key: tuples all the way down, built without
    recursion. A key nested deeper than MAX_KEY_DEPTH (hashing and comparing it would
    recurse that deep) becomes a depth marker instead."""
    if not isinstance(value, (list, dict)):
        return value
    done: list = []
    stack = [(value, False, 1)]
    while stack:
        item, built, depth = stack.pop()
        if not isinstance(item, (list, dict)):
            done.append(item)
        elif depth > MAX_KEY_DEPTH:
            return Cut(CUT_REASONS[CUT_DEPTH], type(value).__name__)
        elif built:
            n = len(item) * (2 if isinstance(item, dict) else 1)
            parts = done[len(done) - n:] if n else []
            del done[len(done) - n:]
            if isinstance(item, dict):
                parts = [tuple(parts[i:i + 2]) for i in range(0, n, 2)]
            done.append(tuple(parts))
        else:
            stack.append((item, True, depth))
            children = ([x for kv in item.items() for x in kv] if isinstance(item, dict)
                        else item)
            stack.extend((c, False, depth + 1) for c in reversed(children))
    return done[0]
