//! Shared pieces of the talcum fuzz targets.
//!
//! * [`Input`]: a hand-written decoder that turns the fuzzer's bytes into
//!   operation codes, sizes, alignments and indices. It never fails: past the
//!   end of the data it yields zeros, and every target stops when the data is
//!   used up.
//! * [`Model`]: the reference model of live blocks. Every block is filled with
//!   a pattern derived from its id and position, checked before it is freed or
//!   moved; the model refuses misaligned pointers, pointers outside the memory
//!   the allocator was given, and any two live blocks that overlap.
//! * [`count_ops`]: a process-wide operation counter, reported on stderr when
//!   the fuzzer exits (`talcum-fuzz: N operations in M executions`), so a
//!   campaign can state how many allocator operations it ran.
//! * [`Memory`]: leaked, aligned host buffers that stand in for the arenas.

use std::alloc::Layout;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;

pub const KIB: usize = 1 << 10;
pub const MIB: usize = 1 << 20;

/// Upper bound of operations decoded from one input.
pub const MAX_OPS: usize = 4096;

// ---------------------------------------------------------------------------
// Input decoding

/// A cursor over the fuzz input. Reads past the end yield zeros.
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    pub fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }

    /// An index below `len` (which must be non-zero).
    pub fn index(&mut self, len: usize) -> usize {
        assert!(len > 0);
        if len <= 256 {
            self.u8() as usize % len
        } else {
            self.u16() as usize % len
        }
    }

    /// A request size: mostly small, sometimes up to 64 KiB, a few large
    /// (64 KiB to 1 MiB) and a few huge ones near `isize::MAX`/`usize::MAX`
    /// that no test arena can hold (see [`layout`], which clamps them into a
    /// valid [`Layout`]).
    pub fn size(&mut self) -> usize {
        let class = self.u8();
        match class & 15 {
            0..=7 => self.u8() as usize,
            8..=10 => (self.u16() & 0xfff) as usize,
            11..=12 => self.u16() as usize,
            13 => INTERESTING_SIZES[self.u8() as usize % INTERESTING_SIZES.len()],
            14 => 64 * KIB + (self.u32() as usize % MIB),
            _ => HUGE_SIZES[self.u8() as usize % HUGE_SIZES.len()],
        }
    }

    /// An alignment: mostly 1..=16, sometimes up to 4 KiB, rarely up to 1 MiB.
    pub fn align(&mut self) -> usize {
        let b = self.u8();
        let shift = (b >> 3) as u32;
        match b & 7 {
            0..=4 => 1 << (shift % 5),
            5 | 6 => 1 << (shift % 13),
            _ => 1 << (shift % 21),
        }
    }

    /// A layout from [`Input::size`] and [`Input::align`].
    pub fn layout(&mut self) -> Layout {
        let size = self.size();
        let align = self.align();
        layout(size, align)
    }
}

pub const INTERESTING_SIZES: [usize; 24] = [
    0,
    1,
    7,
    8,
    9,
    15,
    16,
    17,
    23,
    24,
    25,
    31,
    32,
    33,
    255,
    256,
    257,
    4095,
    4096,
    4097,
    65535,
    65536,
    65537,
    512 * KIB,
];

pub const HUGE_SIZES: [usize; 10] = [
    usize::MAX,
    usize::MAX - 7,
    usize::MAX / 2 + 1,
    isize::MAX as usize,
    isize::MAX as usize - 7,
    isize::MAX as usize - 4095,
    1 << (usize::BITS - 2),
    1 << 40,
    1 << 32,
    (1 << 31) + 8,
];

/// The largest size that forms a valid layout with `align`.
pub fn max_size(align: usize) -> usize {
    isize::MAX as usize - (align - 1)
}

/// `Layout::from_size_align(size, align)`, with `size` clamped to the largest
/// valid size for that alignment.
pub fn layout(size: usize, align: usize) -> Layout {
    Layout::from_size_align(size.min(max_size(align)), align).expect("clamped layout is valid")
}

// ---------------------------------------------------------------------------
// Operation counter

static OPS: AtomicU64 = AtomicU64::new(0);
static EXECS: AtomicU64 = AtomicU64::new(0);
static REPORT: Once = Once::new();

extern "C" {
    fn atexit(cb: extern "C" fn()) -> i32;
}

extern "C" fn report() {
    eprintln!(
        "talcum-fuzz: {} operations in {} executions",
        OPS.load(Ordering::Relaxed),
        EXECS.load(Ordering::Relaxed)
    );
}

