# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The compiled twin of `pyreader.py`: one validated chunk body into columns."""
from cpython.array cimport array, clone
from libc.stdint cimport int64_t, uint8_t, uint32_t
from libc.string cimport memcpy

import sys

if sys.byteorder != "little":
    raise ImportError("the compiled trace reader supports little-endian machines only")

IS_COMPILED = True
cdef array _Q = array("q")
cdef array _I = array("I")
cdef array _B = array("B")


def decode_records(const uint8_t[::1] body, Py_ssize_t n, int64_t ts_shift):
    """Columns of the n records at the start of `body`, timestamps moved by ts_shift.

    Returns (ts, site, kind, span, parent, task, offsets, lengths, payload_total).
    """
    if body.shape[0] < n * 24:
        raise ValueError("chunk body shorter than its records")
    cdef array ts = clone(_Q, n, False)
    cdef array site = clone(_I, n, False)
    cdef array kind = clone(_B, n, False)
    cdef array span = clone(_I, n, False)
    cdef array parent = clone(_I, n, False)
    cdef array task = clone(_I, n, False)
    cdef array offsets = clone(_I, n, False)
    cdef array lengths = clone(_I, n, False)
    cdef int64_t* pts = <int64_t*>ts.data.as_longlongs
    cdef uint32_t* psite = <uint32_t*>site.data.as_uints
    cdef uint8_t* pkind = <uint8_t*>kind.data.as_uchars
    cdef uint32_t* pspan = <uint32_t*>span.data.as_uints
    cdef uint32_t* pparent = <uint32_t*>parent.data.as_uints
    cdef uint32_t* ptask = <uint32_t*>task.data.as_uints
    cdef uint32_t* poff = <uint32_t*>offsets.data.as_uints
    cdef uint32_t* plen = <uint32_t*>lengths.data.as_uints
    cdef uint32_t w[6]
    cdef const uint8_t* p = &body[0] if n else NULL
    cdef Py_ssize_t i
    cdef unsigned long long total = 0
    for i in range(n):
        memcpy(w, p + i * 24, 24)
        pts[i] = ts_shift + <int64_t>w[0]
        psite[i] = w[1] & 0xFFFFFF
        pkind[i] = <uint8_t>(w[1] >> 24)
        pspan[i] = w[2]
        pparent[i] = w[3]
        ptask[i] = w[4]
        poff[i] = <uint32_t>total
        plen[i] = w[5]
        total += w[5]
    return ts, site, kind, span, parent, task, offsets, lengths, total


# -- payloads ------------------------------------------------------------------------------
# The compiled twin of `payload.decode` (docs/trace-format.md, "Payload encoding"). It
# handles every well-formed payload itself; at the first anomaly (a truncated value, an
# unknown tag, a varint past 64 bits, invalid UTF-8, nesting deeper than _MAX_NEST) it
# hands the whole payload to the Python decoder, so results and errors are the twin's.

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE, PyBytes_FromStringAndSize
from cpython.ref cimport PyObject, Py_INCREF, Py_XDECREF
from cpython.unicode cimport PyUnicode_DecodeASCII, PyUnicode_DecodeUTF8
from libc.string cimport memcmp

cdef extern from "Python.h":
    Py_ssize_t PyUnicode_GET_LENGTH(object)
    void* PyUnicode_DATA(object)

from n3core.tracing.payload import CUT_REASONS as _CUT_REASONS
from n3core.tracing.payload import PLAIN_DEPTH as _PLAIN_DEPTH
from n3core.tracing.payload import NotPlain
from n3core.tracing.payload import special as _special
from n3core.tracing.payload import Cut as _Cut
from n3core.tracing.payload import Opaque as _Opaque
from n3core.tracing.payload import _freeze
from n3core.tracing.payload import decode as _py_decode

cdef int _MAX_NEST = 200
cdef int _PLAIN_NEST = _PLAIN_DEPTH


class _Fallback(Exception):
    """Internal: the payload needs the Python decoder (bad bytes or an unusual shape)."""


