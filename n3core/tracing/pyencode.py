"""The Python twin of the compiled encoder (the "encoder" section at the top of `_ring.pyx`).

Both turn one payload into the bytes of docs/trace-format.md ("Payload encoding") and must
agree byte for byte; the tests run every encoding case against both. Values that would make
a naive encoder crash or hang (cycles, very deep nesting, huge payloads, objects whose repr
raises) become markers instead.
"""
from __future__ import annotations

from .payload import (CUT_CYCLE, CUT_DEPTH, CUT_SIZE, DEFAULT_MAX_BYTES, DEFAULT_MAX_DEPTH,
                      DEFAULT_MAX_REPR, DOUBLE, REDACTED, T_BIGINT, T_BYTES, T_CUT, T_DICT,
                      T_FALSE, T_FLOAT, T_INT, T_LIST, T_NONE, T_OPAQUE, T_STR, T_TRUE,
                      T_TUPLE, Redaction, dataclass_fields, key_is_secret, learn, opaque_parts,
                      scrub, type_name)

_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


class _TooBig(Exception):
    pass


def _varint(out: bytearray, n: int) -> None:
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def _text(out: bytearray, s: str) -> None:
    raw = s.encode("utf-8", "surrogatepass")
    _varint(out, len(raw))
    out += raw


def encode(obj, max_depth: int = DEFAULT_MAX_DEPTH, max_bytes: int = DEFAULT_MAX_BYTES,
           max_repr: int = DEFAULT_MAX_REPR, redaction: Redaction | None = None) -> bytes:
    """Encode one payload; a result over max_bytes is replaced by a size Cut marker.

    A dataclass instance (of no tagged type) is encoded as the dict of its fields. With
    `redaction`, secret-named keys' values become REDACTED and secret values are scrubbed
    from every string.
    """
    known = len(redaction.secrets) if redaction is not None else 0
    out = _encode_top(obj, max_depth, max_bytes, max_repr, redaction)
    if redaction is not None and len(redaction.secrets) != known:
        # it learned a secret: encode again, so no copy of it before the key remains
        out = _encode_top(obj, max_depth, max_bytes, max_repr, redaction)
    return bytes(out)


def _encode_top(obj, max_depth, max_bytes, max_repr, redaction) -> bytearray:
    out = bytearray()
    try:
        _encode(out, obj, 0, [], max_depth, max_bytes, max_repr, redaction)
    except _TooBig:
        out = bytearray((T_CUT, CUT_SIZE))
        _text(out, type_name(obj))
    return out


def _encode(out, obj, depth, path, max_depth, max_bytes, max_repr, red):
    if obj is None:
        out.append(T_NONE)
    elif obj is False:
        out.append(T_FALSE)
    elif obj is True:
        out.append(T_TRUE)
    elif isinstance(obj, int):
        v = int(obj)
        if _INT64_MIN <= v <= _INT64_MAX:
            out.append(T_INT)
            _varint(out, ((v << 1) ^ (v >> 63)) & 0xFFFFFFFFFFFFFFFF)
        else:
            n = (v.bit_length() + 8) // 8
            out.append(T_BIGINT)
            _varint(out, n)
            out += v.to_bytes(n, "little", signed=True)
    elif isinstance(obj, float):
        out.append(T_FLOAT)
        out += DOUBLE.pack(obj)
    elif isinstance(obj, str):
        out.append(T_STR)
        _text(out, scrub(obj, red.secrets) if red is not None and red.secrets else obj)
    elif isinstance(obj, bytes):
        out.append(T_BYTES)
        _varint(out, len(obj))
        out += obj
    elif isinstance(obj, (list, tuple, dict)):
        if depth >= max_depth or any(p is obj for p in path):
            out.append(T_CUT)
            out.append(CUT_DEPTH if depth >= max_depth else CUT_CYCLE)
            _text(out, type_name(obj))
        else:
            path.append(obj)
            if isinstance(obj, dict):
                _pairs(out, list(obj.items()), depth, path, max_depth, max_bytes, max_repr, red)
            else:
                items = list(obj)
                out.append(T_LIST if isinstance(obj, list) else T_TUPLE)
                _varint(out, len(items))
                for item in items:
                    _encode(out, item, depth + 1, path, max_depth, max_bytes, max_repr, red)
            path.pop()
    else:
        names = dataclass_fields(type(obj))
        values = None
        if names is not None:
            if depth >= max_depth or any(p is obj for p in path):
                out.append(T_CUT)
                out.append(CUT_DEPTH if depth >= max_depth else CUT_CYCLE)
                _text(out, type_name(obj))
                names = ()
            else:
                try:
                    values = [getattr(obj, name) for name in names]
                except Exception:  # noqa: BLE001 - an unset field: recorded as other type
                    names = None
        if values is not None:
            path.append(obj)
            _pairs(out, list(zip(names, values)), depth, path, max_depth, max_bytes, max_repr,
                   red)
            path.pop()
        elif names is None:
            name, text, truncated = opaque_parts(obj, max_repr,
                                                 red.secrets if red is not None else ())
            out.append(T_OPAQUE)
            out.append(1 if truncated else 0)
            _text(out, name)
            _text(out, text)
    if len(out) > max_bytes:
        raise _TooBig