/// Adds one execution of `ops` allocator operations to the process totals,
/// which are printed on stderr when the process exits normally (as libFuzzer
/// does at `-max_total_time` or `-runs`).
pub fn count_ops(ops: u64) {
    REPORT.call_once(|| {
        // SAFETY: `report` is a plain `extern "C" fn()` that only reads atomics.
        unsafe {
            atexit(report);
        }
    });
    OPS.fetch_add(ops, Ordering::Relaxed);
    EXECS.fetch_add(1, Ordering::Relaxed);
}

// ---------------------------------------------------------------------------
// Host memory

/// A leaked, aligned host buffer reused by every execution of one target.
pub struct Memory {
    pub base: *mut u8,
    pub size: usize,
}

// SAFETY: the buffer is only touched by the fuzzing thread.
unsafe impl Send for Memory {}
// SAFETY: as above.
unsafe impl Sync for Memory {}

impl Memory {
    /// Allocates `size` bytes aligned to `align` from the host allocator and
    /// leaks them (ASan keeps its redzones around them).
    pub fn leak(size: usize, align: usize) -> Self {
        let layout = Layout::from_size_align(size, align).expect("memory layout");
        // SAFETY: the layout has a non-zero size.
        let base = unsafe { std::alloc::alloc(layout) };
        assert!(!base.is_null(), "host allocation of the test memory failed");
        Self { base, size }
    }

    /// Fills the whole buffer with `byte`, so that nothing from an earlier
    /// execution can leak into this one.
    pub fn fill(&self, byte: u8) {
        // SAFETY: the buffer is `size` bytes, owned by us.
        unsafe { self.base.write_bytes(byte, self.size) }
    }

    pub fn addr(&self) -> usize {
        self.base as usize
    }

    pub fn end(&self) -> usize {
        self.addr() + self.size
    }
}

// ---------------------------------------------------------------------------
// Patterns
//
// Every byte the harness writes or checks comes from one pseudo-random
// "tape": position `p` holds `TAPE[p % PERIOD]`. A block with id `id` holds,
// at offset `i`, the tape byte at `key(id) + i`; memory that nobody was given
// holds the tape byte at `address + salt`. So different blocks and different
// offsets get unrelated bytes, and a copy from the wrong place or of the wrong
// length is noticed.
//
// Fills and checks run as `memcpy`/`memcmp` over tape segments: a byte loop
// would pay the sanitizer's shadow check and the fuzzer's comparison tracing
// on every byte, which made the targets some 50 times slower.

/// The tape's period: odd, so that a block never lines up with it by chance.
const PERIOD: usize = (1 << 20) - 3;

fn tape() -> &'static [u8] {
    static TAPE: std::sync::OnceLock<Box<[u8]>> = std::sync::OnceLock::new();
    TAPE.get_or_init(|| {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let period: Vec<u8> = (0..PERIOD)
            .map(|_| {
                x ^= x >> 12;
                x ^= x << 25;
                x ^= x >> 27;
                (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
            })
            .collect();
        // Two periods back to back: any segment of up to PERIOD bytes that
        // starts in the first one is contiguous.
        period.iter().chain(period.iter()).copied().collect()
    })
}

/// The tape position where block `id` starts.
fn key(id: u64) -> usize {
    (id.wrapping_mul(0xD6E8_FEB8_6659_FD93) >> 40) as usize % PERIOD
}

/// Calls `f(offset, tape_segment)` for consecutive segments covering `len`
/// tape bytes from position `pos`.
fn segments(pos: usize, len: usize, mut f: impl FnMut(usize, &[u8])) {
    let tape = tape();
    let mut done = 0;
    while done < len {
        let start = (pos.wrapping_add(done)) % PERIOD;
        let n = (len - done).min(PERIOD);
        f(done, &tape[start..start + n]);
        done += n;
    }
}

/// Copies tape bytes from position `pos` over `len` bytes at `dst`.
///
/// # Safety
/// `dst..dst + len` must be writable.
pub unsafe fn tape_fill(dst: *mut u8, len: usize, pos: usize) {
    segments(pos, len, |off, seg| {
        // SAFETY: the caller's range; the tape is a separate allocation.
        unsafe { std::ptr::copy_nonoverlapping(seg.as_ptr(), dst.add(off), seg.len()) }
    });
}

