//! Shared helpers for the wasm-bindgen-test suites in `tests/`, and the global
//! allocator they all run on: `talcum::TalckWasm`.
//!
//! Every suite links this crate (it uses the helpers below), which is what makes
//! the `#[global_allocator]` here apply to it. Run the suites with
//! `cargo test --target wasm32-unknown-unknown -p wasm-tests` (Node), and again with
//! `WASM_BINDGEN_USE_BROWSER=1 CHROMEDRIVER=/usr/bin/chromedriver` (headless Chromium).
//!
//! Suites that need to know exactly what grows memory use a local allocator of their
//! own beside the global one ([`LocalTalc`]), measured with [`memory_pages`].
//!
//! Off wasm32 the crate is empty, so host-side `cargo test --workspace` builds it cheaply.

#![cfg(target_arch = "wasm32")]
#![no_std]

extern crate alloc;

use alloc::alloc::{alloc, dealloc, realloc, Layout};
use alloc::vec::Vec;
use core::hash::{BuildHasherDefault, Hasher};
use core::ops::Range;
use core::ptr::NonNull;

#[global_allocator]
static ALLOC: talcum::TalckWasm = unsafe { talcum::TalckWasm::new_global() };

/// The address range of talcum's first heap (its arena), as last extended.
/// Empty until talcum has served an allocation.
#[cfg(not(feature = "tiny"))]
pub fn talcum_arena() -> Range<usize> {
    // SAFETY: single-threaded, and no allocation is running while we look.
    let arena = unsafe { ALLOC.talc() }.get_arena();
    match arena.get_base_acme() {
        Some((base, acme)) => base as usize..acme as usize,
        None => 0..0,
    }
}

/// With feature `tiny`: the memory grown since the module started (from
/// `__heap_end`, the initial memory's end, which the tiny allocator leaves
/// alone), where all its regions lie while nothing else grows memory.
#[cfg(feature = "tiny")]
pub fn talcum_arena() -> Range<usize> {
    extern "C" {
        static __heap_end: u8;
    }
    let end = (&raw const __heap_end) as usize;
    if memory_bytes() as usize > end {
        end..memory_bytes() as usize
    } else {
        0..0
    }
}

/// Panics unless allocations really come from talcum: a fresh small allocation must
/// lie in its arena (true while only talcum grows memory, as in a fresh instance).
pub fn assert_talcum_is_global() {
    let probe = alloc::boxed::Box::new([7u64; 4]);
    let at = &*probe as *const [u64; 4] as usize;
    let arena = talcum_arena();
    assert!(
        arena.contains(&at),
        "a Box at {at:#x} is not in talcum's arena {:#x}..{:#x}: is talcum the global allocator?",
        arena.start,
        arena.end
    );
}

/// Size of one WebAssembly page.
pub const WASM_PAGE: usize = 64 * 1024;

/// One mebibyte.
pub const MIB: usize = 1024 * 1024;

/// Current size of linear memory 0, in bytes (u64: 65536 pages do not fit a wasm32 usize).
pub fn memory_bytes() -> u64 {
    core::arch::wasm32::memory_size(0) as u64 * WASM_PAGE as u64
}

/// `memory.grow` on memory 0, bypassing the allocator, as JavaScript or another
/// allocator sharing the module would. Returns the byte range of the new pages, or
/// `None` when the engine refuses.
pub fn foreign_grow(pages: usize) -> Option<Range<usize>> {
    let old = core::arch::wasm32::memory_grow(0, pages);
    if old == usize::MAX {
        None
    } else {
        Some(old * WASM_PAGE..(old + pages) * WASM_PAGE)
    }
}

// ---------------------------------------------------------------------------
// Local allocators
// ---------------------------------------------------------------------------

/// A `Talc` of the test's own that grows the real linear memory with
/// `memory.grow`, beside the global allocator. Its heaps and what they grew are
/// known exactly, so growth can be measured per call. Memory it grew stays
/// grown (wasm memory never shrinks): each one costs the test a few pages.
pub type LocalTalc = talcum::Talc<talcum::WasmHandler>;

