# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, binding=False, embedsignature=True, embedsignature.format=clinic
# distutils: libraries = z
"""The compiled recorder: a preallocated ring of chunk slots and the payload encoder.

Two sections, each with its Python twin: the encoder (`encode`, twin `pyencode.py`) and
the recorder (`Recorder` and the span calls, twin `pyring.py`), the reference for every
decision that shows in the file; keep each pair in step. Nothing here allocates a Python object for an event without a
payload; a span costs one Frame (from a free list), plus one context-variable update
when it is opened with enter() rather than enter_sync().

Sealed chunks leave through run_writer(), a loop a writer thread enters with the GIL
released: the checksum and the write happen there, never in the thread that records.
"""
cimport cython
from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc, realloc, calloc
from libc.string cimport memcpy, memset
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.object cimport PyObject
from cpython.ref cimport Py_DECREF, Py_INCREF
from posix.time cimport clock_gettime, timespec, CLOCK_MONOTONIC

import contextvars
import os
import sys
import zlib

from .format import (KIND_END, KIND_ERROR_END, KIND_INSTANT,
                     KIND_START, POLICY_BLOCK, POLICY_DROP, POLICY_FLIGHT)
from .payload import REDACTED, MAX_VERDICTS, dataclass_fields, learn, opaque_parts, type_name
from .payload import _FIELDS as _fields_cache

if sys.byteorder != "little":
    raise ImportError("the compiled tracing core writes records in host order and so "
                      "supports little-endian machines only")

cdef extern from "Python.h":
    ctypedef struct PyThreadState:
        PyObject* context
    PyThreadState* PyThreadState_Get()
    int PyContextVar_Get(object var, PyObject* default_value, PyObject** value) except -1
    object PyContextVar_Set(object var, object value)
    int PyContextVar_Reset(object var, object token)
    void PyErr_Clear()
    void _decref_raw "Py_DECREF"(PyObject* o)
    const char* PyUnicode_AsUTF8AndSize(object s, Py_ssize_t* size) except? NULL
    bint PyLong_Check(object o)
    bint PyFloat_Check(object o)
    bint PyUnicode_Check(object o)
    bint PyBytes_Check(object o)
    bint PyList_Check(object o)
    bint PyTuple_Check(object o)
    bint PyDict_Check(object o)
    long long PyLong_AsLongLongAndOverflow(object o, int* overflow) except? -1
    double PyFloat_AS_DOUBLE(object o)
    Py_ssize_t PyList_GET_SIZE(object o)
    PyObject* PyList_GET_ITEM(object o, Py_ssize_t i)
    Py_ssize_t PyTuple_GET_SIZE(object o)
    PyObject* PyTuple_GET_ITEM(object o, Py_ssize_t i)
    Py_ssize_t PyDict_Size(object o)
    int PyDict_Next(object o, Py_ssize_t* pos, PyObject** key, PyObject** value)
    PyObject* PyDict_GetItemWithError(object d, object key) except? NULL
    PyObject* PyDict_GetItem(object d, object key)
    int PyDict_SetItem(object d, object key, object value) except -1
    Py_ssize_t PyUnicode_GET_LENGTH(object o)
    bint PyUnicode_IS_COMPACT_ASCII(object o)
    void* PyUnicode_DATA(object o)
    int PyUnicode_Contains(object container, object element) except -1
    object PyUnicode_Replace(object s, object substr, object replstr, Py_ssize_t maxcount)
    PyObject* Py_True
    PyObject* Py_None

cdef extern from "zlib.h" nogil:
    unsigned long crc32(unsigned long crc, const unsigned char* buf, unsigned int length)

cdef extern from *:
    """
    #include <errno.h>
    static inline int n3_errno(void) { return errno; }
    static inline void n3_set_errno(int e) { errno = e; }
    """
    int n3_errno() noexcept nogil
    void n3_set_errno(int e) noexcept nogil

cdef extern from "<unistd.h>" nogil:
    ssize_t c_write "write"(int fd, const void* buf, size_t count)
    int ftruncate(int fd, long length)
    long lseek(int fd, long offset, int whence)

cdef extern from "<pthread.h>" nogil:
    ctypedef struct pthread_mutex_t:
        pass
    ctypedef struct pthread_cond_t:
        pass
    ctypedef struct pthread_condattr_t:
        pass
    int pthread_mutex_init(pthread_mutex_t* m, void* attr)
    int pthread_mutex_lock(pthread_mutex_t* m)
    int pthread_mutex_unlock(pthread_mutex_t* m)
    int pthread_condattr_init(pthread_condattr_t* a)
    int pthread_condattr_setclock(pthread_condattr_t* a, int clock)
    int pthread_cond_init(pthread_cond_t* c, pthread_condattr_t* a)
    int pthread_cond_signal(pthread_cond_t* c)
    int pthread_cond_broadcast(pthread_cond_t* c)
    int pthread_cond_timedwait(pthread_cond_t* c, pthread_mutex_t* m, const timespec* t)

cdef extern from *:
    """
    #define n3_load(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
    #define n3_store(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
    """
    uint8_t n3_load(uint8_t* p) noexcept nogil
    void n3_store(uint8_t* p, uint8_t v) noexcept nogil
    uint32_t n3_load32 "n3_load"(uint32_t* p) noexcept nogil
    int n3_loadi "n3_load"(int* p) noexcept nogil
    int64_t n3_load64 "n3_load"(int64_t* p) noexcept nogil

cdef extern from *:
    """
    #if (defined(__x86_64__) || defined(_M_X64)) && !defined(N3TRACE_NO_TSC)
    #include <x86intrin.h>
    #define N3_HAVE_TSC 1
    static inline unsigned long long n3_tsc(void) { return __rdtsc(); }
    #else
    #define N3_HAVE_TSC 0
    static inline unsigned long long n3_tsc(void) { return 0; }
    #endif
    """
    bint N3_HAVE_TSC
    unsigned long long n3_tsc() noexcept nogil

DEF T_NONE = 0x00
DEF T_FALSE = 0x01
DEF T_TRUE = 0x02
DEF T_INT = 0x03
DEF T_BIGINT = 0x04
DEF T_FLOAT = 0x05
DEF T_STR = 0x06
DEF T_BYTES = 0x07
DEF T_LIST = 0x08
DEF T_TUPLE = 0x09
DEF T_DICT = 0x0A
DEF T_OPAQUE = 0x0B
DEF T_CUT = 0x0C
DEF CUT_CYCLE = 1
DEF CUT_DEPTH = 2
DEF CUT_SIZE = 3
DEF CUT_MUTATED = 4