/// The offset of the first byte at `src` that differs from the tape at
/// position `pos`, if any.
///
/// # Safety
/// `src..src + len` must be readable.
pub unsafe fn tape_diff(src: *const u8, len: usize, pos: usize) -> Option<usize> {
    let mut first = None;
    segments(pos, len, |off, seg| {
        if first.is_some() {
            return;
        }
        // SAFETY: the caller's range.
        let have = unsafe { std::slice::from_raw_parts(src.add(off), seg.len()) };
        if have != seg {
            first =
                Some(off + have.iter().zip(seg).position(|(a, b)| a != b).expect("a difference"));
        }
    });
    first
}

/// The pattern byte at offset `i` of block `id` (for messages and tests).
pub fn pattern(id: u64, i: usize) -> u8 {
    tape()[(key(id) + i) % PERIOD]
}

/// Writes the pattern of `id` into bytes `from..to` of the block at `ptr`.
///
/// # Safety
/// `ptr..ptr + to` must be writable memory owned by the caller.
pub unsafe fn fill_pattern(ptr: *mut u8, id: u64, from: usize, to: usize) {
    if to > from {
        tape_fill(ptr.add(from), to - from, key(id) + from);
    }
}

/// Checks the pattern of `id` over the first `len` bytes of the block at
/// `ptr`; panics with the first differing offset.
///
/// # Safety
/// `ptr..ptr + len` must be readable memory owned by the caller.
pub unsafe fn check_pattern(ptr: *mut u8, id: u64, len: usize, what: &str) {
    if let Some(i) = tape_diff(ptr, len, key(id)) {
        panic!(
            "{what}: block id {id} at {ptr:p} (checked length {len}) corrupted at offset {i}: \
             found {:#04x}, expected {:#04x}",
            *ptr.add(i),
            pattern(id, i)
        );
    }
}

/// Fills `from..to` with the tape bytes at `address + salt`: memory that
/// belongs to nobody (or to someone else), which must stay as it is.
///
/// # Safety
/// `from..to` must be writable memory owned by the caller.
pub unsafe fn fill_sentinel(from: usize, to: usize, salt: usize) {
    if to > from {
        tape_fill(from as *mut u8, to - from, from.wrapping_add(salt));
    }
}

/// Panics unless `from..to` still holds what [`fill_sentinel`] wrote with
/// the same `salt`.
///
/// # Safety
/// `from..to` must be readable memory.
pub unsafe fn check_sentinel(from: usize, to: usize, salt: usize, what: &str) {
    if to <= from {
        return;
    }
    if let Some(i) = tape_diff(from as *const u8, to - from, from.wrapping_add(salt)) {
        panic!(
            "{what}: byte at {:#x} (in {from:#x}..{to:#x}) was overwritten: found {:#04x}",
            from + i,
            *((from + i) as *const u8)
        );
    }
}

/// Panics unless `len` bytes at `ptr` are all zero.
///
/// # Safety
/// `ptr..ptr + len` must be readable memory owned by the caller.
pub unsafe fn check_zero(ptr: *mut u8, len: usize, what: &str) {
    static ZEROS: [u8; 64 * KIB] = [0; 64 * KIB];
    let mut off = 0;
    while off < len {
        let n = (len - off).min(ZEROS.len());
        let have = std::slice::from_raw_parts(ptr.add(off), n);
        if have != &ZEROS[..n] {
            let i = off + have.iter().position(|&b| b != 0).expect("a non-zero byte");
            panic!(
                "{what}: zeroed memory at {ptr:p} (length {len}) has {:#04x} at offset {i}",
                *ptr.add(i)
            );
        }
        off += n;
    }
}

// ---------------------------------------------------------------------------
// The model of live blocks

/// One live allocation as the model sees it.
#[derive(Clone, Copy, Debug)]
pub struct Block {
    pub ptr: *mut u8,
    pub size: usize,
    pub align: usize,
    pub id: u64,
}

impl Block {
    pub fn layout(&self) -> Layout {
        Layout::from_size_align(self.size, self.align).expect("live block layout")
    }

    pub fn addr(&self) -> usize {
        self.ptr as usize
    }

    /// The end of the block for the overlap check: a zero-sized block still
    /// owns its address, since two live allocations must be distinct.
    pub fn end(&self) -> usize {
        self.addr() + self.size.max(1)
    }
}

