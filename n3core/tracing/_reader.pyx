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