DEF FREE = 0
DEF FILLING = 1
DEF SEALED = 2
DEF MAX_ATTEMPTS = 64
DEF MAX_DELTA = 0xFFFFFFFF
DEF MAX_SITE = 0xFFFFFF
DEF RESERVED_BASE = 0xFFFF00
DEF RECORD_SIZE = 24
DEF CHUNK_HEADER = 32
DEF CHUNK_TAG = b"N3CK"
DEF TSC_WINDOW_NS = 1000000        # re-anchor on CLOCK_MONOTONIC at least every 1 ms
DEF TSC_CALIBRATE_NS = 10000000    # the rate is measured over at least 10 ms...
DEF TSC_RECALIBRATE_NS = 1000000000  # ...and at most about 1 s, so it follows NTP slewing
DEF TSC_PAIR_TICKS = 1000          # an anchor's two TSC reads must bracket the clock read tightly

IS_COMPILED = True
# The byte layout's constants above are compile-time copies of n3core.tracing.format's;
# LAYOUT shows them to Python so a test can hold the two equal.
LAYOUT = {"MAX_DELTA": MAX_DELTA, "MAX_SITE": MAX_SITE, "RESERVED_BASE": RESERVED_BASE,
          "RECORD_SIZE": RECORD_SIZE, "CHUNK_HEADER": CHUNK_HEADER, "CHUNK_MAGIC": CHUNK_TAG}


cdef packed struct Rec:
    uint32_t delta
    uint32_t site_kind
    uint32_t span
    uint32_t parent
    uint32_t task
    uint32_t plen


# ---- the encoder; its twin is pyencode.py ----
cdef struct Enc:
    char* data
    Py_ssize_t length
    Py_ssize_t cap
    Py_ssize_t limit
    int max_depth
    int max_repr
    PyObject** path
    PyObject* verdicts     # borrowed from the owner's Redaction; NULL: no redaction
    PyObject* rule
    PyObject* secrets      # a tuple or list of str, longest first (may be empty)
    Py_ssize_t min_secret  # length of the shortest secret; 0 when there are none
    Py_ssize_t nsecrets    # how many secrets min_secret was computed from
    bint learn             # secrets is a list: values redacted by key are added to it


cdef int _grow(Enc* e, Py_ssize_t extra) except -1:
    cdef Py_ssize_t want = e.length + extra
    cdef Py_ssize_t cap = e.cap if e.cap else 256
    cdef char* data
    if want <= e.cap:
        return 0
    while cap < want:
        cap *= 2
    data = <char*>realloc(e.data, cap)
    if data == NULL:
        raise MemoryError()
    e.data = data
    e.cap = cap
    return 0


cdef inline int _byte(Enc* e, uint8_t b) except -1:
    if e.length >= e.cap:
        _grow(e, 1)
    e.data[e.length] = <char>b
    e.length += 1
    return 0


cdef inline int _varint(Enc* e, uint64_t v) except -1:
    if e.length + 10 > e.cap:
        _grow(e, 10)
    while v > 0x7F:
        e.data[e.length] = <char>((v & 0x7F) | 0x80)
        e.length += 1
        v >>= 7
    e.data[e.length] = <char>v
    e.length += 1
    return 0


cdef int _raw(Enc* e, const char* src, Py_ssize_t n) except -1:
    """Length-prefixed bytes; 1 (abort) when they would push the payload over its limit."""
    _varint(e, <uint64_t>n)
    if e.length + n > e.limit:
        return 1
    _grow(e, n)
    memcpy(e.data + e.length, src, n)
    e.length += n
    return 0


cdef int _text(Enc* e, object s) except -1:
    cdef Py_ssize_t n
    cdef const char* p
    cdef bytes raw
    if PyUnicode_IS_COMPACT_ASCII(s):  # its characters are its UTF-8 bytes
        return _raw(e, <const char*>PyUnicode_DATA(s), PyUnicode_GET_LENGTH(s))
    try:
        p = PyUnicode_AsUTF8AndSize(s, &n)
    except UnicodeEncodeError:
        raw = (<str>s).encode("utf-8", "surrogatepass")
        return _raw(e, PyBytes_AS_STRING(raw), PyBytes_GET_SIZE(raw))
    return _raw(e, p, n)


cdef int _cut(Enc* e, uint8_t reason, object obj) except -1:
    _byte(e, T_CUT)
    _byte(e, reason)
    return _text(e, type_name(obj))


cdef object _REDACTED = REDACTED
cdef object _dataclass_fields = dataclass_fields
cdef object _learn = learn
cdef object _fields = _fields_cache


cdef int _set_redaction(Enc* e, object red) except -1:
    """Point the encoder at a payload.Redaction (borrowed: its owner keeps it alive)."""
    if red is None:
        e.verdicts = e.rule = e.secrets = NULL
        e.min_secret = e.nsecrets = 0
        e.learn = False
        return 0
    verdicts, rule, secrets = red
    if type(verdicts) is not dict or type(secrets) not in (tuple, list):
        raise TypeError("redaction needs a dict of verdicts and a tuple or list of secrets")
    for secret in secrets:
        if type(secret) is not str or not secret:
            raise TypeError("redaction secrets must be non-empty str")
    e.verdicts, e.rule, e.secrets = <PyObject*>verdicts, <PyObject*>rule, <PyObject*>secrets
    e.learn = type(secrets) is list
    _measure(e)
    return 0


cdef int _measure(Enc* e) except -1:
    """min_secret from the secrets as they are now (a learning list grows while it runs)."""
    cdef Py_ssize_t shortest = 0, n
    cdef object secrets = <object>e.secrets
    for secret in secrets:
        n = len(<str>secret)
        if shortest == 0 or n < shortest:
            shortest = n
    e.min_secret = shortest
    e.nsecrets = len(secrets)
    return 0


cdef inline Py_ssize_t _known(Enc* e) except -1:
    if e.secrets == NULL:
        return 0
    return len(<object>e.secrets)


cdef int _learned(Enc* e, object value) except -1:
    """payload.learn for a value just redacted by key."""
    if e.learn and _learn(<object>e.secrets, value):
        _measure(e)
    return 0


cdef object _scrub(Enc* e, object text):
    """payload.scrub: every secret (longest first) replaced by REDACTED."""
    cdef object secrets = <object>e.secrets
    for secret in secrets:
        if PyUnicode_Contains(text, secret):
            text = PyUnicode_Replace(text, secret, _REDACTED, -1)
    return text


cdef bint _secret_key(Enc* e, object key) except -1:
    """payload.key_is_secret: a dict lookup, the rule only for keys not seen yet."""
    cdef object verdicts = <object>e.verdicts
    cdef PyObject* hit = PyDict_GetItemWithError(verdicts, key)
    if hit != NULL:
        return hit == Py_True
    verdict = bool((<object>e.rule)(key))
    if PyDict_Size(verdicts) < MAX_VERDICTS:
        PyDict_SetItem(verdicts, key, verdict)
    return verdict