cdef inline unsigned long long _varint(const unsigned char* b, Py_ssize_t* pos,
                                       Py_ssize_t end) except? 0xFFFFFFFFFFFFFFFF:
    cdef unsigned long long result = 0
    cdef unsigned long long byte
    cdef int shift = 0
    cdef Py_ssize_t p = pos[0]
    while True:
        if p >= end:
            raise _Fallback()
        byte = b[p]
        p += 1
        if shift == 63 and byte > 1:
            raise _Fallback()  # past 64 bits: the Python decoder knows what to do
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            pos[0] = p
            return result
        shift += 7
        if shift > 63:
            raise _Fallback()


cdef inline object _text(const unsigned char* b, Py_ssize_t* pos, Py_ssize_t end):
    cdef unsigned long long n = _varint(b, pos, end)
    cdef Py_ssize_t p = pos[0]
    if n > <unsigned long long>(end - p):
        raise _Fallback()
    pos[0] = p + <Py_ssize_t>n
    return PyUnicode_DecodeUTF8(<const char*>b + p, <Py_ssize_t>n, "surrogatepass")


# Dict keys are few and repeat in every payload ("type", "message", "usage"...), and so do
# short values (a model's name, a finish reason, a tool's): a short ASCII string is taken
# from a direct-mapped table when its bytes match, so it is neither allocated nor hashed
# again (a str caches its hash). Only pure-ASCII strings enter, whose data are one byte a
# character, so a hit is a length and memcmp check. Values have their own, shorter-limited
# table, so ids and other one-off values do not push the keys out.
DEF _SLOTS = 512
DEF _KEY_MAX = 32
DEF _VALUE_MAX = 16
cdef PyObject* _keys[_SLOTS]
cdef PyObject* _values[_SLOTS]


cdef inline object _short(PyObject** table, unsigned char limit, const unsigned char* b,
                          Py_ssize_t* pos, Py_ssize_t end, int depth, bint plain):
    cdef Py_ssize_t p = pos[0], n, j
    cdef unsigned int h = 2166136261u
    cdef unsigned char c
    cdef PyObject* hit
    cdef PyObject* old
    if (p + 1 >= end or b[p] != 0x06 or b[p + 1] > limit or p + 2 + b[p + 1] > end
            or depth > (_PLAIN_NEST if plain else _MAX_NEST)):
        return _value(b, pos, end, depth, plain)
    n = b[p + 1]
    for j in range(n):
        c = b[p + 2 + j]
        if c >= 0x80:
            return _value(b, pos, end, depth, plain)
        h = (h ^ c) * 16777619u
    h = (h ^ <unsigned int>n) & (_SLOTS - 1)
    hit = table[h]
    if (hit != NULL and PyUnicode_GET_LENGTH(<object>hit) == n
            and memcmp(PyUnicode_DATA(<object>hit), b + p + 2, n) == 0):
        pos[0] = p + 2 + n
        return <object>hit
    text = PyUnicode_DecodeASCII(<const char*>b + p + 2, n, NULL)
    Py_INCREF(text)
    old = table[h]  # read again: the allocation may have run code that decoded
    table[h] = <PyObject*>text
    Py_XDECREF(old)
    pos[0] = p + 2 + n
    return text