/// A fresh [`LocalTalc`], with no memory until its first allocation.
pub fn local_talc() -> LocalTalc {
    talcum::Talc::new(talcum::WasmHandler::new())
}

/// Current size of linear memory 0, in pages.
pub fn memory_pages() -> usize {
    core::arch::wasm32::memory_size(0)
}

/// `talc.malloc(layout)`, which must succeed: checks the alignment and that the
/// block lies in linear memory, then fills it with the pattern of `tag`.
pub fn must_malloc<O: talcum::OomHandler>(
    talc: &mut talcum::Talc<O>,
    layout: Layout,
    tag: usize,
) -> NonNull<u8> {
    // SAFETY: the heaps of the tests' local allocators stay valid for the whole run.
    let p = unsafe { talc.malloc(layout) }.unwrap_or_else(|()| {
        panic!("local malloc({} bytes, align {}) failed", layout.size(), layout.align())
    });
    let at = p.as_ptr() as usize;
    assert_eq!(at % layout.align(), 0, "local malloc({layout:?}) returned misaligned {at:#x}");
    assert!(
        (at + layout.size()) as u64 <= memory_bytes(),
        "local malloc({layout:?}) returned {at:#x}, past the end of memory"
    );
    // SAFETY: a fresh block of `layout.size()` bytes.
    unsafe { fill(p.as_ptr(), layout.size(), tag) };
    p
}

/// Panics unless the `len` bytes at `p` still hold the pattern of `tag`.
pub fn assert_filled(p: NonNull<u8>, len: usize, tag: usize) {
    // SAFETY: callers pass blocks they own.
    if let Some(at) = unsafe { mismatch(p.as_ptr(), len, tag) } {
        panic!("block {p:p} ({len} bytes, tag {tag}) corrupted at offset {at}");
    }
}

/// The address a span starts at (for comparisons and messages).
pub fn base_of(span: talcum::Span) -> usize {
    span.base() as usize
}

/// The address a span ends at.
pub fn acme_of(span: talcum::Span) -> usize {
    span.acme() as usize
}

/// The last heap of `talc` (see `Talc::get_last_heap_acme`), given where it
/// starts.
pub fn last_heap(talc: &LocalTalc, base: usize) -> talcum::Span {
    let acme = talc.get_last_heap_acme();
    talcum::Span::new(acme.with_addr(base), acme)
}

// ---------------------------------------------------------------------------
// Fill patterns
// ---------------------------------------------------------------------------

/// The pattern has a prime period, so it never lines up with power-of-two offsets:
/// a block copied to a shifted position, or overwritten by another block with a
/// different tag, reads back wrong.
const PERIOD: usize = 251;
const CHUNK: usize = 4096;

static PATTERN: [u8; PERIOD + CHUNK] = {
    let mut p = [0u8; PERIOD + CHUNK];
    let mut i = 0;
    while i < p.len() {
        p[i] = (i % PERIOD) as u8;
        i += 1;
    }
    p
};

/// Byte `i` of a block filled with `tag`.
pub fn pattern_byte(tag: usize, i: usize) -> u8 {
    ((i % PERIOD + tag % PERIOD) % PERIOD) as u8
}

/// Fills `len` bytes at `ptr` with the pattern of `tag` (memcpy-speed, also in debug builds).
///
/// # Safety
/// `ptr..ptr+len` must be valid for writes.
pub unsafe fn fill(ptr: *mut u8, len: usize, tag: usize) {
    let mut i = 0;
    while i < len {
        let phase = (i % PERIOD + tag % PERIOD) % PERIOD;
        let n = CHUNK.min(len - i);
        core::ptr::copy_nonoverlapping(PATTERN.as_ptr().add(phase), ptr.add(i), n);
        i += n;
    }
}

/// Offset of the first byte at `ptr` that does not hold the pattern of `tag`, if any.
///
/// # Safety
/// `ptr..ptr+len` must be valid for reads.
pub unsafe fn mismatch(ptr: *const u8, len: usize, tag: usize) -> Option<usize> {
    let mut i = 0;
    while i < len {
        let phase = (i % PERIOD + tag % PERIOD) % PERIOD;
        let n = CHUNK.min(len - i);
        let got = core::slice::from_raw_parts(ptr.add(i), n);
        let want = &PATTERN[phase..phase + n];
        if got != want {
            let k = got.iter().zip(want).position(|(a, b)| a != b).unwrap();
            return Some(i + k);
        }
        i += n;
    }
    None
}