cdef int _value(Enc* e, object obj, int depth) except -1:
    """Append one value; 1 means the payload went over its limit and encoding stops."""
    cdef int overflow = 0, rc = 0, i
    cdef long long v
    cdef uint64_t z
    cdef double d
    cdef Py_ssize_t n, k, pos
    cdef PyObject* key
    cdef PyObject* val
    cdef PyObject* item
    if obj is None:
        _byte(e, T_NONE)
    elif obj is False:
        _byte(e, T_FALSE)
    elif obj is True:
        _byte(e, T_TRUE)
    elif PyLong_Check(obj):
        v = PyLong_AsLongLongAndOverflow(obj, &overflow)
        if overflow == 0:
            _byte(e, T_INT)
            z = (<uint64_t>v << 1) ^ <uint64_t>(v >> 63)
            _varint(e, z)
        else:
            n = (int(obj).bit_length() + 8) // 8
            raw = int(obj).to_bytes(n, "little", signed=True)
            _byte(e, T_BIGINT)
            rc = _raw(e, PyBytes_AS_STRING(raw), n)
    elif PyFloat_Check(obj):
        d = PyFloat_AS_DOUBLE(obj)
        _byte(e, T_FLOAT)
        _grow(e, 8)
        memcpy(e.data + e.length, &d, 8)
        e.length += 8
    elif PyUnicode_Check(obj):
        _byte(e, T_STR)
        if e.min_secret and PyUnicode_GET_LENGTH(obj) >= e.min_secret:
            rc = _text(e, _scrub(e, obj))
        else:
            rc = _text(e, obj)
    elif PyBytes_Check(obj):
        _byte(e, T_BYTES)
        rc = _raw(e, PyBytes_AS_STRING(obj), PyBytes_GET_SIZE(obj))
    elif PyList_Check(obj) or PyTuple_Check(obj) or PyDict_Check(obj):
        if depth >= e.max_depth:
            rc = _cut(e, CUT_DEPTH, obj)
        else:
            for i in range(depth):
                if e.path[i] == <PyObject*>obj:
                    rc = _cut(e, CUT_CYCLE, obj)
                    break
            else:
                e.path[depth] = <PyObject*>obj
                rc = _container(e, obj, depth)
    else:
        rc = _other(e, obj, depth)
    if rc == 0 and e.length > e.limit:
        rc = 1
    return rc


cdef int _other(Enc* e, object obj, int depth) except -1:
    """A value of no tagged type: a dataclass as the dict of its fields, else opaque."""
    cdef PyObject* hit = PyDict_GetItem(_fields, type(obj))
    cdef object names, values
    cdef int i, rc
    if hit != NULL:
        names = <object>hit
    else:
        names = _dataclass_fields(type(obj))
    if names is not None:
        if depth >= e.max_depth:
            return _cut(e, CUT_DEPTH, obj)
        for i in range(depth):
            if e.path[i] == <PyObject*>obj:
                return _cut(e, CUT_CYCLE, obj)
        try:
            values = [getattr(obj, name) for name in <tuple>names]
        except Exception:
            values = None
        if values is not None:
            e.path[depth] = <PyObject*>obj
            return _fields_dict(e, <tuple>names, <list>values, depth)
    name, text, truncated = opaque_parts(
        obj, e.max_repr, <object>e.secrets if e.secrets != NULL else ())
    _byte(e, T_OPAQUE)
    _byte(e, 1 if truncated else 0)
    rc = _text(e, name)
    if rc == 0:
        rc = _text(e, text)
    return rc


cdef int _redacted(Enc* e) except -1:
    _byte(e, T_STR)
    if _text(e, _REDACTED) or e.length > e.limit:
        return 1
    return 0


cdef int _fields_dict(Enc* e, tuple names, list values, int depth) except -1:
    cdef Py_ssize_t k, n = len(names)
    cdef int rc = 0
    _byte(e, T_DICT)
    _varint(e, <uint64_t>n)
    for k in range(n):
        ko = names[k]
        rc = _value(e, ko, depth + 1)
        if rc == 0:
            if e.verdicts != NULL and PyUnicode_Check(ko) and _secret_key(e, ko):
                _learned(e, values[k])
                rc = _redacted(e)
            else:
                rc = _value(e, values[k], depth + 1)
        if rc:
            return rc
    return 0


cdef int _container(Enc* e, object obj, int depth) except -1:
    cdef Py_ssize_t n, k, pos = 0
    cdef PyObject* key
    cdef PyObject* val
    cdef object ko, vo
    cdef int rc = 0
    if PyDict_Check(obj):
        n = PyDict_Size(obj)
        _byte(e, T_DICT)
        _varint(e, <uint64_t>n)
        k = 0
        while k < n and PyDict_Next(obj, &pos, &key, &val):
            ko = <object>key
            vo = <object>val
            rc = _value(e, ko, depth + 1)
            if rc == 0:
                if e.verdicts != NULL and PyUnicode_Check(ko) and _secret_key(e, ko):
                    _learned(e, vo)
                    rc = _redacted(e)
                else:
                    rc = _value(e, vo, depth + 1)
            if rc:
                return rc
            k += 1
        while k < n:
            _cut(e, CUT_MUTATED, obj)
            _cut(e, CUT_MUTATED, obj)
            k += 1
        return 0
    if PyList_Check(obj):
        n = PyList_GET_SIZE(obj)
        _byte(e, T_LIST)
        _varint(e, <uint64_t>n)
        for k in range(n):
            if k < PyList_GET_SIZE(obj):
                vo = <object>PyList_GET_ITEM(obj, k)
                rc = _value(e, vo, depth + 1)
            else:
                rc = _cut(e, CUT_MUTATED, obj)
            if rc:
                return rc
        return 0
    n = PyTuple_GET_SIZE(obj)
    _byte(e, T_TUPLE)
    _varint(e, <uint64_t>n)
    for k in range(n):
        vo = <object>PyTuple_GET_ITEM(obj, k)
        rc = _value(e, vo, depth + 1)
        if rc:
            return rc
    return 0


cdef int _encode_top(Enc* e, object obj) except -1:
    e.length = 0
    if _value(e, obj, 0):
        e.length = 0
        _byte(e, T_CUT)
        _byte(e, CUT_SIZE)
        _text(e, type_name(obj))
    return 0


cdef int _encode(Enc* e, object obj) except -1:
    """pyencode.encode: once, and once more if it learned a secret on the way."""
    cdef Py_ssize_t known = _known(e)
    if known != e.nsecrets:
        _measure(e)
    _encode_top(e, obj)
    if _known(e) != known:
        _encode_top(e, obj)
    return 0