cdef object _value(const unsigned char* b, Py_ssize_t* pos, Py_ssize_t end, int depth,
                   bint plain):
    """One value; `plain` (decode_plain) sends a Cut, an Opaque or a value nested past the
    plain depth to the Python path, which tells them from garbage."""
    cdef Py_ssize_t p = pos[0]
    cdef unsigned long long z, count, i
    cdef unsigned char tag
    cdef double d
    cdef list items
    cdef dict result
    if p >= end or depth > (_PLAIN_NEST if plain else _MAX_NEST):
        raise _Fallback()
    tag = b[p]
    pos[0] = p + 1
    if tag == 0x00:
        return None
    if tag == 0x01:
        return False
    if tag == 0x02:
        return True
    if tag == 0x03:
        z = _varint(b, pos, end)
        return <long long>(z >> 1) ^ -<long long>(z & 1)
    if tag == 0x06:
        return _text(b, pos, end)
    if tag == 0x0A:
        count = _varint(b, pos, end)
        if count > <unsigned long long>(end - pos[0]):
            raise _Fallback()
        result = {}
        for i in range(count):
            k = _short(_keys, _KEY_MAX, b, pos, end, depth + 1, plain)
            v = _short(_values, _VALUE_MAX, b, pos, end, depth + 1, plain)
            try:
                result[k] = v
            except TypeError:  # an unhashable key (a list) decodes as its tuple twin
                result[_freeze(k)] = v
        return result
    if tag == 0x08 or tag == 0x09:
        count = _varint(b, pos, end)
        if count > <unsigned long long>(end - pos[0]):
            raise _Fallback()
        items = []
        for i in range(count):
            items.append(_value(b, pos, end, depth + 1, plain))
        return items if tag == 0x08 else tuple(items)
    if tag == 0x05:
        p = pos[0]
        if end - p < 8:
            raise _Fallback()
        memcpy(&d, b + p, 8)
        pos[0] = p + 8
        return d
    if tag == 0x07:
        count = _varint(b, pos, end)
        p = pos[0]
        if count > <unsigned long long>(end - p):
            raise _Fallback()
        pos[0] = p + <Py_ssize_t>count
        return PyBytes_FromStringAndSize(<const char*>b + p, <Py_ssize_t>count)
    if tag == 0x04:
        count = _varint(b, pos, end)
        p = pos[0]
        if count > <unsigned long long>(end - p):
            raise _Fallback()
        pos[0] = p + <Py_ssize_t>count
        return int.from_bytes(PyBytes_FromStringAndSize(<const char*>b + p, <Py_ssize_t>count),
                              "little", signed=True)
    if plain:
        raise _Fallback()
    if tag == 0x0B:
        p = pos[0]
        if p >= end:
            raise _Fallback()
        truncated = b[p] != 0
        pos[0] = p + 1
        name = _text(b, pos, end)
        text = _text(b, pos, end)
        return _Opaque(name, text, truncated)
    if tag == 0x0C:
        p = pos[0]
        if p >= end:
            raise _Fallback()
        reason = _CUT_REASONS.get(b[p])
        if reason is None:
            reason = f"unknown({b[p]})"
        pos[0] = p + 1
        return _Cut(reason, _text(b, pos, end))
    raise _Fallback()


cdef inline Py_ssize_t _check(bytes body, Py_ssize_t start, Py_ssize_t n) except -1:
    if start < 0 or n < 0 or start > PyBytes_GET_SIZE(body) - n:
        raise ValueError(f"payload [{start}, {start}+{n}) lies outside a {len(body)}-byte body")
    return 0


def decode_payload(bytes body not None, Py_ssize_t start, Py_ssize_t n):
    """The payload at body[start:start + n], decoded exactly as `payload.decode` does."""
    _check(body, start, n)
    cdef const unsigned char* b = <const unsigned char*>PyBytes_AS_STRING(body)
    cdef Py_ssize_t pos = start
    try:
        value = _value(b, &pos, start + n, 0, False)
    except Exception:
        return _py_decode(body[start:start + n])
    if pos != start + n:
        return _py_decode(body[start:start + n])
    return value


def decode_plain(bytes body not None, Py_ssize_t start, Py_ssize_t n):
    """`decode_payload`, for a payload that must be plain (`payload.special`): NotPlain
    otherwise. A plain payload is checked while it is decoded, not walked afterwards."""
    _check(body, start, n)
    cdef const unsigned char* b = <const unsigned char*>PyBytes_AS_STRING(body)
    cdef Py_ssize_t pos = start
    try:
        value = _value(b, &pos, start + n, 0, True)
        if pos == start + n:
            return value
    except Exception:
        pass
    value = _py_decode(body[start:start + n])
    if _special(value) is not None:
        raise NotPlain()
    return value