// ---------------------------------------------------------------------------
// Checked heap blocks
// ---------------------------------------------------------------------------

/// A block from the global allocator, filled with the pattern of its tag.
/// Dropping it checks the pattern, then frees it.
pub struct Block {
    ptr: NonNull<u8>,
    layout: Layout,
    tag: usize,
    /// Only the first and last [`EDGE`] bytes hold the pattern (cheap fillers).
    sparse: bool,
}

/// How many bytes at each end of a sparse block hold the pattern.
const EDGE: usize = 64;

impl Block {
    /// Allocates through `std::alloc::alloc` (so failure is a null pointer, not an abort)
    /// and fills the block. Panics if the pointer is misaligned.
    pub fn try_new(size: usize, align: usize, tag: usize) -> Option<Block> {
        let layout = Layout::from_size_align(size, align).expect("test asked for a bad layout");
        assert!(size > 0, "zero-sized blocks are not allocator calls");
        let ptr = NonNull::new(unsafe { alloc(layout) })?;
        assert_eq!(
            ptr.as_ptr() as usize % align,
            0,
            "allocation of {size} bytes aligned {align} returned misaligned {ptr:p}"
        );
        unsafe { fill(ptr.as_ptr(), size, tag) };
        Some(Block { ptr, layout, tag, sparse: false })
    }

    /// Like [`Block::new`], but only the first and last 64 bytes are written and
    /// checked: for blocks that only take up space.
    pub fn new_sparse(size: usize, align: usize, tag: usize) -> Block {
        let layout = Layout::from_size_align(size, align).expect("test asked for a bad layout");
        assert!(size >= 2 * EDGE, "sparse blocks have at least {} bytes", 2 * EDGE);
        let ptr = NonNull::new(unsafe { alloc(layout) })
            .unwrap_or_else(|| panic!("allocation of {size} bytes aligned {align} returned null"));
        assert_eq!(ptr.as_ptr() as usize % align, 0, "misaligned {ptr:p} for align {align}");
        unsafe {
            fill(ptr.as_ptr(), EDGE, tag);
            fill(ptr.as_ptr().add(size - EDGE), EDGE, tag);
        }
        Block { ptr, layout, tag, sparse: true }
    }

    /// Like [`Block::try_new`], panicking on a null pointer.
    pub fn new(size: usize, align: usize, tag: usize) -> Block {
        Block::try_new(size, align, tag)
            .unwrap_or_else(|| panic!("allocation of {size} bytes aligned {align} returned null"))
    }

    pub fn ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    pub fn size(&self) -> usize {
        self.layout.size()
    }

    pub fn align(&self) -> usize {
        self.layout.align()
    }

    pub fn tag(&self) -> usize {
        self.tag
    }

    /// Address range of the block.
    pub fn range(&self) -> Range<usize> {
        let base = self.ptr.as_ptr() as usize;
        base..base + self.layout.size()
    }

    /// Panics unless every byte still holds the block's pattern.
    pub fn assert_intact(&self) {
        // (offset in the block, offset in the pattern)
        let bad = if self.sparse {
            let tail = self.size() - EDGE;
            unsafe { mismatch(self.ptr(), EDGE, self.tag) }.map(|at| (at, at)).or_else(|| {
                unsafe { mismatch(self.ptr().add(tail), EDGE, self.tag) }.map(|at| (tail + at, at))
            })
        } else {
            unsafe { mismatch(self.ptr(), self.size(), self.tag) }.map(|at| (at, at))
        };
        if let Some((at, pattern_at)) = bad {
            panic!(
                "block {:p} ({} bytes, align {}, tag {}) corrupted at offset {}: {} != {}",
                self.ptr,
                self.size(),
                self.align(),
                self.tag,
                at,
                unsafe { *self.ptr().add(at) },
                pattern_byte(self.tag, pattern_at)
            );
        }
    }