def encode(obj, int max_depth=32, Py_ssize_t max_bytes=256 * 1024, int max_repr=200,
           redaction=None):
    """Encode one payload exactly as pyencode.encode does (the tests compare the two)."""
    cdef Enc e
    memset(&e, 0, sizeof(Enc))
    e.limit, e.max_depth, e.max_repr = max_bytes, max_depth, max_repr
    _set_redaction(&e, redaction)
    e.path = <PyObject**>calloc(max_depth + 1, sizeof(PyObject*))
    try:
        _encode(&e, obj)
        return PyBytes_FromStringAndSize(e.data, e.length)
    finally:
        free(e.data)
        free(e.path)


DEF SNAP_DEPTH = 16
DEF SNAP_SIZE = 4096


cdef inline bint _snap_leaf(object o):
    cdef type t = type(o)
    return (o is None or t is str or t is int or t is float or t is bool or t is bytes)


cdef int _snap(object node, list out, int depth) except -1:
    """pyencode.snapshot's walk: 1 when `node` holds what it cannot vouch for."""
    cdef type t = type(node)
    cdef Py_ssize_t pos = 0
    cdef PyObject* key
    cdef PyObject* val
    if _snap_leaf(node):
        out.append(node)
        return 0
    if depth >= SNAP_DEPTH or (t is not dict and t is not list and t is not tuple):
        return 1
    out.append(node)
    out.append(len(node))
    if t is dict:
        while PyDict_Next(node, &pos, &key, &val):
            if not _snap_leaf(<object>key):
                return 1
            out.append(<object>key)
            if _snap(<object>val, out, depth + 1):
                return 1
    else:
        for item in tuple(node):
            if _snap(item, out, depth + 1):
                return 1
    return 1 if len(out) > SNAP_SIZE else 0


cdef bint _same(object node, tuple snap, Py_ssize_t* at) except -1:
    """pyencode.unchanged's walk from snap[at[0]]."""
    cdef Py_ssize_t i = at[0], n = PyTuple_GET_SIZE(snap), pos = 0, size
    cdef PyObject* key
    cdef PyObject* val
    cdef type t
    if i >= n or PyTuple_GET_ITEM(snap, i) != <PyObject*>node:
        return False
    t = type(node)
    if t is not dict and t is not list and t is not tuple:
        at[0] = i + 1
        return True
    size = len(node)
    if i + 1 >= n or <object>PyTuple_GET_ITEM(snap, i + 1) != size:
        return False
    at[0] = i + 2
    if t is dict:
        while PyDict_Next(node, &pos, &key, &val):
            if at[0] >= n or PyTuple_GET_ITEM(snap, at[0]) != key:
                return False
            at[0] += 1
            if not _same(<object>val, snap, at):
                return False
        return True
    if t is list:
        for i in range(size):
            if i >= PyList_GET_SIZE(node) or not _same(<object>PyList_GET_ITEM(node, i), snap, at):
                return False
        return True
    for i in range(size):
        if not _same(<object>PyTuple_GET_ITEM(node, i), snap, at):
            return False
    return True


def snapshot(value):
    """pyencode.snapshot: what proves `value` unchanged in place later, or None."""
    cdef type t = type(value)
    cdef list out = []
    if t is not dict and t is not list and t is not tuple:
        return None
    if _snap(value, out, 0):
        return None
    return tuple(out)


def unchanged(value, tuple snap):
    """pyencode.unchanged: `value` holds exactly what it held when `snap` was taken."""
    cdef Py_ssize_t at = 0
    return _same(value, snap, &at) and at == PyTuple_GET_SIZE(snap)


def unchanged_prefix(list values, tuple objs, tuple snaps):
    """pyencode.unchanged_prefix: how many of `values` are `objs`, unchanged since `snaps`."""
    cdef Py_ssize_t i, at, n = min(len(values), len(objs), len(snaps))
    cdef object snap
    for i in range(n):
        if <PyObject*>values[i] != PyTuple_GET_ITEM(objs, i):
            return i
        snap = <object>PyTuple_GET_ITEM(snaps, i)
        if type(snap) is not tuple:
            return i
        at = 0
        if not _same(values[i], <tuple>snap, &at) or at != PyTuple_GET_SIZE(snap):
            return i
    return n


# ---- the recorder; its twin is pyring.py ----
cdef inline int64_t _mono_ns() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return <int64_t>ts.tv_sec * 1000000000 + ts.tv_nsec


cdef inline void _deadline(timespec* t, int64_t after_ns) noexcept nogil:
    cdef int64_t at = _mono_ns() + after_ns
    t.tv_sec = at // 1000000000
    t.tv_nsec = at % 1000000000


cdef int _write_all(int fd, const char* data, size_t length) noexcept nogil:
    cdef ssize_t done
    while length > 0:
        done = c_write(fd, data, length)
        if done < 0:
            if n3_errno() == 4:  # EINTR
                continue
            return -1
        if done == 0:
            n3_set_errno(28)  # ENOSPC: a write that takes nothing would never finish
            return -1
        data += done
        length -= <size_t>done
    return 0


def _tsc_usable():
    """The TSC may stand in for CLOCK_MONOTONIC only where the kernel itself uses it.

    The kernel keeps `tsc` as its clocksource only when the counter is invariant and
    synchronised across CPUs (it falls back to hpet/kvm-clock otherwise), so that is the
    test. N3TRACE_CLOCK=monotonic turns the TSC off.
    """
    if not N3_HAVE_TSC or os.environ.get("N3TRACE_CLOCK", "") == "monotonic":
        return False
    try:
        with open("/sys/devices/system/clocksource/clocksource0/current_clocksource") as f:
            return f.read().strip() == "tsc"
    except OSError:
        return False


TSC_USABLE = _tsc_usable()