/// The live blocks, with an address index for the overlap check.
#[derive(Default)]
pub struct Model {
    pub blocks: Vec<Block>,
    /// base address -> (end address, id)
    index: BTreeMap<usize, (usize, u64)>,
    next_id: u64,
}

impl Model {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.blocks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// The sum of the requested sizes of all live blocks.
    pub fn live_bytes(&self) -> usize {
        self.blocks.iter().map(|b| b.size).sum()
    }

    /// Picks a live block (the model must not be empty).
    pub fn pick(&self, input: &mut Input) -> usize {
        input.index(self.blocks.len())
    }

    fn index_insert(&mut self, addr: usize, end: usize, id: u64, what: &str) {
        if let Some((&below, &(below_end, below_id))) = self.index.range(..=addr).next_back() {
            assert!(
                below_end <= addr,
                "{what}: new block id {id} at {addr:#x}..{end:#x} overlaps live block id {below_id} at \
                 {below:#x}..{below_end:#x}"
            );
        }
        if let Some((&above, &(above_end, above_id))) = self.index.range(addr..).next() {
            assert!(
                end <= above,
                "{what}: new block id {id} at {addr:#x}..{end:#x} overlaps live block id {above_id} at \
                 {above:#x}..{above_end:#x}"
            );
        }
        self.index.insert(addr, (end, id));
    }

    fn index_remove(&mut self, addr: usize, id: u64) {
        match self.index.remove(&addr) {
            Some((_, found)) if found == id => {}
            other => panic!("model index out of sync for block id {id} at {addr:#x}: {other:?}"),
        }
    }

    /// Checks a pointer returned for a request of `size` bytes aligned to
    /// `align`: alignment, `inside(addr, end)` (the memory the allocator
    /// manages) and no overlap with any live block.
    fn check_new(
        &self,
        ptr: *mut u8,
        size: usize,
        align: usize,
        inside: &dyn Fn(usize, usize) -> bool,
        what: &str,
    ) {
        let addr = ptr as usize;
        assert!(
            addr.is_multiple_of(align),
            "{what}: pointer {ptr:p} for size {size} is not aligned to {align}"
        );
        let end = addr
            .checked_add(size.max(1))
            .unwrap_or_else(|| panic!("{what}: block at {ptr:p} size {size} wraps"));
        assert!(
            inside(addr, end),
            "{what}: block {addr:#x}..{end:#x} (size {size}, align {align}) lies outside the allocator's memory"
        );
    }

    /// Records a fresh allocation (fills it with its pattern) and returns its
    /// index in `blocks`.
    ///
    /// # Safety
    /// `ptr` must be a live allocation of at least `size` bytes.
    pub unsafe fn add(
        &mut self,
        ptr: *mut u8,
        size: usize,
        align: usize,
        inside: &dyn Fn(usize, usize) -> bool,
        what: &str,
    ) -> usize {
        self.check_new(ptr, size, align, inside, what);
        let id = self.next_id;
        self.next_id += 1;
        let block = Block { ptr, size, align, id };
        self.index_insert(block.addr(), block.end(), id, what);
        fill_pattern(ptr, id, 0, size);
        self.blocks.push(block);
        self.blocks.len() - 1
    }

    /// Records a zeroed allocation: checks it reads zero, then as [`Model::add`].
    ///
    /// # Safety
    /// As [`Model::add`].
    pub unsafe fn add_zeroed(
        &mut self,
        ptr: *mut u8,
        size: usize,
        align: usize,
        inside: &dyn Fn(usize, usize) -> bool,
        what: &str,
    ) -> usize {
        // `add` checks the block itself; here only that it reads zero.
        check_zero(ptr, size, what);
        self.add(ptr, size, align, inside, what)
    }

    /// Checks the whole pattern of block `i`.
    ///
    /// # Safety
    /// Block `i` must be live.
    pub unsafe fn check(&self, i: usize, what: &str) {
        let b = self.blocks[i];
        check_pattern(b.ptr, b.id, b.size, what);
    }

    /// Checks every live block.
    ///
    /// # Safety
    /// Every block in the model must be live.
    pub unsafe fn check_all(&self, what: &str) {
        for i in 0..self.blocks.len() {
            self.check(i, what);
        }
    }

    /// Checks block `i` and removes it from the model (before it is freed).
    ///
    /// # Safety
    /// Block `i` must be live.
    pub unsafe fn take(&mut self, i: usize, what: &str) -> Block {
        self.check(i, what);
        let b = self.blocks.swap_remove(i);
        self.index_remove(b.addr(), b.id);
        b
    }