cdef int _skip(const unsigned char* b, Py_ssize_t* pos, Py_ssize_t end, int depth) except -1:
    """Step over one value without building it; text is not checked for valid UTF-8."""
    cdef Py_ssize_t p = pos[0]
    cdef unsigned long long count, i
    cdef unsigned char tag
    if p >= end or depth > _MAX_NEST:
        raise _Fallback()
    tag = b[p]
    pos[0] = p + 1
    if tag <= 0x02:
        return 0
    if tag == 0x03:
        _varint(b, pos, end)
        return 0
    if tag == 0x05:
        count = 8
    elif tag == 0x04 or tag == 0x06 or tag == 0x07:
        count = _varint(b, pos, end)
    elif tag == 0x08 or tag == 0x09 or tag == 0x0A:
        count = _varint(b, pos, end)
        if count > <unsigned long long>(end - pos[0]):
            raise _Fallback()
        if tag == 0x0A:
            count *= 2
        for i in range(count):
            _skip(b, pos, end, depth + 1)
        return 0
    elif tag == 0x0B or tag == 0x0C:
        if pos[0] >= end:
            raise _Fallback()
        pos[0] += 1
        count = _varint(b, pos, end)
        if tag == 0x0B:
            if count > <unsigned long long>(end - pos[0]):
                raise _Fallback()
            pos[0] += <Py_ssize_t>count
            count = _varint(b, pos, end)
    else:
        raise _Fallback()
    if count > <unsigned long long>(end - pos[0]):
        raise _Fallback()
    pos[0] += <Py_ssize_t>count
    return 0


def _get_slow(bytes body, Py_ssize_t start, Py_ssize_t n, keys):
    value = _py_decode(body[start:start + n])
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if k in keys}


def payload_get(bytes body not None, Py_ssize_t start, Py_ssize_t n, keys):
    """{key: value} for the `keys` present in the top-level dict at body[start:start+n].

    Keys come in payload order.
    Only those values (and the keys) are built; the rest is stepped over. The result equals
    filtering `payload.decode(...)` (an empty dict when the payload is not a dict), except
    that text in the parts stepped over is not checked for valid UTF-8.
    """
    _check(body, start, n)
    cdef const unsigned char* b = <const unsigned char*>PyBytes_AS_STRING(body)
    cdef Py_ssize_t pos = start
    cdef Py_ssize_t end = start + n
    cdef unsigned long long count, i
    cdef dict found = {}
    try:
        if n == 0 or b[start] != 0x0A:
            _skip(b, &pos, end, 0)
            if pos != end:
                raise _Fallback()
            return found
        pos += 1
        count = _varint(b, &pos, end)
        if count > <unsigned long long>(end - pos):
            raise _Fallback()
        for i in range(count):
            k = _short(_keys, _KEY_MAX, b, &pos, end, 1, False)
            try:
                hash(k)
            except TypeError:  # as `decode` does: an unhashable key becomes its tuple twin
                k = _freeze(k)
                hash(k)
            if k in keys:
                found[k] = _value(b, &pos, end, 1, False)
            else:
                _skip(b, &pos, end, 1)
        if pos != end:
            raise _Fallback()
    except _Fallback:
        return _get_slow(body, start, n, keys)
    except UnicodeDecodeError:
        return _get_slow(body, start, n, keys)
    return found


# -- canonical JSON ------------------------------------------------------------------------
# The twin of pyreader.canonical_json: the request hash's text (reqhash.canonical) written
# straight from a payload's bytes. A string's UTF-8 is copied as it is (the encoder wrote it
# with surrogatepass, as the hash reads it), escaping what json escapes; a dict's entries
# are sorted by their keys' bytes, which is code point order. What JSON does not hold as
# such (bytes, markers, keys other than strings, nesting past JSON_NEST) or bad bytes give None.

from libc.stdlib cimport free, malloc, qsort, realloc
from libc.stdio cimport snprintf
from libc.math cimport isinf, isnan

from n3core.tracing.payload import JSON_NEST as _JSON_NEST_PY

cdef int _JSON_NEST = _JSON_NEST_PY
cdef const char* _HEX = "0123456789abcdef"
cdef char _SHORT_ESCAPE[32]  # the control characters json writes as a letter after a backslash
for _c, _letter in ((8, "b"), (9, "t"), (10, "n"), (12, "f"), (13, "r")):
    _SHORT_ESCAPE[_c] = ord(_letter)


cdef struct JBuf:
    char* data
    Py_ssize_t length
    Py_ssize_t cap