def _pairs(out, items, depth, path, max_depth, max_bytes, max_repr, red):
    """A dict's body: the count, then each key and value (REDACTED for secret-named keys)."""
    out.append(T_DICT)
    _varint(out, len(items))
    for k, v in items:
        _encode(out, k, depth + 1, path, max_depth, max_bytes, max_repr, red)
        if red is not None and isinstance(k, str) and key_is_secret(k, red):
            learn(red.secrets, v)
            out.append(T_STR)
            _text(out, REDACTED)
            if len(out) > max_bytes:
                raise _TooBig
        else:
            _encode(out, v, depth + 1, path, max_depth, max_bytes, max_repr, red)


_LEAVES = frozenset({str, bytes, int, float, bool, type(None)})
_CONTAINERS = (dict, list, tuple)
SNAP_DEPTH, SNAP_SIZE = 16, 4096  # nesting and entries past which a value is not vouched for


class _Unvouched(Exception):
    pass


def snapshot(value):
    """What proves later that `value` (a dict, list or tuple) was not changed in place, or
    None when nothing can: a writer may then give an encoding it kept instead of encoding
    `value` again, since the bytes would be the same.

    The snapshot is every object inside `value`, depth first, each container followed by
    its length and each dict's keys before their values. Holding them keeps each one alive,
    so no id in it is reused, and `unchanged` compares identities. Only containers and
    scalars of the builtin types the encoder maps one to one are vouched for: anything else
    (a dataclass, a subclass, an object's repr) may change without any identity changing.
    """
    if type(value) not in _CONTAINERS:
        return None
    out: list = []
    try:
        _snap(value, out, 0)
    except _Unvouched:
        return None
    return tuple(out)


def _snap(node, out: list, depth: int) -> None:
    kind = type(node)
    if kind in _LEAVES:
        out.append(node)
        return
    if depth >= SNAP_DEPTH or kind not in _CONTAINERS:
        raise _Unvouched
    out += (node, len(node))
    if kind is dict:
        for key, item in list(node.items()):
            if type(key) not in _LEAVES:
                raise _Unvouched
            out.append(key)
            _snap(item, out, depth + 1)
    else:
        for item in tuple(node):
            _snap(item, out, depth + 1)
    if len(out) > SNAP_SIZE:
        raise _Unvouched


def unchanged(value, snap: tuple) -> bool:
    """`value` holds exactly the objects it held when `snapshot` gave `snap`."""
    expected = iter(snap)
    return _same(value, expected) and next(expected, _END) is _END


_END = object()


def _same(node, expected) -> bool:
    if next(expected, _END) is not node:
        return False
    kind = type(node)
    if kind not in _CONTAINERS:
        return True
    if next(expected, None) != len(node):
        return False
    if kind is dict:
        return all(next(expected, _END) is key and _same(item, expected)
                   for key, item in list(node.items()))
    return all(_same(item, expected) for item in tuple(node))


def unchanged_prefix(values: list, objs: tuple, snaps: tuple) -> int:
    """How many of `values`, from the first, are the very objects `objs` holds, each
    `unchanged` since its snapshot in `snaps` (None: one that could not be vouched for)."""
    for at, (value, obj, snap) in enumerate(zip(values, objs, snaps)):
        if value is not obj or type(snap) is not tuple or not unchanged(value, snap):
            return at
    return min(len(values), len(objs), len(snaps))