    /// Records that block `i` now lives at `new_ptr` with `new_size` bytes
    /// (after grow, shrink or realloc). The first `min(old, new)` bytes must
    /// have been kept; the rest is filled.
    ///
    /// # Safety
    /// `new_ptr` must be the live allocation that replaced block `i`.
    pub unsafe fn moved(
        &mut self,
        i: usize,
        new_ptr: *mut u8,
        new_size: usize,
        inside: &dyn Fn(usize, usize) -> bool,
        what: &str,
    ) {
        let old = self.blocks[i];
        self.index_remove(old.addr(), old.id);
        self.check_new(new_ptr, new_size, old.align, inside, what);
        let keep = old.size.min(new_size);
        check_pattern(new_ptr, old.id, keep, what);
        let new = Block { ptr: new_ptr, size: new_size, align: old.align, id: old.id };
        self.index_insert(new.addr(), new.end(), new.id, what);
        fill_pattern(new_ptr, old.id, keep, new_size);
        self.blocks[i] = new;
    }

    /// As [`Model::moved`], and the bytes past the old size must read zero
    /// (grow_zeroed).
    ///
    /// # Safety
    /// As [`Model::moved`].
    pub unsafe fn moved_zeroed(
        &mut self,
        i: usize,
        new_ptr: *mut u8,
        new_size: usize,
        inside: &dyn Fn(usize, usize) -> bool,
        what: &str,
    ) {
        let old = self.blocks[i];
        if new_size > old.size {
            check_zero(new_ptr.add(old.size), new_size - old.size, what);
        }
        self.moved(i, new_ptr, new_size, inside, what);
    }

    /// Forgets every block without touching memory (after `init`).
    pub fn forget_all(&mut self) {
        self.blocks.clear();
        self.index.clear();
    }

    /// Removes every block for which `keep` is false, without touching memory.
    pub fn forget_where(&mut self, mut forget: impl FnMut(&Block) -> bool) {
        let index = &mut self.index;
        self.blocks.retain(|b| {
            if forget(b) {
                index.remove(&b.addr());
                false
            } else {
                true
            }
        });
    }

    /// The lowest and highest address covered by live blocks inside
    /// `lo..hi`, if any.
    pub fn extent_within(&self, lo: usize, hi: usize) -> Option<(usize, usize)> {
        let first = self.index.range(lo..hi).next()?;
        let last = self.index.range(lo..hi).next_back()?;
        Some((*first.0, last.1 .0))
    }
}

// ---------------------------------------------------------------------------
// The free-chunk oracles

/// The machine word.
pub const WORD: usize = std::mem::size_of::<usize>();

// ---------------------------------------------------------------------------
// The chunk layout, as the harness models it (src/chunk.rs, src/talc.rs)
//
// Every chunk starts with a header word; sizes are multiples of the grain
// (two words); chunks start one word past a grain boundary, so payloads are
// grain aligned; a heap ends with a one-word sentinel. No metadata lives in
// a heap: the bin heads are in the `Talc`.

/// Chunk sizes are multiples of this, and payloads are aligned to it.
pub const GRAIN: usize = 2 * WORD;
/// The smallest chunk: a header, two list links and a footer.
pub const MIN_CHUNK: usize = 4 * WORD;
/// The smallest heap `init`/`claim` accept, once shrunk inward: a free
/// chunk and the sentinel. The arena needs no more than any other heap.
pub const HEAP_MIN: usize = MIN_CHUNK + WORD;

/// `a` rounded down to a grain boundary.
pub fn grain_down(a: usize) -> usize {
    a - a % GRAIN
}

/// `a` rounded down to a word.
pub fn word_down(a: usize) -> usize {
    a - a % WORD
}

/// Where the sentinel of a heap ending at `acme` lies: at the last place a
/// chunk can start (a word past a grain boundary), a word or two below it.
pub fn sentinel_of(acme: usize) -> usize {
    grain_down(acme) - WORD
}

/// The chunk a block of `size` bytes (at most `isize::MAX`) takes: its
/// payload and the header word, rounded up to a grain, and never less than
/// `MIN_CHUNK`.
pub fn chunk_size(size: usize) -> usize {
    (size + WORD).next_multiple_of(GRAIN).max(MIN_CHUNK)
}