cdef struct JEntry:
    const unsigned char* key
    Py_ssize_t klen
    Py_ssize_t start   # the value's JSON, in the buffer
    Py_ssize_t stop
    Py_ssize_t index
    bint bad           # a value JSON does not hold as such


cdef int _jgrow(JBuf* o, Py_ssize_t extra) except -1:
    cdef Py_ssize_t want = o.length + extra
    cdef char* grown
    if want <= o.cap:
        return 0
    want = max(want, 2 * o.cap, 256)
    grown = <char*>realloc(o.data, want)
    if grown == NULL:
        raise MemoryError()
    o.data, o.cap = grown, want
    return 0


cdef inline int _jput(JBuf* o, const char* s, Py_ssize_t n) except -1:
    _jgrow(o, n)
    memcpy(o.data + o.length, s, n)
    o.length += n
    return 0


cdef int _jstr(JBuf* o, const unsigned char* s, Py_ssize_t n) except -1:
    """A JSON string of UTF-8 `s`; 1 when it is not valid (surrogatepass) UTF-8."""
    cdef Py_ssize_t i, run = 0
    cdef unsigned char c
    cdef bint ascii = True
    cdef char esc[6]
    _jgrow(o, n + 2)
    o.data[o.length] = 34
    o.length += 1
    for i in range(n):
        c = s[i]
        if c >= 0x80:
            ascii = False
        elif c < 0x20 or c == 34 or c == 92:
            _jput(o, <const char*>s + run, i - run)
            run = i + 1
            esc[0] = 92
            if c == 34 or c == 92:
                esc[1] = c
                _jput(o, esc, 2)
            elif _SHORT_ESCAPE[c]:
                esc[1] = _SHORT_ESCAPE[c]
                _jput(o, esc, 2)
            else:
                esc[1], esc[2], esc[3] = b"u"[0], b"0"[0], b"0"[0]
                esc[4], esc[5] = _HEX[c >> 4], _HEX[c & 15]
                _jput(o, esc, 6)
    _jput(o, <const char*>s + run, n - run)
    _jput(o, "\"", 1)
    if not ascii:
        try:
            PyUnicode_DecodeUTF8(<const char*>s, n, "surrogatepass")
        except UnicodeDecodeError:
            return 1
    return 0


cdef int _jtext(JBuf* o, object text) except -1:
    cdef bytes raw = text.encode("ascii")
    return _jput(o, PyBytes_AS_STRING(raw), PyBytes_GET_SIZE(raw))


cdef int _jcompare(const void* a, const void* b) noexcept nogil:
    cdef const JEntry* x = <const JEntry*>a
    cdef const JEntry* y = <const JEntry*>b
    cdef int c = memcmp(x.key, y.key, x.klen if x.klen < y.klen else y.klen)
    if c == 0:
        c = (x.klen > y.klen) - (x.klen < y.klen)
    if c == 0:
        c = (x.index > y.index) - (x.index < y.index)
    return c