@cython.final
cdef class Recorder:
    """A ring of chunk slots; events are written into the filling slot, chunks leave by take()."""

    cdef char* records
    cdef char* payload
    cdef uint8_t* state
    cdef uint32_t* n
    cdef uint32_t* pay
    cdef int64_t* base
    cdef uint32_t* seq
    cdef uint32_t* dropped_at
    cdef int cur, head, tail
    cdef uint32_t next_seq
    cdef uint64_t pending
    cdef readonly uint32_t chunk_events, slots
    cdef readonly Py_ssize_t chunk_payload
    cdef readonly int policy
    cdef public uint64_t events, dropped, discarded, payload_bytes, chunks
    cdef bytes mask
    cdef const uint8_t* mask_ptr
    cdef Py_ssize_t mask_len
    cdef uint8_t reserved[256]
    cdef object clock, on_seal, on_full
    cdef object redaction
    cdef Enc scratch
    cdef bint busy
    cdef bint use_tsc, tsc_ready
    cdef int64_t a_ns, r_ns, last_ts
    cdef uint64_t a_tsc, r_tsc, tsc_window
    cdef double ns_per_tick
    # the writer thread (run_writer): w_mu guards the hand-over of sealed slots
    cdef pthread_mutex_t w_mu
    cdef pthread_cond_t w_work, w_space
    cdef bint w_running, w_quit, w_failed
    cdef int w_fd, w_errno
    cdef int64_t w_interval
    cdef uint64_t w_freed
    cdef readonly int64_t write_offset
    cdef readonly uint64_t written_chunks, written_events, written_payload
    cdef readonly uint64_t block_waits, block_wait_ns

    def __cinit__(self, uint32_t chunk_events, Py_ssize_t chunk_payload, uint32_t slots,
                  int policy, *, mask=b"", reserved_mask=b"\x01" * 256, int max_depth=32,
                  Py_ssize_t max_bytes=256 * 1024, int max_repr=200, clock=None,
                  on_seal=None, on_full=None, redaction=None):
        cdef Py_ssize_t i
        if chunk_events < 1 or slots < 2 or chunk_payload < max_bytes + 300:
            raise ValueError("need chunk_events >= 1, slots >= 2, chunk_payload >= max_bytes + 300")
        self.chunk_events, self.chunk_payload, self.slots = chunk_events, chunk_payload, slots
        self.policy = policy
        self.records = <char*>malloc(<size_t>slots * chunk_events * RECORD_SIZE)
        self.payload = <char*>malloc(<size_t>slots * chunk_payload)
        self.state = <uint8_t*>calloc(slots, 1)
        self.n = <uint32_t*>calloc(slots, 4)
        self.pay = <uint32_t*>calloc(slots, 4)
        self.seq = <uint32_t*>calloc(slots, 4)
        self.dropped_at = <uint32_t*>calloc(slots, 4)
        self.base = <int64_t*>calloc(slots, 8)
        self.scratch.path = <PyObject**>calloc(max_depth + 1, sizeof(PyObject*))
        if (self.records == NULL or self.payload == NULL or self.state == NULL or
                self.n == NULL or self.pay == NULL or self.seq == NULL or
                self.dropped_at == NULL or self.base == NULL or self.scratch.path == NULL):
            raise MemoryError()
        self.scratch.limit, self.scratch.max_depth = max_bytes, max_depth
        self.scratch.max_repr = max_repr
        _grow(&self.scratch, 4096)
        self.mask = bytes(mask)
        self.mask_ptr = <const uint8_t*>PyBytes_AS_STRING(self.mask)
        self.mask_len = len(self.mask)
        rmask = bytes(reserved_mask).ljust(256, b"\x01")
        for i in range(256):
            self.reserved[i] = rmask[i]
        self.clock = clock
        self.redact(redaction)
        self.use_tsc = clock is None and TSC_USABLE
        self.on_seal, self.on_full = on_seal, on_full
        self.cur = -1
        self._init_sync()

    cdef void _init_sync(self) noexcept:
        cdef pthread_condattr_t attr
        pthread_mutex_init(&self.w_mu, NULL)
        pthread_condattr_init(&attr)
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        pthread_cond_init(&self.w_work, &attr)
        pthread_cond_init(&self.w_space, &attr)

    def __dealloc__(self):
        free(self.records)
        free(self.payload)
        free(self.state)
        free(self.n)
        free(self.pay)
        free(self.seq)
        free(self.dropped_at)
        free(self.base)
        free(self.scratch.data)
        free(self.scratch.path)

    property clock_source:
        def __get__(self):
            return "injected" if self.clock is not None else (
                "tsc" if self.use_tsc else "monotonic")

    cdef inline int64_t _now(self) noexcept:
        """CLOCK_MONOTONIC ns; between anchors, extrapolated from the TSC (see _anchor)."""
        cdef uint64_t t, dt
        cdef int64_t ts
        if self.tsc_ready:
            t = n3_tsc()
            dt = t - self.a_tsc  # a counter behind the anchor wraps huge and re-anchors
            if dt < self.tsc_window:
                ts = self.a_ns + <int64_t>(<double>dt * self.ns_per_tick)
                if ts < self.last_ts:
                    ts = self.last_ts
                self.last_ts = ts
                return ts
        return self._anchor()

    cdef int64_t _anchor(self) noexcept:
        """Read CLOCK_MONOTONIC and, with the TSC on, pin the TSC to it and refine its rate.

        Timestamps stay within a few hundred ns of CLOCK_MONOTONIC: an anchor is taken at
        least every TSC_WINDOW_NS, only from a clock read bracketed by two TSC reads less
        than TSC_PAIR_TICKS apart, and the rate comes from anchors 10 ms to ~1 s apart.
        Output never goes backwards (a timestamp below the last one is raised to it).
        """
        cdef int64_t ns = _mono_ns()
        cdef uint64_t t0, t1
        cdef double rate
        cdef int attempt
        if not self.use_tsc:
            return ns
        for attempt in range(4):
            t0 = n3_tsc()
            ns = _mono_ns()
            t1 = n3_tsc()
            if t1 - t0 < TSC_PAIR_TICKS:
                break
        else:
            if ns < self.last_ts:
                ns = self.last_ts
            self.last_ts = ns
            return ns  # kept being interrupted: use the clock read, keep the old anchor
        t0 += (t1 - t0) // 2
        if self.r_tsc == 0 or t0 <= self.r_tsc or ns <= self.r_ns:
            self.r_ns, self.r_tsc = ns, t0
        elif ns - self.r_ns >= TSC_CALIBRATE_NS:
            rate = <double>(ns - self.r_ns) / <double>(t0 - self.r_tsc)
            if self.tsc_ready and (rate > self.ns_per_tick * 1.01 or
                                   rate < self.ns_per_tick * 0.99):
                self.tsc_ready = False  # the counter jumped or changed pace: start over
                self.r_ns, self.r_tsc = ns, t0
            else:
                self.ns_per_tick = rate
                self.tsc_window = <uint64_t>(TSC_WINDOW_NS / rate)
                self.tsc_ready = self.tsc_window > 0
                if ns - self.r_ns >= TSC_RECALIBRATE_NS:
                    self.r_ns, self.r_tsc = ns, t0
        self.a_ns, self.a_tsc = ns, t0
        if ns < self.last_ts:
            ns = self.last_ts
        self.last_ts = ns
        return ns

    property max_bytes:
        def __get__(self):
            return self.scratch.limit

    def redact(self, redaction):
        """Apply a payload.Redaction (or None: no redaction) to the payloads encoded from now on."""
        _set_redaction(&self.scratch, redaction)
        self.redaction = redaction

    cdef inline bint _enabled(self, uint32_t site) noexcept:
        if site > MAX_SITE:
            return False
        if site < <uint32_t>self.mask_len:
            return self.mask_ptr[site] != 0
        if site >= RESERVED_BASE:
            return self.reserved[site - RESERVED_BASE] != 0
        return True

    def enabled(self, uint32_t site):
        return self._enabled(site)

    cdef int _emit(self, uint32_t site, uint32_t kind, uint32_t span, uint32_t parent,
                   uint32_t task, object payload) except -1:
        if not self._enabled(site):
            return 0
        return self._record(site, kind, span, parent, task, payload)

    cdef int _record(self, uint32_t site, uint32_t kind, uint32_t span, uint32_t parent,
                     uint32_t task, object payload) except -1:
        """_emit for a site already known to be enabled (a span's masks do not change)."""
        cdef Enc local
        cdef bint mine
        if payload is None:
            return self._commit(site, kind, span, parent, task, NULL, 0)
        mine = not self.busy
        if mine:
            self.busy = True
            try:
                _encode(&self.scratch, payload)
                return self._commit(site, kind, span, parent, task, self.scratch.data,
                                    self.scratch.length)
            finally:
                self.busy = False
        memcpy(&local, &self.scratch, sizeof(Enc))
        local.data = NULL
        local.cap = 0
        local.path = <PyObject**>calloc(self.scratch.max_depth + 1, sizeof(PyObject*))
        try:
            _encode(&local, payload)
            return self._commit(site, kind, span, parent, task, local.data, local.length)
        finally:
            free(local.data)
            free(local.path)

    cdef int _commit(self, uint32_t site, uint32_t kind, uint32_t span, uint32_t parent,
                     uint32_t task, const char* pdata, Py_ssize_t plen) except -1:
        cdef int64_t ts
        cdef int cur, attempt = 0
        cdef uint32_t n
        cdef Rec* rec
        if self.clock is None:
            ts = self._now()
        else:
            ts = self.clock()
        while attempt < MAX_ATTEMPTS:
            attempt += 1
            cur = self.cur
            if cur >= 0:
                n = self.n[cur]
                if (n < self.chunk_events and self.pay[cur] + plen <= self.chunk_payload and
                        (n == 0 or (ts >= self.base[cur] and ts - self.base[cur] <= MAX_DELTA))):
                    if n == 0:
                        self.base[cur] = ts
                    rec = <Rec*>(self.records + (<size_t>cur * self.chunk_events + n) * RECORD_SIZE)
                    rec.delta = <uint32_t>(ts - self.base[cur])
                    rec.site_kind = site | (kind << 24)
                    rec.span = span
                    rec.parent = parent
                    rec.task = task
                    rec.plen = <uint32_t>plen
                    if plen:
                        memcpy(self.payload + <size_t>cur * self.chunk_payload + self.pay[cur],
                               pdata, plen)
                        self.pay[cur] += <uint32_t>plen
                    self.n[cur] = n + 1
                    self.events += 1
                    self.payload_bytes += <uint64_t>plen
                    return 1
                self._seal(cur)
                continue
            if n3_load(&self.state[self.tail]) == FREE:  # freed by the writer thread
                self._open(self.tail)
                continue
            if self.policy == POLICY_FLIGHT:
                self._discard_oldest()
                continue
            if self.policy == POLICY_BLOCK and self.w_running:
                self._wait_space()
                attempt -= 1  # waiting for the disk is not a failed attempt
                continue
            if self.policy == POLICY_BLOCK and self.on_full is not None:
                self.on_full()
                continue
            break
        self.dropped += 1
        self.pending += 1
        return 0

    def emit(self, uint32_t site, uint32_t kind, uint32_t span, uint32_t parent,
             uint32_t task, payload=None):
        """Record one event; False when the policy dropped it."""
        return self._emit(site, kind, span, parent, task, payload) == 1

    cdef void _open(self, int slot) noexcept:
        self.state[slot] = FILLING
        self.n[slot] = 0
        self.pay[slot] = 0
        self.seq[slot] = self.next_seq
        self.next_seq += 1
        self.cur = slot
        self.tail = (slot + 1) % self.slots

    cdef int _seal(self, int slot) except -1:
        self.dropped_at[slot] = <uint32_t>self.pending
        self.pending = 0
        self.cur = -1
        self.chunks += 1
        n3_store(&self.state[slot], SEALED)
        if self.w_running:
            pthread_mutex_lock(&self.w_mu)
            pthread_cond_signal(&self.w_work)
            pthread_mutex_unlock(&self.w_mu)
        if self.on_seal is not None:
            self.on_seal()
        return 0

    cdef void _wait_space(self):
        """block: wait, without the GIL, until the writer frees the next slot."""
        cdef int tail = self.tail
        cdef int64_t t0 = _mono_ns()
        cdef timespec until
        with nogil:
            pthread_mutex_lock(&self.w_mu)
            while n3_load(&self.state[tail]) != FREE and self.w_running:
                _deadline(&until, 50000000)
                pthread_cond_timedwait(&self.w_space, &self.w_mu, &until)
            pthread_mutex_unlock(&self.w_mu)
        self.block_waits += 1
        self.block_wait_ns += <uint64_t>(_mono_ns() - t0)

    # ---- the writer thread ----

    def attach_writer(self, int fd, int64_t offset, double flush_interval=0.0):
        """Hand sealed chunks to run_writer() from now on, appending to `fd` at `offset`.

        flush_interval (seconds, 0: off) seals the filling chunk once its first event is
        that old; it needs the recorder's own clock, so an injected clock turns it off.
        """
        self.w_fd, self.write_offset = fd, offset
        self.w_interval = <int64_t>(flush_interval * 1e9) if self.clock is None else 0
        self.w_quit = self.w_failed = False
        self.w_running = True

    def run_writer(self, on_error=None):
        """The writer thread's body: checksum and write each sealed chunk, in order, with
        the GIL released, until stop_writer() and every sealed chunk is written.

        After a failed write (on_error gets the OSError, once) the file is cut back to its
        last whole chunk and later chunks are freed unwritten, so `block` never waits for
        a disk that will not take them.
        """
        cdef int rc
        try:
            while True:
                with nogil:
                    rc = self._writer_pass()
                if rc == 0:
                    return
                if rc == 1:
                    self._seal_aged()
                elif on_error is not None:
                    on_error(OSError(self.w_errno, os.strerror(self.w_errno)))
        finally:
            with nogil:
                pthread_mutex_lock(&self.w_mu)
                self.w_running = False
                pthread_cond_broadcast(&self.w_space)
                pthread_mutex_unlock(&self.w_mu)

    def stop_writer(self):
        """Let run_writer() return once every chunk sealed so far is written."""
        with nogil:
            pthread_mutex_lock(&self.w_mu)
            self.w_quit = True
            pthread_cond_signal(&self.w_work)
            pthread_mutex_unlock(&self.w_mu)

    def sync(self, double timeout=30.0):
        """Wait until every chunk sealed so far has left the ring; True when it has."""
        cdef uint64_t target = self.chunks
        cdef int64_t end = _mono_ns() + <int64_t>(timeout * 1e9)
        cdef timespec until
        cdef bint done
        with nogil:
            pthread_mutex_lock(&self.w_mu)
            while self.w_freed < target and self.w_running and _mono_ns() < end:
                _deadline(&until, 20000000)
                pthread_cond_timedwait(&self.w_space, &self.w_mu, &until)
            done = self.w_freed >= target
            pthread_mutex_unlock(&self.w_mu)
        return done

    def forget_writer(self):
        """In a forked child: the writer thread is gone, and its lock may have been held."""
        self._init_sync()
        self.w_running = False

    cdef void _seal_aged(self) except *:
        cdef int cur = self.cur
        if cur >= 0 and self.n[cur] > 0 and _mono_ns() - self.base[cur] >= self.w_interval:
            self._seal(cur)

    cdef bint _aged(self) noexcept nogil:
        """A racy look at the filling chunk; _seal_aged checks again under the GIL."""
        cdef int cur = n3_loadi(&self.cur)
        if cur < 0 or n3_load32(&self.n[cur]) == 0:
            return False
        return _mono_ns() - n3_load64(&self.base[cur]) >= self.w_interval

    cdef int _writer_pass(self) noexcept nogil:
        """Write sealed chunks until there is none; 0: quit, 1: a chunk to seal for its
        age, 2: a write failed (w_errno). Called and returns with w_mu unlocked."""
        cdef int slot
        cdef timespec until
        cdef int64_t tick = self.w_interval // 4 if self.w_interval else 50000000
        cdef int rc = -1
        pthread_mutex_lock(&self.w_mu)
        while rc < 0:
            slot = self.head
            if n3_load(&self.state[slot]) == SEALED:
                pthread_mutex_unlock(&self.w_mu)
                if not self.w_failed and self._write_slot(slot) < 0:
                    self.w_failed = True
                    rc = 2
                pthread_mutex_lock(&self.w_mu)
                n3_store(&self.state[slot], FREE)
                self.head = (slot + 1) % self.slots
                self.w_freed += 1
                pthread_cond_broadcast(&self.w_space)
            elif self.w_quit:
                rc = 0
            elif self.w_interval and self._aged():
                rc = 1
            else:
                _deadline(&until, tick)
                pthread_cond_timedwait(&self.w_work, &self.w_mu, &until)
        pthread_mutex_unlock(&self.w_mu)
        return rc

    cdef int _write_slot(self, int slot) noexcept nogil:
        """One chunk to the file: its header, records and payload; -1 on a failed write."""
        cdef char head[CHUNK_HEADER]
        cdef uint32_t n = self.n[slot], pay = self.pay[slot]
        cdef size_t rec_len = <size_t>n * RECORD_SIZE
        cdef const char* recs = self.records + <size_t>slot * self.chunk_events * RECORD_SIZE
        cdef const char* body = self.payload + <size_t>slot * self.chunk_payload
        cdef unsigned long crc
        cdef uint32_t crc32v
        memcpy(head, b"N3CK", 4)
        memcpy(head + 8, &n, 4)
        memcpy(head + 12, &pay, 4)
        memcpy(head + 16, &self.base[slot], 8)
        memcpy(head + 24, &self.seq[slot], 4)
        memcpy(head + 28, &self.dropped_at[slot], 4)
        crc = crc32(0, <const unsigned char*>head + 8, CHUNK_HEADER - 8)
        crc = crc32(crc, <const unsigned char*>recs, <unsigned int>rec_len)
        crc = crc32(crc, <const unsigned char*>body, pay)
        crc32v = <uint32_t>crc
        memcpy(head + 4, &crc32v, 4)
        if (_write_all(self.w_fd, head, CHUNK_HEADER) < 0 or
                _write_all(self.w_fd, recs, rec_len) < 0 or
                _write_all(self.w_fd, body, pay) < 0):
            self.w_errno = n3_errno()
            ftruncate(self.w_fd, self.write_offset)  # the file ends on a whole chunk again
            lseek(self.w_fd, self.write_offset, 0)
            return -1
        self.write_offset += CHUNK_HEADER + rec_len + pay
        self.written_chunks += 1
        self.written_events += n
        self.written_payload += pay
        return 0

    cdef void _discard_oldest(self) noexcept:
        self.discarded += self.n[self.head]
        self.state[self.head] = FREE
        self.head = (self.head + 1) % self.slots

    def seal(self):
        """Seal the filling chunk if it holds events, so flush and dump can take it; drops
        not yet counted in a chunk get one of their own (no events, base_ns 0)."""
        cdef int cur = self.cur
        if cur < 0 and self.pending and n3_load(&self.state[self.tail]) == FREE:
            self._open(self.tail)
            cur = self.cur
        if cur >= 0 and (self.n[cur] > 0 or self.pending):
            if self.n[cur] == 0:
                self.base[cur] = 0
            self._seal(cur)
            return True
        return False

    cdef bytes _chunk_bytes(self, int slot):
        cdef uint32_t n = self.n[slot], pay = self.pay[slot]
        cdef Py_ssize_t rec_len = <Py_ssize_t>n * RECORD_SIZE
        cdef bytes out = PyBytes_FromStringAndSize(NULL, CHUNK_HEADER + rec_len + pay)
        cdef char* p = PyBytes_AS_STRING(out)
        cdef uint32_t crc
        memcpy(p, CHUNK_TAG, 4)
        memcpy(p + 8, &n, 4)
        memcpy(p + 12, &pay, 4)
        memcpy(p + 16, &self.base[slot], 8)
        memcpy(p + 24, &self.seq[slot], 4)
        memcpy(p + 28, &self.dropped_at[slot], 4)
        memcpy(p + CHUNK_HEADER, self.records + <size_t>slot * self.chunk_events * RECORD_SIZE,
               rec_len)
        memcpy(p + CHUNK_HEADER + rec_len, self.payload + <size_t>slot * self.chunk_payload, pay)
        crc = zlib.crc32(memoryview(out)[8:])
        memcpy(p + 4, &crc, 4)
        return out

    def take(self):
        """The oldest sealed chunk as file bytes, freeing its slot; None if there is none."""
        cdef int head = self.head
        if self.state[head] != SEALED:
            return None
        data = self._chunk_bytes(head)
        self.state[head] = FREE
        self.head = (head + 1) % self.slots
        return data

    def peek(self):
        """Every sealed chunk, oldest first, without freeing them (the flight recorder's dump)."""
        cdef int slot = self.head
        out = []
        for _ in range(self.slots):
            if self.state[slot] != SEALED:
                break
            out.append(self._chunk_bytes(slot))
            slot = (slot + 1) % self.slots
        return out

    def pending_drops(self):
        return self.pending