/// The heap that `init`/`claim` make of the memory `[from, to)`, as
/// `(base, acme)`: the base rounded up to a word and then to a word past a
/// grain boundary, the acme rounded down to a word. `None` exactly when
/// they refuse it: less than a free chunk and the sentinel fit (at least
/// [`HEAP_MIN`] bytes, and a word more when the acme is a word past a grain).
pub fn heap_span_of(from: usize, to: usize) -> Option<(usize, usize)> {
    let word = from.checked_next_multiple_of(WORD)?;
    let base = if word % GRAIN == WORD { word } else { word.checked_add(WORD)? };
    let acme = word_down(to);
    (acme >= base && acme - base >= HEAP_MIN && sentinel_of(acme) - base >= MIN_CHUNK)
        .then_some((base, acme))
}

/// Whether the free chunk `[base, acme)` holds `l` as `Talc`'s search
/// places it: at the lowest address where the payload (a word past the
/// block's chunk) is aligned and the room left below the chunk is either
/// nothing or enough for a free chunk of its own, with the block's whole
/// chunk ([`chunk_size`]) ending at or below `acme`. (Trying further up
/// would not help: the chunk needed is the same.)
pub fn fits_chunk(base: usize, acme: usize, l: Layout) -> bool {
    let Some(mut payload) = (base + WORD).checked_next_multiple_of(l.align()) else {
        return false;
    };
    loop {
        let below = payload - WORD - base;
        if below == 0 || below >= MIN_CHUNK {
            break;
        }
        match payload.checked_add(l.align()) {
            Some(p) => payload = p,
            None => return false,
        }
    }
    (payload - WORD).checked_add(chunk_size(l.size())).is_some_and(|end| end <= acme)
}

/// Where `truncate` must end a heap that ends at `old_acme` and whose free
/// top begins at `top` (its base, if nothing is allocated), when it does not
/// remove it: at the wanted acme (0 for an empty span) rounded down to a
/// word, kept between a word above the free top (its sentinel) and the old
/// acme; if that leaves room between the free top and the sentinel for less
/// than a free chunk, the sentinel goes right at the free top.
pub fn truncated_acme(old_acme: usize, want_acme: usize, top: usize) -> usize {
    let at = word_down(want_acme).clamp(top + WORD, old_acme);
    if sentinel_of(at) - top >= MIN_CHUNK {
        at
    } else {
        top + WORD
    }
}

/// Checks a `truncate(heap, want)` that returned `new` and kept the heap:
/// it had to (`want` is not empty once word aligned, or the heap is not
/// `removable`, or it holds allocations up to `top`), its base stayed, and
/// it ends at [`truncated_acme`].
pub fn check_kept_truncation(
    heap: talcum::Span,
    want: talcum::Span,
    new: talcum::Span,
    to_empty: bool,
    removable: bool,
    top: usize,
) {
    let base = |s: talcum::Span| s.base() as usize;
    let acme = |s: talcum::Span| s.acme() as usize;
    assert!(
        !(to_empty && removable && top == base(heap)),
        "truncate to nothing kept an empty heap: {heap:?} -> {new:?}"
    );
    assert_eq!(base(new), base(heap), "truncate moved the heap's base");
    let asked = if to_empty { 0 } else { acme(want) };
    assert_eq!(
        acme(new),
        truncated_acme(acme(heap), asked, top),
        "truncate({heap:?}, {want:?}) returned {new:?} (allocations up to {top:#x})"
    );
}

/// The pages `WasmHandler` asks `memory.grow` for, for `l`, when `reused`
/// bytes of the last heap's free top will join them (src/wasm.rs): the
/// block's chunk, the padding an alignment past a grain may need below it
/// (the alignment and a grain), and three words (the word lost before the
/// first chunk, the sentinel, and the word lost at the top of the address
/// space), less the reused bytes, which count for at most half of it.
pub fn grow_pages(l: Layout, reused: usize) -> u128 {
    let pad = if l.align() > GRAIN { l.align() + GRAIN } else { 0 };
    let bytes = chunk_size(l.size()) as u128 + pad as u128 + 3 * WORD as u128;
    let grow = bytes - (reused as u128).min(bytes / 2);
    grow.div_ceil(talcum::WASM_PAGE_SIZE as u128).max(talcum::MIN_GROW_PAGES as u128)
}