cdef int _jdict(const unsigned char* b, Py_ssize_t* pos, Py_ssize_t end, int depth, JBuf* o,
                object omit) except -1:
    cdef unsigned long long count = _varint(b, pos, end), i
    cdef JEntry* entries
    cdef Py_ssize_t base = o.length, used = 0, k, n, at
    cdef char* values
    cdef bint first = True
    if count > <unsigned long long>(end - pos[0]):
        return 1
    entries = <JEntry*>malloc(max(<Py_ssize_t>count, 1) * sizeof(JEntry))
    if entries == NULL:
        raise MemoryError()
    try:
        for i in range(count):
            if pos[0] >= end or b[pos[0]] != 0x06:
                return 1
            pos[0] += 1
            n = <Py_ssize_t>_varint(b, pos, end)
            if n > end - pos[0]:
                return 1
            entries[used].key, entries[used].klen = b + pos[0], n
            pos[0] += n
            at = pos[0]
            if omit is not None and PyUnicode_DecodeUTF8(
                    <const char*>entries[used].key, n, "surrogatepass") in omit:
                _skip(b, pos, end, depth + 1)
                continue
            entries[used].start, entries[used].index, entries[used].bad = o.length, used, False
            if _json(b, pos, end, depth + 1, o, None):
                o.length, pos[0] = entries[used].start, at
                _skip(b, pos, end, depth + 1)  # a later value for the key may replace it
                entries[used].bad = True
            entries[used].stop = o.length
            used += 1
        qsort(entries, used, sizeof(JEntry), _jcompare)
        n = o.length - base
        values = <char*>malloc(max(n, 1))
        if values == NULL:
            raise MemoryError()
        try:
            memcpy(values, o.data + base, n)
            o.length = base
            _jput(o, "{", 1)
            for k in range(used):
                if k + 1 < used and entries[k + 1].klen == entries[k].klen and memcmp(
                        entries[k + 1].key, entries[k].key, entries[k].klen) == 0:
                    continue  # a key twice: the last value is the one decoding keeps
                if entries[k].bad:
                    return 1
                if not first:
                    _jput(o, ",", 1)
                first = False
                if _jstr(o, entries[k].key, entries[k].klen):
                    return 1
                _jput(o, ":", 1)
                _jput(o, values + entries[k].start - base, entries[k].stop - entries[k].start)
            _jput(o, "}", 1)
        finally:
            free(values)
    finally:
        free(entries)
    return 0


cdef int _json(const unsigned char* b, Py_ssize_t* pos, Py_ssize_t end, int depth, JBuf* o,
               object omit) except -1:
    """One value's canonical JSON; 1 when it has none (see above)."""
    cdef Py_ssize_t p = pos[0]
    cdef unsigned long long z, count, i
    cdef unsigned char tag
    cdef double d
    cdef char digits[24]
    if p >= end:
        return 1
    tag = b[p]
    pos[0] = p + 1
    if tag == 0x00:
        return _jput(o, "null", 4)
    if tag == 0x01:
        return _jput(o, "false", 5)
    if tag == 0x02:
        return _jput(o, "true", 4)
    if tag == 0x03:
        z = _varint(b, pos, end)
        return _jput(o, digits, snprintf(digits, 24, "%lld",
                                         <long long>(z >> 1) ^ -<long long>(z & 1)))
    if tag == 0x06:
        count = _varint(b, pos, end)
        p = pos[0]
        if count > <unsigned long long>(end - p):
            return 1
        pos[0] = p + <Py_ssize_t>count
        return _jstr(o, b + p, <Py_ssize_t>count)
    if tag == 0x05:
        p = pos[0]
        if end - p < 8:
            return 1
        memcpy(&d, b + p, 8)
        pos[0] = p + 8
        if isnan(d):
            return _jput(o, "NaN", 3)
        if isinf(d):
            return _jput(o, "Infinity", 8) if d > 0 else _jput(o, "-Infinity", 9)
        return _jtext(o, repr(d))
    if tag == 0x04:
        pos[0] = p
        return _jtext(o, repr(_value(b, pos, end, 0, True)))
    if depth >= _JSON_NEST:
        return 1
    if tag == 0x0A:
        return _jdict(b, pos, end, depth, o, omit)
    if tag == 0x08 or tag == 0x09:
        count = _varint(b, pos, end)
        if count > <unsigned long long>(end - pos[0]):
            return 1
        _jput(o, "[", 1)
        for i in range(count):
            if i:
                _jput(o, ",", 1)
            if _json(b, pos, end, depth + 1, o, None):
                return 1
        return _jput(o, "]", 1)
    return 1


def canonical_json(bytes body not None, Py_ssize_t start, Py_ssize_t n, omit=None):
    """pyreader.canonical_json: the payload's canonical JSON as UTF-8, or None."""
    _check(body, start, n)
    cdef const unsigned char* b = <const unsigned char*>PyBytes_AS_STRING(body)
    cdef Py_ssize_t pos = start
    cdef JBuf o
    o.data, o.length, o.cap = NULL, 0, 0
    try:
        try:
            if _json(b, &pos, start + n, 0, &o, omit or None) or pos != start + n:
                return None
        except _Fallback:
            return None
        return PyBytes_FromStringAndSize(o.data, o.length)
    finally:
        free(o.data)