# ---- the fast layer session.py binds to ----

cdef Recorder _recorder = None
cdef uint64_t _generation = 0
cdef uint32_t _next_span = 0
cdef uint32_t _next_task = 0
cdef object _current = contextvars.ContextVar("n3trace_span", default=None)
# Bumped by every set or reset of _current, in any thread: a sync span that sees it
# unchanged when it closes knows the variable still holds what it held at the open.
cdef uint64_t _cv_sets = 0


@cython.final
@cython.no_gc
@cython.freelist(256)
cdef class Frame:
    """An open span; enter()/enter_sync() return it as the token exit() takes back.

    The context variable holds the context's frame: its root, or the innermost span
    opened by enter(). Spans opened by enter_sync() (plain functions, which cannot switch
    tasks while they run) are not set in the variable: they are pushed on that frame's
    `sync_top`, remembering the frame that holds them and the previous top.

    Frames are not tracked by the cycle collector (an allocation costs no GC count): the
    links between them are cleared when a span closes, so only a span that never closes
    can leave a cycle, of two frames.
    """

    cdef readonly uint32_t site, span, parent, task
    cdef void* ctx
    cdef uint64_t gen, cv_sets
    cdef object cvtok
    cdef bint done, root
    cdef Frame sync_top  # a context's frame: its innermost open sync span (None: none)
    cdef Frame holder    # a sync span: the context's frame it was pushed on
    cdef Frame prev      # a sync span: holder.sync_top before it was pushed


