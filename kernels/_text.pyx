"""Byte-level BPE kernels: GPT-2 pre-tokenizer, merge-rank encoding, decoding, training.

Tokens are byte strings with ids (ranks) 0..n-1. A text is UTF-8 bytes; it is cut into
pieces (GPT-2's split pattern, scanned here over a code-point class table, or piece
boundaries computed by the caller) and every piece is encoded on its own:

- encode (tiktoken's rule): a piece that is a token is that token; otherwise start from its
  single bytes and repeatedly merge the leftmost adjacent pair whose concatenation has the
  smallest rank, until no adjacent concatenation is a token.
- train (Sennrich et al. byte-level BPE, Hugging Face's merge rule): count every adjacent
  pair of symbols over the distinct pieces (weighted by piece frequency), merge the most
  frequent pair (ties: the smallest (left id, right id)) into one symbol, left to right in
  every piece that holds it; the merged bytes become a new token unless they already are
  one. Pair counts are updated per occurrence that a merge touches (never recounted), a
  lazy max-heap picks the next pair and every pair keeps the list of pieces where it
  occurs, so a merge costs O(occurrences it changes).

Hash tables use open addressing with linear probing at load <= 1/2.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from libc.stdint cimport int32_t, int64_t, uint8_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memcmp, memcpy, memmove

import numpy as np

cdef enum:
    OTHER = 0
    LETTER = 1
    NUMBER = 2
    SPACE = 3

CLASS_OTHER = OTHER
CLASS_LETTER = LETTER
CLASS_NUMBER = NUMBER
CLASS_SPACE = SPACE

cdef int32_t NO_RANK = 0x7FFFFFFF
# Pieces longer than this merge through a heap (O(n log n)) instead of linear scans.
cdef Py_ssize_t LONG_PIECE = 64


# ------------------------------------------------------------------ growable buffers
cdef void* _grow(void* ptr, Py_ssize_t* capacity, Py_ssize_t needed, size_t item) except NULL:
    """``ptr`` reallocated to hold at least ``needed`` items (capacity doubles)."""
    cdef Py_ssize_t cap = capacity[0]
    cdef void* out
    if needed <= cap and ptr != NULL:
        return ptr
    if cap < 16:
        cap = 16
    while cap < needed:
        cap *= 2
    out = realloc(ptr, <size_t> cap * item)
    if out == NULL:
        raise MemoryError()
    capacity[0] = cap
    return out


# ------------------------------------------------------------------ int64 -> int32 map
cdef struct IntMap:
    int64_t* keys      # -1 = empty slot
    int32_t* values
    Py_ssize_t capacity  # power of two
    Py_ssize_t size


cdef inline Py_ssize_t _slot(uint64_t key, Py_ssize_t capacity) noexcept nogil:
    return <Py_ssize_t> ((key * <uint64_t> 0x9E3779B97F4A7C15) >> 32) & (capacity - 1)


cdef int _intmap_init(IntMap* m, Py_ssize_t expected) except -1:
    cdef Py_ssize_t i, cap = 64
    while cap < 2 * expected:
        cap *= 2
    m.keys = <int64_t*> malloc(cap * sizeof(int64_t))
    m.values = <int32_t*> malloc(cap * sizeof(int32_t))
    if m.keys == NULL or m.values == NULL:
        raise MemoryError()
    for i in range(cap):
        m.keys[i] = -1
    m.capacity = cap
    m.size = 0
    return 0


cdef void _intmap_free(IntMap* m) noexcept:
    free(m.keys)
    free(m.values)
    m.keys = NULL
    m.values = NULL


cdef inline int32_t _intmap_get(const IntMap* m, int64_t key) noexcept nogil:
    """Value stored under ``key``, or -1."""
    cdef Py_ssize_t s = _slot(<uint64_t> key, m.capacity)
    while m.keys[s] != -1:
        if m.keys[s] == key:
            return m.values[s]
        s = (s + 1) & (m.capacity - 1)
    return -1


cdef int _intmap_put(IntMap* m, int64_t key, int32_t value) except -1:
    """Store ``value`` under ``key`` (which must be new); doubles the table at load 1/2."""
    cdef Py_ssize_t s, i, old_cap
    cdef int64_t* old_keys
    cdef int32_t* old_values
    if 2 * (m.size + 1) > m.capacity:
        old_keys, old_values, old_cap = m.keys, m.values, m.capacity
        m.capacity = 2 * old_cap
        m.keys = <int64_t*> malloc(m.capacity * sizeof(int64_t))
        m.values = <int32_t*> malloc(m.capacity * sizeof(int32_t))
        if m.keys == NULL or m.values == NULL:
            raise MemoryError()
        for i in range(m.capacity):
            m.keys[i] = -1
        for i in range(old_cap):
            if old_keys[i] != -1:
                s = _slot(<uint64_t> old_keys[i], m.capacity)
                while m.keys[s] != -1:
                    s = (s + 1) & (m.capacity - 1)
                m.keys[s] = old_keys[i]
                m.values[s] = old_values[i]
        free(old_keys)
        free(old_values)
    s = _slot(<uint64_t> key, m.capacity)
    while m.keys[s] != -1:
        s = (s + 1) & (m.capacity - 1)
    m.keys[s] = key
    m.values[s] = value
    m.size += 1
    return 0


cdef inline int64_t _pair_key(int32_t left, int32_t right) noexcept nogil:
    return (<int64_t> left << 32) | <int64_t> <uint32_t> right


# ------------------------------------------------------------------ token byte strings
cdef inline uint64_t _hash_bytes(const uint8_t* p, Py_ssize_t n) noexcept nogil:
    """FNV-1a, 64 bit."""
    cdef uint64_t h = <uint64_t> 0xCBF29CE484222325
    cdef Py_ssize_t i
    for i in range(n):
        h = (h ^ p[i]) * <uint64_t> 0x100000001B3
    return h


cdef struct Tokens:
    uint8_t* data          # the byte strings of all tokens, one after another
    Py_ssize_t data_size, data_capacity
    int64_t* start         # token t is data[start[t] : start[t] + length[t]]
    int32_t* length
    uint64_t* hash
    Py_ssize_t n, n_capacity
    int32_t* slots         # open-addressing table of token ids by hash (-1 = empty)
    Py_ssize_t slot_capacity


cdef int _tokens_init(Tokens* v, Py_ssize_t expected) except -1:
    v.data = NULL
    v.start = NULL
    v.length = NULL
    v.hash = NULL
    v.slots = NULL
    v.data_size = v.data_capacity = v.n = v.n_capacity = 0
    v.slot_capacity = 64
    while v.slot_capacity < 2 * expected:
        v.slot_capacity *= 2
    v.slots = <int32_t*> malloc(v.slot_capacity * sizeof(int32_t))
    if v.slots == NULL:
        raise MemoryError()
    cdef Py_ssize_t i
    for i in range(v.slot_capacity):
        v.slots[i] = -1
    return 0


cdef void _tokens_free(Tokens* v) noexcept:
    free(v.data)
    free(v.start)
    free(v.length)
    free(v.hash)
    free(v.slots)
    v.data = NULL
    v.start = NULL
    v.length = NULL
    v.hash = NULL
    v.slots = NULL


cdef inline int32_t _tokens_find(const Tokens* v, const uint8_t* p, Py_ssize_t n,
                                 uint64_t h) noexcept nogil:
    """Id of the token with bytes p[:n] (hash h), or -1."""
    cdef Py_ssize_t s = <Py_ssize_t> (h >> 20) & (v.slot_capacity - 1)
    cdef int32_t t
    while True:
        t = v.slots[s]
        if t < 0:
            return -1
        if v.hash[t] == h and v.length[t] == n and \
                memcmp(v.data + v.start[t], p, <size_t> n) == 0:
            return t
        s = (s + 1) & (v.slot_capacity - 1)


cdef void _tokens_insert_slot(Tokens* v, int32_t t) noexcept nogil:
    cdef Py_ssize_t s = <Py_ssize_t> (v.hash[t] >> 20) & (v.slot_capacity - 1)
    while v.slots[s] >= 0:
        s = (s + 1) & (v.slot_capacity - 1)
    v.slots[s] = t


cdef int32_t _tokens_add(Tokens* v, const uint8_t* p, Py_ssize_t n) except -1:
    """Append the token p[:n] (not yet present); returns its id."""
    cdef int32_t t = <int32_t> v.n
    cdef Py_ssize_t i
    if t + 1 > v.n_capacity:
        i = v.n_capacity
        v.start = <int64_t*> _grow(v.start, &i, t + 1, sizeof(int64_t))
        i = v.n_capacity
        v.length = <int32_t*> _grow(v.length, &i, t + 1, sizeof(int32_t))
        v.hash = <uint64_t*> _grow(v.hash, &v.n_capacity, t + 1, sizeof(uint64_t))
    v.data = <uint8_t*> _grow(v.data, &v.data_capacity, v.data_size + n, 1)
    memcpy(v.data + v.data_size, p, <size_t> n)
    v.start[t] = v.data_size
    v.length[t] = <int32_t> n
    v.hash[t] = _hash_bytes(p, n)
    v.data_size += n
    v.n += 1
    if 2 * v.n > v.slot_capacity:
        free(v.slots)
        v.slot_capacity *= 2
        v.slots = <int32_t*> malloc(v.slot_capacity * sizeof(int32_t))
        if v.slots == NULL:
            raise MemoryError()
        for i in range(v.slot_capacity):
            v.slots[i] = -1
        for i in range(v.n):
            _tokens_insert_slot(v, <int32_t> i)
    else:
        _tokens_insert_slot(v, t)
    return t


# ------------------------------------------------------------------ GPT-2 pre-tokenizer
cdef inline int _char_class(const uint8_t* s, Py_ssize_t i, const uint8_t* classes,
                            int* width) noexcept nogil:
    """Class of the code point starting at byte i of valid UTF-8, and its byte width."""
    cdef uint32_t c = s[i]
    if c < 0x80:
        width[0] = 1
        return classes[c]
    if c < 0xE0:
        width[0] = 2
        return classes[((c & 0x1F) << 6) | (s[i + 1] & 0x3F)]
    if c < 0xF0:
        width[0] = 3
        return classes[((c & 0x0F) << 12) | ((s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F)]
    width[0] = 4
    return classes[((c & 0x07) << 18) | ((s[i + 1] & 0x3F) << 12) |
                   ((s[i + 2] & 0x3F) << 6) | (s[i + 3] & 0x3F)]


cdef Py_ssize_t _gpt2_piece_end(const uint8_t* s, Py_ssize_t n, Py_ssize_t i,
                                const uint8_t* classes) noexcept nogil:
    """End of the piece starting at byte i under GPT-2's pattern

        's|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+

    (the first alternative that matches at i wins, each greedy)."""
    cdef int width, k, k1
    cdef uint8_t c = s[i], c1, c2
    cdef Py_ssize_t j, last
    if c == 39 and i + 1 < n:  # "'" then s t m d, or re ve ll
        c1 = s[i + 1]
        if c1 == 115 or c1 == 116 or c1 == 109 or c1 == 100:
            return i + 2
        if i + 2 < n:
            c2 = s[i + 2]
            if (c2 == 101 and (c1 == 114 or c1 == 118)) or (c1 == 108 and c2 == 108):
                return i + 3
    k = _char_class(s, i, classes, &width)
    j = i + width
    if c == 32 and j < n:  # " ?" before a run of letters, numbers or other symbols
        k1 = _char_class(s, j, classes, &width)
        if k1 != SPACE:
            k = k1
            j += width
    if k != SPACE:
        while j < n and _char_class(s, j, classes, &width) == k:
            j += width
        return j
    last = i  # whitespace run: keep its last character for the next piece if \S follows
    while j < n and _char_class(s, j, classes, &width) == SPACE:
        last = j
        j += width
    if j < n and last > i:
        return last
    return j


def gpt2_split(const uint8_t[::1] data, const uint8_t[::1] classes, int64_t[::1] bounds):
    """Write the piece boundaries of ``data`` (UTF-8) into ``bounds`` (0, e_1, ..., n);
    return the number of pieces. ``bounds`` holds at least len(data) + 1 entries."""
    cdef Py_ssize_t n = data.shape[0], i = 0, count = 0
    with nogil:
        bounds[0] = 0
        while i < n:
            i = _gpt2_piece_end(&data[0], n, i, &classes[0])
            count += 1
            bounds[count] = i
    return count


# ------------------------------------------------------------------ int64 min-heap
cdef inline Py_ssize_t _push_min(int64_t* heap, Py_ssize_t size, int64_t key) noexcept nogil:
    """Push key onto the binary min-heap heap[:size]; returns the new size."""
    cdef Py_ssize_t i = size, parent
    while i > 0:
        parent = (i - 1) >> 1
        if heap[parent] <= key:
            break
        heap[i] = heap[parent]
        i = parent
    heap[i] = key
    return size + 1


cdef inline Py_ssize_t _pop_min(int64_t* heap, Py_ssize_t size) noexcept nogil:
    """Remove heap[0] from the min-heap heap[:size]; returns the new size."""
    cdef Py_ssize_t i = 0, child
    cdef int64_t key
    size -= 1
    if size == 0:
        return 0
    key = heap[size]
    while True:
        child = 2 * i + 1
        if child >= size:
            break
        if child + 1 < size and heap[child + 1] < heap[child]:
            child += 1
        if heap[child] >= key:
            break
        heap[i] = heap[child]
        i = child
    heap[i] = key
    return size


# ------------------------------------------------------------------ encoder / decoder
cdef struct Workspace:
    # merge buffers of one encode call (one per call, so that calls from several Python
    # threads, which run without the GIL, never share them)
    int32_t* parts
    int32_t* ranks
    int32_t* next_part
    int32_t* prev_part
    int64_t* heap       # 3 entries per byte
    Py_ssize_t capacity  # longest piece (bytes) the buffers hold


cdef void _workspace_init(Workspace* ws) noexcept:
    ws.parts = NULL
    ws.ranks = NULL
    ws.next_part = NULL
    ws.prev_part = NULL
    ws.heap = NULL
    ws.capacity = 0


cdef void _workspace_free(Workspace* ws) noexcept:
    free(ws.parts)
    free(ws.ranks)
    free(ws.next_part)
    free(ws.prev_part)
    free(ws.heap)
    _workspace_init(ws)


cdef int _workspace_reserve(Workspace* ws, Py_ssize_t n) except -1:
    """Buffers for pieces of at least n bytes (capacity doubles from 256)."""
    cdef Py_ssize_t cap = max(ws.capacity, 256)
    cdef void* p
    if n <= ws.capacity:
        return 0
    while cap < n:
        cap *= 2
    p = realloc(ws.parts, cap * sizeof(int32_t))
    if p == NULL:
        raise MemoryError()
    ws.parts = <int32_t*> p
    p = realloc(ws.ranks, cap * sizeof(int32_t))
    if p == NULL:
        raise MemoryError()
    ws.ranks = <int32_t*> p
    p = realloc(ws.next_part, cap * sizeof(int32_t))
    if p == NULL:
        raise MemoryError()
    ws.next_part = <int32_t*> p
    p = realloc(ws.prev_part, cap * sizeof(int32_t))
    if p == NULL:
        raise MemoryError()
    ws.prev_part = <int32_t*> p
    p = realloc(ws.heap, 3 * cap * sizeof(int64_t))
    if p == NULL:
        raise MemoryError()
    ws.heap = <int64_t*> p
    ws.capacity = cap
    return 0


cdef class Encoder:
    """Tokens of a BPE vocabulary, their byte-string table and the pair table
    (left id, right id) -> id of their concatenation, for every split of every token
    into two tokens (so encoding needs no byte-string lookups between merges)."""

    cdef Tokens tokens
    cdef IntMap pairs
    cdef int32_t byte_rank[256]

    def __cinit__(self, const uint8_t[::1] data, const int64_t[::1] starts):
        """Tokens t = data[starts[t]:starts[t + 1]]; every single byte must be one."""
        cdef Py_ssize_t n = starts.shape[0] - 1, t, k, length
        cdef int32_t left, right
        cdef const uint8_t* p
        _tokens_init(&self.tokens, n)
        _intmap_init(&self.pairs, 2 * n)
        for t in range(n):
            _tokens_add(&self.tokens, &data[0] + starts[t], starts[t + 1] - starts[t])
        for k in range(256):
            self.byte_rank[k] = -1
        for t in range(n):
            p = self.tokens.data + self.tokens.start[t]
            length = self.tokens.length[t]
            if length == 1:
                self.byte_rank[p[0]] = <int32_t> t
            for k in range(1, length):
                left = _tokens_find(&self.tokens, p, k, _hash_bytes(p, k))
                right = _tokens_find(&self.tokens, p + k, length - k,
                                     _hash_bytes(p + k, length - k))
                if left >= 0 and right >= 0:
                    _intmap_put(&self.pairs, _pair_key(left, right), <int32_t> t)

    def __dealloc__(self):
        _tokens_free(&self.tokens)
        _intmap_free(&self.pairs)

    @property
    def n_tokens(self):
        return self.tokens.n

    def missing_bytes(self):
        """Byte values that are not a token (encoding needs all 256)."""
        return [k for k in range(256) if self.byte_rank[k] < 0]

    cdef inline int32_t _rank(self, int32_t left, int32_t right) noexcept nogil:
        cdef int32_t t = _intmap_get(&self.pairs, _pair_key(left, right))
        return NO_RANK if t < 0 else t

    cdef Py_ssize_t _merge_long_piece(self, Workspace* ws, const uint8_t* s, Py_ssize_t n,
                                      int32_t* out) noexcept nogil:
        """The same merges as the linear scan of _encode_piece in O(n log n): parts form
        a linked list, candidate pairs sit in a min-heap keyed (rank, left byte offset),
        so the pop is the leftmost lowest-rank pair; stale entries are skipped."""
        cdef int32_t* part = ws.parts
        cdef int32_t* rank = ws.ranks  # rank of the pair (i, next_part[i])
        cdef int32_t* nxt = ws.next_part
        cdef int32_t* prv = ws.prev_part
        cdef int64_t* heap = ws.heap
        cdef Py_ssize_t size = 0, i, j, m = 0
        cdef int32_t r
        cdef int64_t key
        for i in range(n):
            part[i] = self.byte_rank[s[i]]
            nxt[i] = <int32_t> (i + 1)
            prv[i] = <int32_t> (i - 1)
        nxt[n - 1] = -1
        rank[n - 1] = NO_RANK
        for i in range(n - 1):
            rank[i] = self._rank(part[i], part[i + 1])
            if rank[i] != NO_RANK:
                size = _push_min(heap, size, (<int64_t> rank[i] << 32) | i)
        while size > 0:
            key = heap[0]
            size = _pop_min(heap, size)
            r = <int32_t> (key >> 32)
            i = <Py_ssize_t> <uint32_t> key
            if rank[i] != r:
                continue
            j = nxt[i]
            part[i] = r
            nxt[i] = nxt[j]
            if nxt[j] >= 0:
                prv[nxt[j]] = <int32_t> i
            rank[j] = NO_RANK
            rank[i] = NO_RANK if nxt[i] < 0 else self._rank(part[i], part[nxt[i]])
            if rank[i] != NO_RANK:
                size = _push_min(heap, size, (<int64_t> rank[i] << 32) | i)
            j = prv[i]
            if j >= 0:
                rank[j] = self._rank(part[j], part[i])
                if rank[j] != NO_RANK:
                    size = _push_min(heap, size, (<int64_t> rank[j] << 32) | j)
        i = 0
        while i >= 0:
            out[m] = part[i]
            m += 1
            i = nxt[i]
        return m

    cdef Py_ssize_t _encode_piece(self, Workspace* ws, const uint8_t* s, Py_ssize_t n,
                                  int32_t* out) noexcept nogil:
        """Ids of the piece s[:n] into out; returns how many (ws holds n bytes)."""
        cdef int32_t t, best
        cdef Py_ssize_t k, m, at
        if n == 1:
            out[0] = self.byte_rank[s[0]]
            return 1
        t = _tokens_find(&self.tokens, s, n, _hash_bytes(s, n))
        if t >= 0:
            out[0] = t
            return 1
        if n > LONG_PIECE:
            return self._merge_long_piece(ws, s, n, out)
        cdef int32_t* parts = ws.parts
        cdef int32_t* ranks = ws.ranks
        for k in range(n):
            parts[k] = self.byte_rank[s[k]]
        for k in range(n - 1):
            ranks[k] = self._rank(parts[k], parts[k + 1])
        m = n
        while m > 1:
            best = NO_RANK
            at = 0
            for k in range(m - 1):
                if ranks[k] < best:
                    best = ranks[k]
                    at = k
            if best == NO_RANK:
                break
            parts[at] = best
            memmove(parts + at + 1, parts + at + 2, (m - at - 2) * sizeof(int32_t))
            if at + 3 < m:
                memmove(ranks + at + 1, ranks + at + 2, (m - at - 3) * sizeof(int32_t))
            m -= 1
            if at + 1 < m:
                ranks[at] = self._rank(parts[at], parts[at + 1])
            if at > 0:
                ranks[at - 1] = self._rank(parts[at - 1], parts[at])
        memcpy(out, parts, m * sizeof(int32_t))
        return m

    def encode_gpt2(self, const uint8_t[::1] data, const uint8_t[::1] classes,
                    int32_t[::1] out):
        """Ids of ``data`` (UTF-8) cut by GPT-2's pattern; ``out`` holds len(data) ids.
        Returns how many ids were written."""
        cdef Py_ssize_t n = data.shape[0], i = 0, end, count = 0
        cdef Workspace ws
        if n == 0:
            return 0
        _workspace_init(&ws)
        try:
            with nogil:
                while i < n:
                    end = _gpt2_piece_end(&data[0], n, i, &classes[0])
                    if end - i > ws.capacity:
                        with gil:
                            _workspace_reserve(&ws, end - i)
                    count += self._encode_piece(&ws, &data[0] + i, end - i, &out[0] + count)
                    i = end
        finally:
            _workspace_free(&ws)
        return count

    def encode_pieces(self, const uint8_t[::1] data, const int64_t[::1] bounds,
                      int32_t[::1] out):
        """Ids of the pieces data[bounds[p]:bounds[p + 1]]; ``out`` holds len(data) ids."""
        cdef Py_ssize_t p, count = 0, longest = 0, n_pieces = bounds.shape[0] - 1
        cdef Workspace ws
        if data.shape[0] == 0:
            return 0
        for p in range(n_pieces):
            if bounds[p + 1] - bounds[p] > longest:
                longest = bounds[p + 1] - bounds[p]
        _workspace_init(&ws)
        try:
            _workspace_reserve(&ws, longest)
            with nogil:
                for p in range(n_pieces):
                    if bounds[p + 1] > bounds[p]:
                        count += self._encode_piece(&ws, &data[0] + bounds[p],
                                                    bounds[p + 1] - bounds[p], &out[0] + count)
        finally:
            _workspace_free(&ws)
        return count

    def decode(self, const int32_t[::1] ids):
        """Concatenated bytes of the tokens ``ids`` (all in range)."""
        cdef Py_ssize_t k, total = 0, at = 0, n = ids.shape[0]
        for k in range(n):
            total += self.tokens.length[ids[k]]
        out = PyBytes_FromStringAndSize(NULL, total)
        cdef uint8_t* dst = <uint8_t*> PyBytes_AS_STRING(out)
        with nogil:
            for k in range(n):
                memcpy(dst + at, self.tokens.data + self.tokens.start[ids[k]],
                       self.tokens.length[ids[k]])
                at += self.tokens.length[ids[k]]
        return out


# ------------------------------------------------------------------ training
def count_pieces(const uint8_t[::1] data, const int64_t[::1] bounds):
    """Distinct pieces data[bounds[p]:bounds[p + 1]] in order of first occurrence:
    (their bytes one after another, int64 boundaries, int64 number of occurrences)."""
    cdef Tokens words
    cdef Py_ssize_t p, n_pieces = bounds.shape[0] - 1, cap = 0
    cdef int64_t* freq = NULL
    cdef int64_t start, length
    cdef int32_t w
    cdef int64_t[::1] out_bounds, out_counts
    cdef const uint8_t* base = &data[0] if data.shape[0] else NULL
    _tokens_init(&words, 1024)
    try:
        for p in range(n_pieces):
            start = bounds[p]
            length = bounds[p + 1] - start
            if length == 0:
                continue
            w = _tokens_find(&words, base + start, length, _hash_bytes(base + start, length))
            if w < 0:
                w = _tokens_add(&words, base + start, length)
                freq = <int64_t*> _grow(freq, &cap, w + 1, sizeof(int64_t))
                freq[w] = 0
            freq[w] += 1
        joined = PyBytes_FromStringAndSize(<char*> words.data, words.data_size)
        word_bounds = np.empty(words.n + 1, dtype=np.int64)
        counts = np.empty(words.n, dtype=np.int64)
        out_bounds = word_bounds
        out_counts = counts
        for p in range(words.n):
            out_bounds[p] = words.start[p]
            out_counts[p] = freq[p]
        out_bounds[words.n] = words.data_size
        return joined, word_bounds, counts
    finally:
        _tokens_free(&words)
        free(freq)


cdef struct Trainer:
    # pieces: symbols of piece w are sym[start[w] : start[w] + length[w]]
    int32_t* sym
    int64_t* start
    int32_t* length
    int64_t* freq
    Py_ssize_t n_words
    # pairs, by index p: (left[p], right[p]), count[p], list head[p] of pieces holding it
    IntMap index
    int32_t* left
    int32_t* right
    int64_t* count
    int32_t* head
    int32_t* last_word     # last piece appended to p's list (no repeats within a merge)
    int32_t* last_step     # last merge step that raised count[p]
    Py_ssize_t n_pairs, pairs_capacity
    # piece lists: node -> (word, next node)
    int32_t* node_word
    int32_t* node_next
    Py_ssize_t n_nodes, nodes_capacity
    # lazy max-heap of (stored count, pair)
    int64_t* heap_count
    int32_t* heap_pair
    Py_ssize_t heap_size, heap_capacity
    # pairs whose count rose during the current merge
    int32_t* raised
    Py_ssize_t n_raised, raised_capacity


cdef inline bint _before(const Trainer* tr, int64_t count_a, int32_t pa, int64_t count_b,
                         int32_t pb) noexcept nogil:
    """Heap order: larger count first, then the smaller (left, right)."""
    if count_a != count_b:
        return count_a > count_b
    if tr.left[pa] != tr.left[pb]:
        return tr.left[pa] < tr.left[pb]
    return tr.right[pa] < tr.right[pb]


cdef int _heap_push(Trainer* tr, int64_t c, int32_t p) except -1:
    cdef Py_ssize_t i, parent, cap = tr.heap_capacity
    if tr.heap_size + 1 > cap:
        tr.heap_count = <int64_t*> _grow(tr.heap_count, &cap, tr.heap_size + 1,
                                         sizeof(int64_t))
        tr.heap_pair = <int32_t*> _grow(tr.heap_pair, &tr.heap_capacity, tr.heap_size + 1,
                                        sizeof(int32_t))
    i = tr.heap_size
    tr.heap_size += 1
    while i > 0:
        parent = (i - 1) // 2
        if not _before(tr, c, p, tr.heap_count[parent], tr.heap_pair[parent]):
            break
        tr.heap_count[i] = tr.heap_count[parent]
        tr.heap_pair[i] = tr.heap_pair[parent]
        i = parent
    tr.heap_count[i] = c
    tr.heap_pair[i] = p
    return 0


cdef void _heap_pop(Trainer* tr) noexcept nogil:
    """Remove the top entry."""
    cdef Py_ssize_t i = 0, child, n
    tr.heap_size -= 1
    n = tr.heap_size
    if n == 0:
        return
    cdef int64_t c = tr.heap_count[n]
    cdef int32_t p = tr.heap_pair[n]
    while True:
        child = 2 * i + 1
        if child >= n:
            break
        if child + 1 < n and _before(tr, tr.heap_count[child + 1], tr.heap_pair[child + 1],
                                     tr.heap_count[child], tr.heap_pair[child]):
            child += 1
        if not _before(tr, tr.heap_count[child], tr.heap_pair[child], c, p):
            break
        tr.heap_count[i] = tr.heap_count[child]
        tr.heap_pair[i] = tr.heap_pair[child]
        i = child
    tr.heap_count[i] = c
    tr.heap_pair[i] = p


cdef int32_t _pair_index(Trainer* tr, int32_t a, int32_t b) except -2:
    """Index of pair (a, b), created with count 0 when new."""
    cdef int64_t key = _pair_key(a, b)
    cdef int32_t p = _intmap_get(&tr.index, key)
    cdef Py_ssize_t cap
    if p >= 0:
        return p
    p = <int32_t> tr.n_pairs
    if p + 1 > tr.pairs_capacity:
        cap = tr.pairs_capacity
        tr.left = <int32_t*> _grow(tr.left, &cap, p + 1, sizeof(int32_t))
        cap = tr.pairs_capacity
        tr.right = <int32_t*> _grow(tr.right, &cap, p + 1, sizeof(int32_t))
        cap = tr.pairs_capacity
        tr.count = <int64_t*> _grow(tr.count, &cap, p + 1, sizeof(int64_t))
        cap = tr.pairs_capacity
        tr.head = <int32_t*> _grow(tr.head, &cap, p + 1, sizeof(int32_t))
        cap = tr.pairs_capacity
        tr.last_word = <int32_t*> _grow(tr.last_word, &cap, p + 1, sizeof(int32_t))
        tr.last_step = <int32_t*> _grow(tr.last_step, &tr.pairs_capacity, p + 1,
                                        sizeof(int32_t))
    tr.left[p] = a
    tr.right[p] = b
    tr.count[p] = 0
    tr.head[p] = -1
    tr.last_word[p] = -1
    tr.last_step[p] = -1
    tr.n_pairs += 1
    _intmap_put(&tr.index, key, p)
    return p


cdef int _add_occurrence(Trainer* tr, int32_t a, int32_t b, int32_t w, int64_t freq,
                         int32_t step) except -1:
    """count[(a, b)] += freq for one occurrence in piece w; w joins the pair's list."""
    cdef int32_t p = _pair_index(tr, a, b)
    cdef int32_t node
    cdef Py_ssize_t cap
    tr.count[p] += freq
    if tr.last_word[p] != w:
        tr.last_word[p] = w
        node = <int32_t> tr.n_nodes
        if node + 1 > tr.nodes_capacity:
            cap = tr.nodes_capacity
            tr.node_word = <int32_t*> _grow(tr.node_word, &cap, node + 1, sizeof(int32_t))
            tr.node_next = <int32_t*> _grow(tr.node_next, &tr.nodes_capacity, node + 1,
                                            sizeof(int32_t))
        tr.node_word[node] = w
        tr.node_next[node] = tr.head[p]
        tr.head[p] = node
        tr.n_nodes += 1
    if tr.last_step[p] != step:
        tr.last_step[p] = step
        tr.raised = <int32_t*> _grow(tr.raised, &tr.raised_capacity, tr.n_raised + 1,
                                     sizeof(int32_t))
        tr.raised[tr.n_raised] = p
        tr.n_raised += 1
    return 0