/// What the free chunks of a `Talc` offer a layout, read just before a
/// request (feature `checks`). The search looks at only a few chunks per
/// bin, so `malloc` promises less than "whenever a chunk fits" (see
/// `Talc::malloc`): between the two fields lies what it may or may not find.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fit {
    /// Some free chunk can hold the layout ([`fits`]): the weak direction.
    /// With `ErrOnOom`, a request succeeds only if this holds; with a
    /// handler that grows memory, one that succeeds without it grew memory.
    pub any: bool,
    /// A free chunk surely holds it (`Talc::surely_fits`: a chunk in a size
    /// bin above the one of the request's chunk size plus its alignment's
    /// padding, or one that holds the layout and is the last heap's free top
    /// or lies in the last size bin): the strong direction. Then the request
    /// must succeed without the OOM handler, so without growing memory.
    pub sure: bool,
}

/// Both oracles for `layout` on `talc`, as [`Fit`]. Panics if a chunk
/// surely fits but none fits: the two oracles disagree.
pub fn fit<O: talcum::OomHandler>(talc: &talcum::Talc<O>, layout: Layout) -> Fit {
    let f = Fit { any: fits(talc, layout), sure: talc.surely_fits(layout) };
    assert!(
        f.any || !f.sure,
        "the oracles disagree: {layout:?} surely fits, but fits no free chunk"
    );
    f
}

/// Whether some free chunk of `talc` can hold `layout` where the search
/// would place it ([`fits_chunk`]). With `ErrOnOom`, `malloc(layout)`
/// succeeds only then (the search may miss such a chunk deep in a bin; it
/// must find one that *surely* fits, see [`Fit::sure`]). Walks the heaps
/// with `Talc::for_each_free_chunk`.
pub fn fits<O: talcum::OomHandler>(talc: &talcum::Talc<O>, layout: Layout) -> bool {
    // Free chunks that touch count as one: with feature `fast`, the blocks
    // the front end holds (free to this walk) merge before memory grows.
    let mut any = false;
    let mut run: Option<(usize, usize)> = None;
    talc.for_each_free_chunk(|chunk| {
        let (base, acme) = (chunk.base() as usize, chunk.acme() as usize);
        run = match run {
            Some((b, a)) if a == base => Some((b, acme)),
            Some((b, a)) => {
                any = any || fits_chunk(b, a, layout);
                Some((base, acme))
            }
            None => Some((base, acme)),
        };
    });
    if let Some((b, a)) = run {
        any = any || fits_chunk(b, a, layout);
    }
    any
}

/// The oracles for an allocation with `ErrOnOom` (`malloc`, `GlobalAlloc`'s
/// `alloc`, `Allocator::allocate`, ...): `fit` is [`fit`] just before the
/// call, `ok` whether it succeeded. It must succeed when a free chunk surely
/// fits, and may succeed only when one fits.
pub fn check_alloc_fit(fit: Fit, ok: bool, l: Layout, what: &str) {
    assert!(ok || !fit.sure, "{what}({l:?}) failed, although a free chunk surely fits it");
    assert!(!ok || fit.any, "{what}({l:?}) with ErrOnOom succeeded, but no free chunk fits it");
}

/// The oracles, with `ErrOnOom`, for a resize that takes a fresh block for
/// `new` when it cannot stay in place (`Talc::realloc`/`grow`,
/// `GlobalAlloc::realloc`, `Allocator::grow`/`shrink`): `fit` is [`fit`]
/// for `new` just before the call, `old` the block's address and `result`
/// the address returned.
///
/// A failed attempt in place changes no free chunk, so the fresh block is
/// searched for among the free chunks the oracles saw: if one surely fitted,
/// the resize must succeed; and if it succeeded although none fitted at all,
/// it stayed in place.
pub fn check_resize_fit(fit: Fit, old: *mut u8, result: Option<*mut u8>, new: Layout, what: &str) {
    match result {
        None => {
            assert!(!fit.sure, "{what}: failed for {new:?} although a free chunk surely fits it")
        }
        Some(p) => assert!(
            fit.any || p == old,
            "{what}: moved {old:p} to {p:p} for {new:?}, but no free chunk fit it"
        ),
    }
}

// ---------------------------------------------------------------------------
// Counters