def install(Recorder recorder):
    global _recorder, _generation, _next_span, _next_task
    _generation += 1
    _next_span = 0
    _next_task = 0
    _recorder = recorder


def uninstall():
    global _recorder
    _recorder = None


def active():
    return _recorder


cdef Frame _top():
    """This context's frame (root or innermost enter() span), creating its root if needed.

    The innermost open span is `frame.sync_top` when a sync span is open, else the frame.
    """
    global _next_task, _cv_sets
    cdef PyObject* raw = NULL
    cdef Frame frame = None, root
    PyContextVar_Get(_current, NULL, &raw)
    if raw != NULL:
        value = <object>raw
        Py_DECREF(value)
        if value is not None:
            frame = <Frame>value
    cdef void* ctx = PyThreadState_Get().context
    if frame is not None and frame.gen == _generation and frame.ctx == ctx:
        return frame
    root = Frame.__new__(Frame)
    if frame is not None and frame.gen == _generation:
        root.span = frame.sync_top.span if frame.sync_top is not None else frame.span
    _next_task += 1
    root.task = _next_task
    root.gen = _generation
    root.done = root.root = True
    PyContextVar_Set(_current, root)
    _cv_sets += 1
    root.ctx = PyThreadState_Get().context
    return root


cdef inline Frame _open(Recorder rec, uint32_t site, object payload):
    """A new span's frame, child of the innermost open span of this context, emitted."""
    global _next_span
    cdef Frame top = _top()
    cdef Frame frame = Frame.__new__(Frame)
    _next_span += 1
    frame.span = _next_span
    frame.site = site
    frame.parent = top.sync_top.span if top.sync_top is not None else top.span
    frame.task = top.task
    frame.ctx = top.ctx
    frame.gen = top.gen
    frame.holder = top
    rec._record(site, 0, frame.span, frame.parent, frame.task, payload)
    return frame