    /// Reallocates to `new_size`. Checks that `min(old, new)` bytes survived and the
    /// alignment was kept, then refills the whole block. Returns false (block unchanged)
    /// when the allocator reports failure.
    pub fn try_realloc(&mut self, new_size: usize) -> bool {
        assert!(new_size > 0);
        assert!(!self.sparse, "sparse blocks are not reallocated");
        let old_size = self.size();
        let new_layout = Layout::from_size_align(new_size, self.align()).unwrap();
        let p = unsafe { realloc(self.ptr(), self.layout, new_size) };
        let Some(p) = NonNull::new(p) else {
            return false;
        };
        assert_eq!(
            p.as_ptr() as usize % self.align(),
            0,
            "realloc {} -> {} bytes lost alignment {}: {:p}",
            old_size,
            new_size,
            self.align(),
            p
        );
        let kept = old_size.min(new_size);
        if let Some(at) = unsafe { mismatch(p.as_ptr(), kept, self.tag) } {
            panic!(
                "realloc {} -> {} bytes (align {}) {:p} -> {:p} lost contents at offset {}",
                old_size,
                new_size,
                self.align(),
                self.ptr,
                p,
                at
            );
        }
        self.ptr = p;
        self.layout = new_layout;
        if new_size > old_size {
            unsafe { fill(p.as_ptr(), new_size, self.tag) };
        }
        true
    }

    /// Like [`Block::try_realloc`], panicking on failure.
    pub fn realloc(&mut self, new_size: usize) {
        let (old, align) = (self.size(), self.align());
        assert!(
            self.try_realloc(new_size),
            "realloc {old} -> {new_size} bytes aligned {align} returned null"
        );
    }
}

impl Drop for Block {
    fn drop(&mut self) {
        self.assert_intact();
        unsafe { dealloc(self.ptr(), self.layout) };
    }
}

/// Allocates 64 KiB blocks until one of them makes memory grow: afterwards no free
/// space left over from earlier tests can hold 64 KiB or more, so the next bigger
/// requests are served from fresh pages. Keep the result alive while that matters.
pub fn use_up_free_memory() -> Vec<Block> {
    let mut fillers = Vec::new();
    loop {
        let before = memory_bytes();
        fillers.push(Block::new_sparse(64 * 1024, 8, fillers.len()));
        if memory_bytes() != before {
            return fillers;
        }
    }
}

/// Panics if any two ranges overlap (empty ranges are ignored).
pub fn assert_disjoint(ranges: &mut Vec<Range<usize>>) {
    ranges.retain(|r| !r.is_empty());
    ranges.sort_by_key(|r| r.start);
    for pair in ranges.windows(2) {
        assert!(
            pair[0].end <= pair[1].start,
            "overlapping allocations {:#x}..{:#x} and {:#x}..{:#x}",
            pair[0].start,
            pair[0].end,
            pair[1].start,
            pair[1].end
        );
    }
}

/// Panics if the two ranges overlap.
pub fn assert_apart(a: &Range<usize>, b: &Range<usize>) {
    assert!(
        a.end <= b.start || b.end <= a.start,
        "{:#x}..{:#x} overlaps {:#x}..{:#x}",
        a.start,
        a.end,
        b.start,
        b.end
    );
}

// ---------------------------------------------------------------------------
// Determinism: PRNG and hasher
// ---------------------------------------------------------------------------

/// Marsaglia's xorshift64 (13, 7, 17): small, fast, reproducible.
pub struct XorShift64(u64);

impl XorShift64 {
    pub fn new(seed: u64) -> Self {
        // The all-zero state is a fixed point; any other seed is fine.
        XorShift64(if seed == 0 { 0x9E37_79B9_7F4A_7C15 } else { seed })
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform-enough value in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Value in `lo..=hi`.
    pub fn between(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `percent`/100.
    pub fn percent(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }
}

/// FNV-1a, so hash maps need no randomness source and behave the same on every run.
pub struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv1a {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= b as u64;
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// `BuildHasher` for `std::collections::HashMap::with_hasher`.
pub type FixedState = BuildHasherDefault<Fnv1a>;