cdef inline void _remove_occurrence(Trainer* tr, int32_t a, int32_t b,
                                    int64_t freq) noexcept nogil:
    tr.count[_intmap_get(&tr.index, _pair_key(a, b))] -= freq


cdef int _merge_in_word(Trainer* tr, int32_t w, int32_t a, int32_t b, int32_t t,
                        int32_t step) except -1:
    """Replace every (a, b) in piece w, left to right, by t; update the pair counts."""
    cdef int32_t* s = tr.sym + tr.start[w]
    cdef Py_ssize_t i = 0, n = tr.length[w]
    cdef int64_t f = tr.freq[w]
    while i + 1 < n:
        if s[i] == a and s[i + 1] == b:
            _remove_occurrence(tr, a, b, f)
            if i > 0:
                _remove_occurrence(tr, s[i - 1], a, f)
                _add_occurrence(tr, s[i - 1], t, w, f, step)
            if i + 2 < n:
                _remove_occurrence(tr, b, s[i + 2], f)
                _add_occurrence(tr, t, s[i + 2], w, f, step)
            s[i] = t
            memmove(s + i + 1, s + i + 2, (n - i - 2) * sizeof(int32_t))
            n -= 1
        i += 1
    tr.length[w] = <int32_t> n
    return 0


cdef void _trainer_free(Trainer* tr) noexcept:
    free(tr.sym)
    free(tr.start)
    free(tr.length)
    free(tr.freq)
    _intmap_free(&tr.index)
    free(tr.left)
    free(tr.right)
    free(tr.count)
    free(tr.head)
    free(tr.last_word)
    free(tr.last_step)
    free(tr.node_word)
    free(tr.node_next)
    free(tr.heap_count)
    free(tr.heap_pair)
    free(tr.raised)


