#!/usr/bin/env python3
"""Writes the hand-made seed inputs under fuzz/seeds/<target>/.

The encoders mirror the decoder in fuzz/src/lib.rs (`Input`) and the
operation codes of each target in fuzz/fuzz_targets/. Run from anywhere:
    python3 fuzz/make_seeds.py
"""

import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def u16(v):
    return struct.pack("<H", v)


def u32(v):
    return struct.pack("<I", v)


def size(n=None, huge=None, interesting=None, large=None):
    """Input::size: class byte, then its argument."""
    if huge is not None:
        return bytes([15, huge])
    if interesting is not None:
        return bytes([13, interesting])
    if large is not None:  # 64 KiB + large
        return bytes([14]) + u32(large)
    if n < 256:
        return bytes([0, n])
    if n < 4096:
        return bytes([8]) + u16(n)
    assert n < 65536
    return bytes([11]) + u16(n)


def align(a):
    """Input::align for a power of two up to 1 MiB."""
    k = a.bit_length() - 1
    if k <= 4:
        return bytes([k << 3])
    if k <= 12:
        return bytes([(k << 3) | 5])
    return bytes([(k << 3) | 7])


def write(target, name, data):
    d = os.path.join(HERE, "seeds", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# --- talc_ops: 3-byte header (u16 offset, u8 trim), then op % 10:
# 0-2 malloc(size, align) | 3-4 free(idx) | 5 grow(idx, size) |
# 6 grow_in_place(idx, size) | 7 shrink(idx, bool, size) | 8 realloc(idx, size) | 9 check
def t_malloc(n, a=8, **kw):
    return bytes([0]) + size(n, **kw) + align(a)


def t_free(i):
    return bytes([3, i])


def t_grow(i, by):
    return bytes([5, i]) + size(by)


def t_gip(i, by):
    return bytes([6, i]) + size(by)


def t_shrink(i, to_zero, by):
    return bytes([7, i, 1 if to_zero else 0]) + size(by)


def t_realloc(i, n):
    return bytes([8, i]) + size(n)


T_CHECK = bytes([9])

write(
    "talc_ops",
    "basic",
    u16(0) + bytes([0])
    + t_malloc(16) + t_malloc(100) + t_malloc(0, 1) + t_malloc(4000, 64)
    + T_CHECK + t_free(1) + t_free(0) + t_malloc(24) + t_free(0) + t_free(0) + t_free(0) + T_CHECK,
)
write(
    "talc_ops",
    "resize",
    u16(3) + bytes([7])
    + t_malloc(40) + t_malloc(40) + t_malloc(40)
    + t_free(1) + t_gip(0, 40) + t_grow(0, 200) + t_shrink(0, False, 100) + t_shrink(1, True, 0)
    + t_realloc(1, 3000) + t_realloc(0, 8) + T_CHECK,
)
write(
    "talc_ops",
    "aligned",
    u16(4097) + bytes([0])
    + t_malloc(1, 4096) + t_malloc(300, 256) + t_malloc(64, 1 << 20) + t_malloc(8, 65536)
    + t_grow(1, 5000) + t_free(0) + t_malloc(5, 2048) + T_CHECK,
)
write(
    "talc_ops",
    "huge",
    u16(1) + bytes([255])
    + b"".join(t_malloc(0, a, huge=h) for h, a in [(0, 1), (1, 8), (2, 16), (3, 1), (5, 4096), (9, 8)])
    + t_malloc(0, 8, large=0) + t_malloc(0, 8, large=900 * 1024)
    + t_malloc(100) + t_grow(0, 65535) + t_realloc(0, 60000) + T_CHECK,
)

# --- talck_global: u16 offset, then op % 12:
# 0-1 alloc(layout) | 2 alloc_zeroed(layout) | 3-4 dealloc(idx, via_allocator) |
# 5 realloc(idx, size) | 6-7 allocate(layout, zeroed) | 8-9 grow(idx, keep_align?, [align], by, zeroed) |
# 10 shrink(idx, keep_align?, [align], by) | 11 check
def g_alloc(n, a=8):
    return bytes([0]) + size(n) + align(a)


def g_zeroed(n, a=8):
    return bytes([2]) + size(n) + align(a)


def g_dealloc(i, via):
    return bytes([3, i, 1 if via else 0])


def g_realloc(i, n):
    return bytes([5, i]) + size(n)


def g_allocate(n, a=8, zeroed=False):
    return bytes([6]) + size(n) + align(a) + bytes([1 if zeroed else 0])


def g_grow(i, by, new_align=None, zeroed=False):
    a = bytes([0]) if new_align is None else bytes([255]) + align(new_align)
    return bytes([8, i]) + a + size(by) + bytes([1 if zeroed else 0])


def g_shrink(i, by, new_align=None):
    a = bytes([0]) if new_align is None else bytes([255]) + align(new_align)
    return bytes([10, i]) + a + size(by)


G_CHECK = bytes([11])

write(
    "talck_global",
    "global",
    u16(0)
    + g_alloc(100) + g_alloc(7, 1) + g_zeroed(500, 32) + g_dealloc(0, False)
    + g_zeroed(100) + g_realloc(0, 2000) + g_realloc(1, 10) + G_CHECK
    + g_dealloc(0, False) + g_dealloc(0, True),
)
write(
    "talck_global",
    "allocator",
    u16(5)
    + g_allocate(0) + g_allocate(64, 64, True) + g_allocate(1000)
    + g_grow(1, 100) + g_grow(2, 5000, zeroed=True) + g_grow(1, 10, new_align=4096)
    + g_shrink(2, 3000) + g_shrink(1, 50, new_align=2) + G_CHECK + g_dealloc(0, True),
)
write(
    "talck_global",
    "zeroed_reuse",
    u16(16)
    + g_alloc(3000) + g_alloc(3000) + g_dealloc(0, False) + g_zeroed(2500) + g_zeroed(400, 8)
    + g_allocate(300, 16, True) + g_grow(0, 6000, zeroed=True) + G_CHECK,
)

# --- heaps: op % 24:
# 0 init(buf, u32 off, len) | 1-3 claim(buf, u32 off, len) | 4-5 extend(h, len) |
# 6-7 truncate(h, to_empty byte, len) | 8-12 malloc(layout) | 13-16 free(idx) |
# 17-18 realloc(idx, size) | 19 shrink(idx, size) | 20 check | 21-23 allocatable-span check
def heap_len(n):
    if n < 1024 and n % 4 == 0:
        return bytes([0, n // 4])
    if n < 16 * 1024:
        return bytes([1]) + u16(n)
    return bytes([2]) + u32(n)


def h_init(buf, off, n):
    return bytes([0, buf]) + u32(off) + heap_len(n)


def h_claim(buf, off, n):
    return bytes([1, buf]) + u32(off) + heap_len(n)


def h_extend(h, n):
    return bytes([4, h]) + heap_len(n)


def h_truncate(h, to_empty, n):
    return bytes([6, h, 0 if to_empty else 200]) + heap_len(n)


def h_malloc(n, a=8):
    return bytes([8]) + size(n) + align(a)


def h_free(i):
    return bytes([13, i])


def h_realloc(i, n):
    return bytes([17, i]) + size(n)


H_CHECK = bytes([20])
H_SPAN = bytes([21])

write(
    "heaps",
    "claims",
    h_init(0, 0, 4096) + h_claim(1, 100, 8000) + h_claim(2, 3, 70000) + h_claim(1, 8100, 500)
    + h_malloc(1000) + h_malloc(3000) + h_malloc(50000) + h_malloc(200) + H_CHECK + H_SPAN
    + h_free(0) + h_realloc(0, 6000) + H_CHECK,
)
write(
    "heaps",
    "extend_truncate",
    h_claim(0, 0, 2048) + h_claim(0, 10000, 64) + h_extend(1, 20000) + h_malloc(15000)
    + h_truncate(1, False, 4000) + h_truncate(0, True, 0) + h_free(0) + h_truncate(1, True, 0)
    + h_extend(0, 100000) + h_malloc(60000) + H_CHECK,
)
write(
    "heaps",
    "reinit",
    h_init(3, 5, 40) + h_init(3, 7, 50000) + h_malloc(100) + h_claim(2, 0, 2048) + h_malloc(1500)
    + h_init(2, 4096, 10000) + h_malloc(64) + h_truncate(0, False, 100000) + H_CHECK,
)

# --- oom_growth: mode byte (bit 0: InitOnOom; growth mode: bits 1-2 the
# memory's size [8, 16, 32, 64] pages, bit 3 its end at the top of the address
# space, bits 4-5 pages grown by someone else first), then op % 16:
# 0-4 malloc(layout) | 5-7 free(idx) | 8 realloc(idx, size) |
# 9 foreign growth now(n) | 10 interference (0 foreign_next(n), 1 refuse next,
# 2 max = pages + k, 3 max = all) | 11 truncate | 12 init | 13 claim |
# 14 check | 15 free everything and check that the heaps merged.
# (InitOnOom mode: 9-13 are mallocs.)
def o_mode(cap=64, top=False, initial=0):
    return bytes([([8, 16, 32, 64].index(cap) << 1) | (8 if top else 0) | (initial << 4)])


def o_malloc(n, a=8, **kw):
    return bytes([0]) + size(n, **kw) + align(a)


def o_free(i):
    return bytes([5, i])


def o_realloc(i, n, **kw):
    return bytes([8, i]) + size(n, **kw)


def o_foreign(n):
    return bytes([9, n - 1])


def o_foreign_next(n):
    return bytes([10, 0, n - 1])


O_REFUSE = bytes([10, 1])


def o_max_above(k):
    return bytes([10, 2, k])


O_MAX_ALL = bytes([10, 3])


def span_len(n):
    """span_len in the target: 0 -> u8 * 4, 1 -> u16 % 16 KiB, 2 -> u32."""
    if n < 1024 and n % 4 == 0:
        return bytes([0, n // 4])
    if n < 16 * 1024:
        return bytes([1]) + u16(n)
    return bytes([2]) + u32(n)


def o_truncate_last(to_empty, cut=0):
    """Truncates the last heap (there must be one)."""
    return bytes([11, 0, 0 if to_empty else 200]) + span_len(cut)


def o_truncate(i, to_empty, cut=0):
    """Truncates heap i (with a last heap; else the selector byte is absent)."""
    return bytes([11, 255, i, 0 if to_empty else 200]) + span_len(cut)


def o_init_tiny(off, n):
    """init over n % TINY_SPAN bytes of the outside buffer (near the smallest heap)."""
    return bytes([12, 0]) + u16(off) + u16(n)


def o_init_top(off):
    """init over our top pages from `off` up to the memory's end."""
    return bytes([12, 1]) + u32(off)


def o_init_top_part(off, n):
    return bytes([12, 2]) + u32(off) + span_len(n)


def o_init_outside(off, n):
    return bytes([12, 3]) + u32(off) + span_len(n)


def o_claim(guard, off, n=None):
    """claim from guarded range `guard`, to its end (n None) or n bytes.

    Ranges are numbered as they were guarded: the outside buffer first, then
    the bytes of each grown region outside its heap (the first word of a
    region that became a heap of its own), memory given back or abandoned.
    """
    tail = bytes([1]) if n is None else bytes([0]) + span_len(n)
    return bytes([13, guard]) + u32(off) + tail


O_CHECK = bytes([14])
O_FREE_ALL = bytes([15])

write(
    "oom_growth",
    "contiguous",
    o_mode(64)
    + o_malloc(100) + o_malloc(60000) + o_malloc(60000) + o_malloc(0, 8, large=100000)
    + o_free(1) + o_realloc(0, 65535) + O_CHECK + o_malloc(5000, 4096) + O_FREE_ALL + o_malloc(200000 - 65536 + 65536, 8, large=200000 - 65536),
)
write(
    "oom_growth",
    "foreign",
    o_mode(32, initial=1)
    + o_malloc(1000) + o_foreign(2) + o_malloc(65535) + o_foreign_next(1) + o_malloc(30000, 65536)
    + o_free(1) + o_foreign_next(2) + o_malloc(0, 8, large=100000)
    + O_REFUSE + o_malloc(0, 8, large=500000) + o_malloc(0, 8, large=500000) + O_CHECK
    + o_free(0) + o_realloc(0, 65000) + O_FREE_ALL,
)
write(
    "oom_growth",
    "huge",
    o_mode(64)
    + o_malloc(0, 1, huge=0) + o_malloc(0, 8, huge=3) + o_malloc(0, 1 << 20, huge=7)
    + o_malloc(10, 1 << 20) + o_malloc(0, 8, large=900000) + o_malloc(0, 8, large=900000) + O_CHECK,
)
write(
    "oom_growth",
    "top_of_address_space",
    o_mode(8, top=True, initial=1)
    + b"".join(o_malloc(60000) for _ in range(8)) + O_CHECK + o_free(0) + o_free(2)
    + o_malloc(60000) + O_FREE_ALL + o_malloc(0, 8, large=300000) + O_CHECK,
)
write(
    "oom_growth",
    "maximum",
    o_mode(16)
    + o_malloc(100) + o_max_above(2) + o_malloc(0, 8, large=200000) + o_malloc(60000)
    + o_malloc(60000) + o_malloc(60000) + O_MAX_ALL + o_malloc(0, 8, large=200000) + O_FREE_ALL,
)
write(
    "oom_growth",
    "truncate_init_claim",
    o_mode(64, initial=2)
    + o_malloc(100) + o_malloc(0, 8, large=100000) + o_free(1) + o_truncate_last(False, 70000)
    + o_malloc(0, 8, large=60000) + o_truncate_last(True) + o_malloc(4000)
    + o_claim(2, 8) + o_malloc(30000) + o_init_top(150000) + o_malloc(0, 8, large=120000)
    + o_foreign(1) + o_malloc(0, 8, large=10000) + o_truncate(0, True)
    + o_init_tiny(10, 30) + o_malloc(5000) + o_init_outside(0, 100000) + o_malloc(0, 8, large=70000)
    + o_init_top_part(64, 8192) + o_malloc(100) + o_malloc(70000 - 65536, 8, large=70000 - 65536)
    + O_CHECK + O_FREE_ALL,
)
write(
    "oom_growth",
    "init_on_oom",
    bytes([1]) + u32(1000) + u32(200000)
    + o_malloc(100) + o_malloc(50000) + o_malloc(0, 8, large=200000) + o_free(0) + o_realloc(0, 60000)
    + O_CHECK + O_FREE_ALL + o_malloc(150000 - 65536, 8, large=150000 - 65536),
)