def enter(uint32_t site, payload=None):
    """Open a span that may outlive a task switch (coroutines, generators): the span is
    set in the context variable, so tasks created inside it see it as their parent."""
    cdef Recorder rec = _recorder
    if rec is None or not rec._enabled(site):
        return None
    cdef Frame frame = _open(rec, site, payload)
    global _cv_sets
    frame.holder = None
    frame.cvtok = PyContextVar_Set(_current, frame)
    _cv_sets += 1
    return frame


def enter_sync(uint32_t site, payload=None):
    """Open a span around a plain synchronous call, which opens and closes within one
    synchronous stretch of one context: pushed on the context frame's `sync_top` instead
    of setting the context variable."""
    cdef Recorder rec = _recorder
    if rec is None or not rec._enabled(site):
        return None
    cdef Frame frame = _open(rec, site, payload)
    cdef Frame top = frame.holder
    frame.prev = top.sync_top
    frame.cv_sets = _cv_sets
    top.sync_top = frame
    return frame


cdef void _pop(Frame frame) noexcept:
    """Take a closing sync span off its holder's stack, with whatever was left open above
    it (nothing when an enclosing sync span already closed and took it off), and leave the
    context variable as the span found it, as a reset would: a generator started inside
    the span and still suspended no longer encloses what follows."""
    global _cv_sets
    cdef Frame holder = frame.holder
    cdef Frame walk = holder.sync_top
    cdef PyObject* raw = NULL
    if walk is frame:
        holder.sync_top = frame.prev
    else:
        while walk is not None:
            if walk is frame:
                holder.sync_top = frame.prev
                break
            walk = walk.prev
    frame.holder = None
    frame.prev = None
    if frame.cv_sets == _cv_sets:
        return  # nothing set the variable since the span opened: it still holds `holder`
    if (holder.gen == _generation and (holder.root or not holder.done) and
            holder.ctx == PyThreadState_Get().context):
        if PyContextVar_Get(_current, NULL, &raw) < 0:
            PyErr_Clear()
            return
        if raw != NULL:
            _decref_raw(raw)  # only compared below: the variable still holds it
        if raw != <PyObject*>holder:
            PyContextVar_Set(_current, holder)
            _cv_sets += 1


cdef int _finish(Frame frame, uint32_t kind, object payload) except -1:
    global _cv_sets
    if frame is None or frame.done:
        return 0
    frame.done = True
    cdef Recorder rec = _recorder
    try:
        if rec is not None and frame.gen == _generation:
            rec._record(frame.site, kind, frame.span, frame.parent, frame.task, payload)
    finally:
        if frame.holder is not None:
            _pop(frame)
        elif frame.cvtok is not None:
            if PyContextVar_Reset(_current, frame.cvtok) < 0:
                PyErr_Clear()
            _cv_sets += 1
            frame.cvtok = None
    return 0
def exit(Frame token, payload=None):
    _finish(token, 1, payload)


def fail_end(Frame token, payload):
    _finish(token, 2, payload)


def exit_value(Frame token, value):
    """exit() recording a dataclass return as its fields, anything else as {"output": value};
    returns `value`, so generated code can close a span inside its `return`."""
    cdef PyObject* hit
    if token is None or token.done:
        return value
    if _recorder is None or token.gen != _generation:
        _finish(token, 1, None)
        return value
    hit = PyDict_GetItem(_fields, type(value))
    names = <object>hit if hit != NULL else _dataclass_fields(type(value))
    _finish(token, 1, value if names is not None else {"output": value})
    return value


def exit_returning(Frame token, value):
    """exit() without a payload that returns `value` (a `return` whose value is not captured)."""
    _finish(token, 1, None)
    return value


def instant(uint32_t site, payload=None):
    cdef Recorder rec = _recorder
    if rec is None or not rec._enabled(site):
        return
    cdef Frame top = _top()
    rec._record(site, 3, 0, top.sync_top.span if top.sync_top is not None else top.span,
              top.task, payload)