/// Checks the allocator's counters against the model: live allocation count
/// and requested bytes; with `heaps = Some((count, bytes))`, the number of
/// heaps and the bytes in them; and the internal consistency of the rest.
pub fn check_counters(c: &talcum::Counters, model: &Model, heaps: Option<(usize, usize)>) {
    assert_eq!(
        c.allocation_count,
        model.len(),
        "counters: allocation_count, model has {} blocks\n{c}",
        model.len()
    );
    let live = model.live_bytes();
    assert_eq!(
        c.allocated_bytes, live,
        "counters: allocated_bytes, model has {live} live bytes\n{c}"
    );
    check_counter_consistency(c);
    if let Some((count, bytes)) = heaps {
        assert_eq!(c.heap_count, count, "counters: heap_count\n{c}");
        assert_eq!(c.claimed_bytes, bytes, "counters: claimed_bytes\n{c}");
    }
}

/// The checks on counters that need no model.
pub fn check_counter_consistency(c: &talcum::Counters) {
    let word = std::mem::size_of::<usize>();
    assert!(
        c.allocated_bytes
            .checked_add(c.available_bytes)
            .is_some_and(|used| used <= c.claimed_bytes),
        "counters: allocated + available bytes exceed claimed bytes\n{c:?}"
    );
    assert!(
        c.available_bytes >= c.fragment_count * MIN_CHUNK,
        "counters: {} free chunks cannot hold only {} bytes\n{c:?}",
        c.fragment_count,
        c.available_bytes
    );
    assert_eq!(
        c.fragment_count == 0,
        c.available_bytes == 0,
        "counters: free chunks vs free bytes\n{c:?}"
    );
    // Free chunks are grain multiples; a heap runs from a word past a grain
    // boundary to a word, so its size is a word multiple.
    assert_eq!(c.available_bytes % GRAIN, 0, "counters: free bytes off the grain\n{c:?}");
    assert_eq!(
        c.claimed_bytes % WORD,
        0,
        "counters: {} heaps of {} bytes off words\n{c:?}",
        c.heap_count,
        c.claimed_bytes
    );
    assert!(c.total_allocation_count >= c.allocation_count as u64, "counters: totals\n{c:?}");
    assert!(c.total_heap_count >= c.heap_count as u64, "counters: heap totals\n{c:?}");
    assert!(
        c.heap_count == 0 || c.claimed_bytes >= c.heap_count * word,
        "counters: {} heaps in {} bytes\n{c:?}",
        c.heap_count,
        c.claimed_bytes
    );
}

// ---------------------------------------------------------------------------
// Tracing

/// Whether `TALCUM_FUZZ_TRACE` is set: then the targets print every decoded
/// operation and its result on stderr, which is how a crash input is turned
/// into a regression test (`TALCUM_FUZZ_TRACE=1 target/.../heaps crash-file`).
pub fn tracing() -> bool {
    static TRACE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("TALCUM_FUZZ_TRACE").is_some())
}

/// `eprintln!` when tracing is on.
#[macro_export]
macro_rules! trace {
    ($($t:tt)*) => {
        if $crate::tracing() {
            eprintln!($($t)*);
        }
    };
}

/// Whether the known, reported bug `name` is to be stepped around, so that a
/// campaign can go on past it before it is fixed: set
/// `TALCUM_FUZZ_KNOWN_BUGS=name[,name...]`. Unset, every check runs.
///
/// Names: `grow-align` (TalckRef's Allocator::grow/shrink to a larger
/// alignment when the old pointer already has it; see
/// tests/fuzz_regressions.rs; fixed in eb50990, so no run needs it now);
/// `align-down` (Allocator::grow/shrink to a smaller alignment, in place:
/// the block keeps the padding of its old alignment, and the `checks`
/// feature of 15b23bc then refused the block's deallocation as "not the
/// start of an allocation"; seed
/// `seeds/talck_global/crash-checks-shrink-to-smaller-align-in-place`;
/// fixed in e649fe9, so no run needs it now); `top-bin-depth` (found on
/// 2026-12-06 by the oracle of the bounded search, at f55b0db: a heap's
/// free top stayed in the top bin after a later heap became the last one,
/// where the search, eight chunks deep, did not find it behind the tops of
/// eight later heaps; seed `seeds/oom_growth/former_tops_behind_eight_heaps`,
/// test `free_tops_of_former_last_heaps_are_found` in tests/heaps.rs; fixed,
/// so no run needs it now).
pub fn avoid_known_bug(name: &str) -> bool {
    static KNOWN: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    KNOWN
        .get_or_init(|| {
            std::env::var("TALCUM_FUZZ_KNOWN_BUGS")
                .map(|v| v.split(',').map(|s| s.trim().to_string()).collect())
                .unwrap_or_default()
        })
        .iter()
        .any(|k| k == name)
}