cdef void _trainer_clear(Trainer* tr) noexcept:
    """All pointers NULL and all sizes 0, so that _trainer_free is always safe."""
    tr.sym = NULL
    tr.start = NULL
    tr.length = NULL
    tr.freq = NULL
    tr.index.keys = NULL
    tr.index.values = NULL
    tr.left = NULL
    tr.right = NULL
    tr.count = NULL
    tr.head = NULL
    tr.last_word = NULL
    tr.last_step = NULL
    tr.node_word = NULL
    tr.node_next = NULL
    tr.heap_count = NULL
    tr.heap_pair = NULL
    tr.raised = NULL
    tr.n_words = tr.n_pairs = tr.pairs_capacity = tr.n_nodes = tr.nodes_capacity = 0
    tr.heap_size = tr.heap_capacity = tr.n_raised = tr.raised_capacity = 0


def train(const uint8_t[::1] data, const int64_t[::1] bounds, const int64_t[::1] freq,
          Py_ssize_t vocab_size):
    """Byte-level BPE merges over the distinct pieces data[bounds[w]:bounds[w + 1]]
    occurring freq[w] times, from the 256 byte tokens (id = byte value) until the
    vocabulary has ``vocab_size`` tokens or no pair is left.

    Returns an (n_merges, 3) int32 array of rows (left, right, merged id); a merged id
    below the current vocabulary size means the merged bytes already were that token.
    """
    cdef Trainer tr
    cdef Tokens tokens
    cdef Py_ssize_t w, i, n_words = bounds.shape[0] - 1, total = bounds[n_words]
    cdef Py_ssize_t n_merges = 0, merges_capacity = 0
    cdef int32_t p, a, b, t, node, step = 0
    cdef int32_t* merges = NULL
    cdef uint8_t* joined = NULL
    cdef Py_ssize_t joined_capacity = 0, la, lb
    cdef uint8_t byte
    cdef int32_t[:, ::1] rows
    _trainer_clear(&tr)
    _tokens_init(&tokens, vocab_size)
    try:
        for i in range(256):
            byte = <uint8_t> i
            _tokens_add(&tokens, &byte, 1)
        tr.n_words = n_words
        tr.sym = <int32_t*> malloc(max(total, 1) * sizeof(int32_t))
        tr.start = <int64_t*> malloc(max(n_words, 1) * sizeof(int64_t))
        tr.length = <int32_t*> malloc(max(n_words, 1) * sizeof(int32_t))
        tr.freq = <int64_t*> malloc(max(n_words, 1) * sizeof(int64_t))
        if tr.sym == NULL or tr.start == NULL or tr.length == NULL or tr.freq == NULL:
            raise MemoryError()
        _intmap_init(&tr.index, 4096)
        for i in range(total):
            tr.sym[i] = data[i]
        for w in range(n_words):
            tr.start[w] = bounds[w]
            tr.length[w] = <int32_t> (bounds[w + 1] - bounds[w])
            tr.freq[w] = freq[w]
            for i in range(bounds[w], bounds[w + 1] - 1):
                _add_occurrence(&tr, tr.sym[i], tr.sym[i + 1], <int32_t> w, freq[w], step)
        for i in range(tr.n_raised):
            _heap_push(&tr, tr.count[tr.raised[i]], tr.raised[i])
        while tokens.n < vocab_size and tr.heap_size > 0:
            p = tr.heap_pair[0]
            if tr.heap_count[0] != tr.count[p]:  # stale entry: counts only fell since
                _heap_pop(&tr)
                if tr.count[p] > 0:
                    _heap_push(&tr, tr.count[p], p)
                continue
            _heap_pop(&tr)
            if tr.count[p] <= 0:
                continue
            step += 1
            tr.n_raised = 0
            a = tr.left[p]
            b = tr.right[p]
            la = tokens.length[a]
            lb = tokens.length[b]
            joined = <uint8_t*> _grow(joined, &joined_capacity, la + lb, 1)
            memcpy(joined, tokens.data + tokens.start[a], la)
            memcpy(joined + la, tokens.data + tokens.start[b], lb)
            t = _tokens_find(&tokens, joined, la + lb, _hash_bytes(joined, la + lb))
            if t < 0:
                t = _tokens_add(&tokens, joined, la + lb)
            merges = <int32_t*> _grow(merges, &merges_capacity, 3 * (n_merges + 1),
                                      sizeof(int32_t))
            merges[3 * n_merges] = a
            merges[3 * n_merges + 1] = b
            merges[3 * n_merges + 2] = t
            n_merges += 1
            node = tr.head[p]
            while node >= 0:
                _merge_in_word(&tr, tr.node_word[node], a, b, t, step)
                node = tr.node_next[node]
            tr.count[p] = 0
            for i in range(tr.n_raised):
                if tr.count[tr.raised[i]] > 0:
                    _heap_push(&tr, tr.count[tr.raised[i]], tr.raised[i])
        result = np.empty((n_merges, 3), dtype=np.int32)
        rows = result
        for i in range(n_merges):
            rows[i, 0] = merges[3 * i]
            rows[i, 1] = merges[3 * i + 1]
            rows[i, 2] = merges[3 * i + 2]
        return result
    finally:
        _trainer_free(&tr)
        _tokens_free(&tokens)
        free(merges)
        free(joined)
