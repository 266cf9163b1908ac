//! The `tiny` allocator: the smallest design that still merges, never
//! touches foreign pages, survives the 4 GiB end and recovers after OOM.
//!
//! Feature `tiny` makes `TalckWasm` this allocator
//! (`TinyWasm`, on wasm32); [`Tiny`] itself builds on every target, generic over a
//! [`LinearMemory`], so that it is tested natively, under Miri and in the
//! fuzzer like the full allocator.
//!
//! # Layout
//!
//! Memory is cut into chunks. Every chunk starts with a header word: its
//! size (a multiple of two words) and two flags, `FREE` and `PREV_FREE`
//! (the chunk below is free). A free chunk also keeps its size in its last
//! word (the footer, read by the chunk above when it is freed) and two list
//! links after the header. Chunks start one word past a two-word boundary,
//! so every block (one word past its chunk) is two-word aligned.
//!
//! ```text
//!  allocated:  | size|flags | payload ..................... |
//!  free:       | size|FREE  | next | prev | ...... | size    |
//!  region:   | list heads (first region) | chunk | ... | chunk | sentinel |
//! ```
//!
//! Each region (pages from `memory.grow`) ends with a sentinel: an
//! allocated header of size 0 that stops merging. When new pages start
//! where the last region ends, the old sentinel becomes the header of a
//! chunk that spans the new pages, which is then freed like any block:
//! memory merges across growth steps. Pages that do not follow (some other
//! code grew memory in between) become a region of their own; the pages
//! between are never read or written. A growth counts the free chunk below
//! the last sentinel (which the new pages join) for up to half the request.
//!
//! # Free lists
//!
//! One circular doubly linked list per power of two (bin `k` holds sizes in
//! `[2^k, 2^(k+1))`), whose heads sit at the start of the first region; the
//! free top (the free chunk under the last sentinel, which new pages join)
//! is listed in the last bin whatever its size. An allocation walks the
//! lists from its own bin up and takes the first chunk that holds it; past
//! its own bin the first chunk of a list always does, unless the request is
//! aligned beyond two words. So the free top serves only when no other
//! chunk holds the block. A block of less than a fifth of its chunk is cut
//! from the chunk's bottom, any other from its top: small blocks gather at
//! the bottom of free memory, where they split neither what is freed above
//! them nor the free top from the pages that join it (a small block kept
//! under the last sentinel made every later growth start from scratch: a
//! buffer rebuilt 256 KiB bigger each round from 4 MiB, a 64-byte block
//! kept after each round, grew 112 MB for 9.2 MB live in 20 rounds), and a
//! large block leaves the free memory below it to the small blocks made
//! while it lives, out of its way when it grows. `free` merges with both
//! neighbours in O(1) time.
//!
//! `realloc` grows a block in place into a free chunk above it; at the top
//! of the last region it moves to a free chunk that holds the new size, or
//! else grows memory under the block, which then keeps all it got (what is
//! left over, less than a page, would take the next small block, in its
//! way). A block shrunk to half its chunk or less moves to a free chunk
//! that holds it, or else gives the rest back (in place, it would stay
//! between the free memory below it and its given-back tail).
//!
//! The adversaries: a bin full of chunks that are all slightly too small is
//! walked in full by every request of its size class (the full allocator
//! bounds that walk; this one spends no bytes on it); an aligned request
//! walks every chunk of every bin above its own when none holds it
//! (`tests/tiny_review.rs` has the numbers).
//!
//! # What it drops
//!
//! Against the full allocator ([`Talc`](crate::Talc)): the zeroed-memory
//! watermark (`alloc_zeroed` clears), counters and `stats`, heap management
//! (`claim`, `extend`, `truncate`), the bounded search, and the initial
//! memory (`__heap_base..__heap_end` stays unused: taking it costs about
//! 100 bytes).

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::ptr::null_mut;

use crate::memory::{LinearMemory, WASM_PAGE_SIZE};

const WORD: usize = core::mem::size_of::<usize>();
/// The chunk size granularity, and the blocks' natural alignment.
const GRAIN: usize = 2 * WORD;
/// The smallest chunk: header, two links and footer.
const MIN_CHUNK: usize = 4 * WORD;
const FREE: usize = 1;
const PREV_FREE: usize = 2;
const FLAGS: usize = GRAIN - 1;
const BINS: usize = usize::BITS as usize;
/// The bins' list heads, at the start of the first region: two words each,
/// and a grain before them so that bin 0's head (whose links are one and
/// two words past it, as a chunk's are) lies inside the region.
const META: usize = (BINS + 1) * 2 * WORD;
/// Regions the `checks` walk follows.
#[cfg(feature = "checks")]
const MAX_REGIONS: usize = 64;

/// The tiny allocator over a [`LinearMemory`].
pub struct Tiny<M> {
    /// The bins' list heads (two words each, in the first region), or null
    /// before the first region.
    heads: *mut u8,
    /// The sentinel of the region added last, or null.
    top: *mut u8,
    /// Where that region ends: new pages that start there extend it.
    acme: usize,
    memory: M,
    #[cfg(feature = "checks")]
    regions: [*mut u8; MAX_REGIONS],
    #[cfg(feature = "checks")]
    region_count: usize,
}

impl<M: core::fmt::Debug> core::fmt::Debug for Tiny<M> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Tiny").field("memory", &self.memory).finish_non_exhaustive()
    }
}

// SAFETY: the pointers all point into memory that the `Tiny` owns; moving it
// to another thread moves that ownership along.
unsafe impl<M: Send> Send for Tiny<M> {}

/// Reads the word at `p`.
///
/// # Safety
/// `p` must be valid for reads of a word, and word aligned.
#[inline(always)]
unsafe fn get(p: *mut u8) -> usize {
    // SAFETY: the caller's promise.
    unsafe { *p.cast::<usize>() }
}

/// Writes the word at `p`.
///
/// # Safety
/// `p` must be valid for writes of a word, and word aligned.
#[inline(always)]
unsafe fn set(p: *mut u8, v: usize) {
    // SAFETY: the caller's promise.
    unsafe { *p.cast::<usize>() = v }
}

/// The list neighbour of the free chunk (or list head) `c`: `NEXT` or `PREV`.
///
/// # Safety
/// `c` must be a free chunk or a list head.
#[inline(always)]
unsafe fn link_of(c: *mut u8, which: usize) -> *mut u8 {
    // SAFETY: the caller's promise: links are pointers, with provenance.
    unsafe { *c.add(which).cast::<*mut u8>() }
}

/// Sets a list neighbour of `c`.
///
/// # Safety
/// As [`link_of`].
#[inline(always)]
unsafe fn set_link(c: *mut u8, which: usize, to: *mut u8) {
    // SAFETY: the caller's promise.
    unsafe { *c.add(which).cast::<*mut u8>() = to }
}

const NEXT: usize = WORD;
const PREV: usize = 2 * WORD;

/// The bin of a chunk size (at least `MIN_CHUNK`): its highest bit. The
/// mask keeps indices provably in range (no bounds check in the code).
#[inline(always)]
fn bin_of(size: usize) -> usize {
    (usize::BITS - 1 - size.leading_zeros()) as usize & (BINS - 1)
}

/// The chunk size that holds `size` bytes after its header.
#[inline(always)]
fn chunk_size(size: usize) -> usize {
    // `size <= isize::MAX` (a `Layout`'s), so this does not overflow.
    ((size + WORD + FLAGS) & !FLAGS).max(MIN_CHUNK)
}

/// Where the sentinel of a region that ends at `acme` goes.
#[inline(always)]
fn sentinel_at(acme: *mut u8) -> *mut u8 {
    acme.wrapping_sub(acme.addr() & FLAGS).wrapping_sub(WORD)
}

impl<M: LinearMemory> Tiny<M> {
    /// An allocator that grows `memory` when it needs to.
    pub const fn new(memory: M) -> Self {
        Self {
            heads: null_mut(),
            top: null_mut(),
            acme: 0,
            memory,
            #[cfg(feature = "checks")]
            regions: [null_mut(); MAX_REGIONS],
            #[cfg(feature = "checks")]
            region_count: 0,
        }
    }

    /// The memory it grows.
    pub fn memory(&self) -> &M {
        &self.memory
    }

    /// The list head of bin `bin`: a node whose links are where a free
    /// chunk's are. Lists are circular: an empty one links to its head.
    #[inline(always)]
    fn head(&self, bin: usize) -> *mut u8 {
        self.heads.wrapping_add(bin * 2 * WORD)
    }

    /// Unlinks the free chunk `c` from its list.
    ///
    /// # Safety
    /// `c` is a free chunk of this allocator, in a list.
    #[inline(always)]
    unsafe fn unlink(c: *mut u8) {
        // SAFETY: `c` and its neighbours are free chunks or list heads.
        unsafe {
            let next = link_of(c, NEXT);
            let prev = link_of(c, PREV);
            set_link(next, PREV, prev);
            set_link(prev, NEXT, next);
        }
    }

    /// Makes `c` a free chunk of `size` bytes and lists it: in its bin,
    /// or in the last bin if it is the free top (under the last sentinel).
    /// Searched last, the free top then serves a request only when no
    /// other chunk holds it, and stays whole for the growth that joins it.
    ///
    /// # Safety
    /// `[c, c + size)` is this allocator's memory, in use by nothing; the
    /// chunk below `c` is allocated (or `c` starts a region), a chunk
    /// header follows it.
    unsafe fn release(&mut self, c: *mut u8, size: usize) {
        // SAFETY: per the contract; the footer is the chunk's last word;
        // `head` is a list head, its next a free chunk or itself.
        unsafe {
            set(c, size | FREE);
            set(c.add(size - WORD), size);
            let above = c.add(size);
            set(above, get(above) | PREV_FREE);
            let mut bin = bin_of(size);
            if above == self.top {
                bin = BINS - 1;
            }
            let head = self.head(bin);
            let next = link_of(head, NEXT);
            set_link(c, NEXT, next);
            set_link(c, PREV, head);
            set_link(next, PREV, c);
            set_link(head, NEXT, c);
        }
    }

    /// Frees the block at `ptr`.
    ///
    /// # Safety
    /// `ptr` was returned by this allocator's `malloc` or `realloc` and not
    /// freed since.
    pub unsafe fn free(&mut self, ptr: *mut u8) {
        // SAFETY: `ptr` is a live block: its header is below it, and the
        // header above its chunk (a chunk's or the sentinel's) is valid; a
        // free chunk below has a footer.
        unsafe {
            let mut c = ptr.sub(WORD);
            let head = get(c);
            let mut size = head & !FLAGS;
            let above = c.add(size);
            let above_head = get(above);
            if above_head & FREE != 0 {
                Self::unlink(above);
                size += above_head & !FLAGS;
            }
            if head & PREV_FREE != 0 {
                let below = get(c.sub(WORD));
                c = c.sub(below);
                Self::unlink(c);
                size += below;
            }
            self.release(c, size);
        }
    }

    /// Allocates a block for `layout`, or returns null.
    pub fn malloc(&mut self, layout: Layout) -> *mut u8 {
        let align = layout.align();
        let need = chunk_size(layout.size());
        loop {
            let block = self.take(need, align);
            if !block.is_null() {
                return block;
            }
            // Room to cut a chunk below the block for a large alignment.
            let slack = if align > GRAIN { align + MIN_CHUNK } else { 0 };
            if !self.grow(need.saturating_add(slack)) {
                return null_mut();
            }
        }
    }

    /// Cuts a block of `need` bytes (a chunk size) aligned to `align` from
    /// a free chunk, or returns null when none holds it.
    fn take(&mut self, need: usize, align: usize) -> *mut u8 {
        // The first chunk that holds the block, from the request's own
        // bin up (past it, the first chunk of each bin holds any block
        // that needs no more than the grain's alignment; the free top is
        // in the last bin, whatever its size: see `release`).
        let mut bin = bin_of(need);
        while bin < BINS && !self.heads.is_null() {
            let head = self.head(bin);
            // SAFETY: the lists hold free chunks between their heads.
            unsafe {
                let mut c = link_of(head, NEXT);
                while c != head {
                    let end = c.add(get(c) & !FLAGS);
                    // The highest start of an aligned block in the chunk.
                    let mut block = end.wrapping_sub(need);
                    block = block.wrapping_sub(block.addr().wrapping_add(WORD) & (align - 1));
                    let below = block.addr().wrapping_sub(c.addr());
                    // What is left below must be nothing, or big enough
                    // to be free (a grain-aligned block takes it all).
                    if below <= end.addr() - c.addr()
                        && (below.wrapping_sub(1) >= MIN_CHUNK - 1 || align <= GRAIN)
                    {
                        Self::unlink(c);
                        let mut flags = 0;
                        // A block of less than a fifth of the chunk is cut
                        // from its bottom, any other from its top. Small
                        // blocks gather at the bottom of free memory, out
                        // of the way of what is freed above them (and of
                        // growth, when the chunk is the free top); a large
                        // block leaves the free memory below it to the
                        // small blocks that come while it lives (made
                        // between the steps of a growing buffer, they land
                        // below it, not in its way).
                        if below < MIN_CHUNK || (align <= GRAIN && need < below >> 2) {
                            block = c;
                        } else {
                            self.release(c, below);
                            flags = PREV_FREE;
                        }
                        // What is left above the block goes back (when big
                        // enough).
                        let mut size = end.addr() - block.addr();
                        if size - need >= MIN_CHUNK {
                            self.release(block.add(need), size - need);
                            size = need;
                        } else {
                            set(end, get(end) & !PREV_FREE);
                        }
                        set(block, size | flags);
                        return block.add(WORD);
                    }
                    c = link_of(c, NEXT);
                }
            }
            bin += 1;
        }
        null_mut()
    }

    /// Resizes the block at `ptr` to `new_size` bytes: in place when its
    /// chunk holds them, else by moving it. Returns null, with the block
    /// untouched, when no memory is left.
    ///
    /// # Safety
    /// `ptr` is a live block of this allocator allocated with `layout`;
    /// `new_size` rounded up to `layout.align()` is at most `isize::MAX`.
    pub unsafe fn realloc(&mut self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let need = chunk_size(new_size);
        let mut grown = false;
        // SAFETY: `ptr` is live: its header is below it, a chunk header (or
        // the sentinel) above it; a free chunk there is listed. The caller
        // promises the size's rounding. A new block is live and distinct
        // from the old one, and both hold the bytes copied: the old one
        // `layout.size()`, the new one `new_size`.
        unsafe {
            let c = ptr.sub(WORD);
            let new = loop {
                let head = get(c);
                let have = head & !FLAGS;
                if need <= have {
                    // A block shrunk to half its chunk or less moves to a
                    // free chunk that holds it, or else gives the rest back
                    // (a block that grows keeps what was grown under it,
                    // see below).
                    if new_size < layout.size() && need <= have / 2 && have - need >= MIN_CHUNK {
                        let new = self.take(need, layout.align());
                        if !new.is_null() {
                            break new;
                        }
                        set(c, need | (head & PREV_FREE));
                        set(c.add(need), have - need);
                        self.free(c.add(need + WORD));
                    }
                    return ptr;
                }
                // Into the free chunk above, if the two hold the new size: a
                // buffer that grows a little at a time stays where it is.
                let mut above = c.add(have);
                let above_head = get(above);
                if above_head & FREE != 0 {
                    let free_above = above_head & !FLAGS;
                    let size = have + free_above;
                    if size >= need {
                        Self::unlink(above);
                        let flags = head & PREV_FREE;
                        // After growth under it the block keeps all it got:
                        // what is left (less than a page) would otherwise
                        // take the next small block, in its way.
                        if size - need >= MIN_CHUNK && !grown {
                            set(c, need | flags);
                            self.release(c.add(need), size - need);
                        } else {
                            set(c, size | flags);
                            let end = c.add(size);
                            set(end, get(end) & !PREV_FREE);
                        }
                        return ptr;
                    }
                    above = above.add(free_above);
                }
                // At the top of the last region, when new pages will follow
                // it: a free chunk that holds the new size, else grow what
                // the block lacks there (the free top counts, see `grow`),
                // then again in place. Else a new block.
                if !grown && above == self.top && self.acme == self.memory.end() {
                    let new = self.take(need, layout.align());
                    if !new.is_null() {
                        break new;
                    }
                    grown = true;
                    if self.grow(need - have) {
                        continue;
                    }
                }
                break self.malloc(Layout::from_size_align_unchecked(new_size, layout.align()));
            };
            if !new.is_null() {
                core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.free(ptr);
            }
            new
        }
    }

    /// Adds memory for a free chunk of `want` bytes. Returns whether any
    /// was added.
    fn grow(&mut self, want: usize) -> bool {
        let top = self.top;
        // A free chunk below the last sentinel joins the new pages when they
        // follow it; it counts for at most half the request, so that a
        // request creeping up by a little each time does not grow memory
        // each time.
        let mut reused = 0;
        if self.acme == self.memory.end() && !top.is_null() {
            // SAFETY: `top` is the last region's sentinel; a free chunk
            // below it has a footer.
            unsafe {
                if get(top) & PREV_FREE != 0 {
                    reused = get(top.sub(WORD)).min(want / 2);
                }
            }
        }
        // Two grains for a region's ends and the 4 GiB end, the list heads
        // for the first region.
        let bytes = (want - reused).saturating_add(2 * GRAIN + META);
        let Some(new) = self.memory.grow(bytes.div_ceil(WASM_PAGE_SIZE)) else { return false };
        // The chunk the new pages make, from `first` to a new sentinel. When
        // they follow the last region (never at address 0, so never before
        // the first), its sentinel becomes that chunk's header (keeping its
        // `PREV_FREE`), and freeing the chunk merges it with a free chunk
        // below. Else they make a region of their own, with the list heads
        // first in the first region. A growth holds at least `META + 2 *
        // GRAIN` bytes more than the request: the heads, the rounding at
        // both ends, the sentinel.
        let mut first = top;
        let mut flags = 0;
        if new.base().addr() == self.acme {
            // SAFETY: `top` is the last region's sentinel.
            flags = unsafe { get(top) } & PREV_FREE;
        } else {
            let base = new.base();
            first = base.wrapping_add(base.addr().wrapping_neg() & FLAGS);
            if self.heads.is_null() {
                self.heads = first;
                for bin in 0..BINS {
                    let head = self.head(bin);
                    // SAFETY: the heads lie at the region's start, ours alone.
                    unsafe {
                        set_link(head, NEXT, head);
                        set_link(head, PREV, head);
                    }
                }
                first = first.wrapping_add(META);
            }
            first = first.wrapping_add(WORD);
            #[cfg(feature = "checks")]
            if self.region_count < MAX_REGIONS {
                self.regions[self.region_count] = first;
                self.region_count += 1;
            }
        }
        let sentinel = sentinel_at(new.acme());
        // SAFETY: the memory from `first` to the new sentinel is ours alone
        // (`LinearMemory`'s contract, or the old sentinel's word).
        unsafe {
            set(sentinel, 0);
            set(first, (sentinel.addr() - first.addr()) | flags);
            self.free(first.add(WORD));
        }
        self.top = sentinel;
        self.acme = new.acme().addr();
        true
    }
}

/// What the walk found in a [`Tiny`]'s heap ([`Tiny::check`]).
#[cfg(feature = "checks")]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TinyCheck {
    /// Regions walked.
    pub regions: usize,
    /// Allocated chunks.
    pub allocated: usize,
    /// Free chunks.
    pub free: usize,
    /// Bytes in free chunks.
    pub free_bytes: usize,
    /// The largest free chunk's size.
    pub largest_free: usize,
}

#[cfg(feature = "checks")]
impl<M: LinearMemory> Tiny<M> {
    /// Walks every region (the first 64) and every free list, and panics
    /// if anything is inconsistent: a size off the grain, a free chunk
    /// without its footer or next to another free chunk, a `PREV_FREE` flag
    /// that lies, a list that is not the free chunks of its bin or whose
    /// links do not match. Returns what it found.
    pub fn check(&self) -> TinyCheck {
        let mut found = TinyCheck { regions: self.region_count, ..TinyCheck::default() };
        // SAFETY: the walk follows headers from each region's first chunk to
        // its sentinel; the links hold free chunks' addresses.
        unsafe {
            for &first in &self.regions[..self.region_count] {
                let mut c = first;
                let mut below_free = false;
                loop {
                    let head = get(c);
                    let size = head & !FLAGS;
                    assert_eq!(head & PREV_FREE != 0, below_free, "PREV_FREE lies at {c:p}");
                    if size == 0 {
                        assert_eq!(head & FREE, 0, "a free sentinel at {c:p}");
                        break;
                    }
                    assert!(size >= MIN_CHUNK && size % GRAIN == 0, "size {size} at {c:p}");
                    let free = head & FREE != 0;
                    if free {
                        assert!(!below_free, "two free chunks in a row at {c:p}");
                        assert_eq!(get(c.add(size - WORD)), size, "footer of {c:p}");
                        found.free += 1;
                        found.free_bytes += size;
                        found.largest_free = found.largest_free.max(size);
                    } else {
                        found.allocated += 1;
                    }
                    below_free = free;
                    c = c.add(size);
                }
            }
            let mut listed = 0;
            for bin in 0..BINS {
                if self.heads.is_null() {
                    break;
                }
                let head = self.head(bin);
                let mut prev = head;
                let mut c = link_of(head, NEXT);
                while c != head {
                    let h = get(c);
                    assert_ne!(h & FREE, 0, "allocated chunk {c:p} in bin {bin}");
                    // The last bin also holds the free top (a free chunk
                    // under a sentinel, which may be the last but one after
                    // foreign pages).
                    let size = h & !FLAGS;
                    assert!(
                        bin_of(size) == bin || bin == BINS - 1 && get(c.add(size)) & !FLAGS == 0,
                        "chunk {c:p} in the wrong bin"
                    );
                    assert_eq!(link_of(c, PREV), prev, "back link of {c:p}");
                    prev = c;
                    listed += 1;
                    c = link_of(c, NEXT);
                }
                assert_eq!(link_of(head, PREV), prev, "bin {bin}'s last chunk");
            }
            if self.region_count < MAX_REGIONS {
                assert_eq!(listed, found.free, "listed free chunks against walked ones");
            }
        }
        found
    }
}

/// A [`Tiny`] as a global allocator for a single thread.
pub struct TinyGlobal<M>(UnsafeCell<Tiny<M>>);

impl<M: LinearMemory> TinyGlobal<M> {
    /// The allocator over `memory`.
    ///
    /// # Safety
    /// It must be used from one thread only: it has no lock.
    pub const unsafe fn new(memory: M) -> Self {
        Self(UnsafeCell::new(Tiny::new(memory)))
    }

    /// The allocator inside.
    ///
    /// # Safety
    /// No other reference to it may be live (one thread, not from inside a
    /// call to it).
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn tiny(&self) -> &mut Tiny<M> {
        // SAFETY: the caller's promise.
        unsafe { &mut *self.0.get() }
    }
}

// SAFETY: `new`'s contract: one thread only.
unsafe impl<M: Send> Sync for TinyGlobal<M> {}

// SAFETY: blocks come from `Tiny::malloc`, which honours the layout; the
// single-thread contract of `new` makes each call exclusive.
unsafe impl<M: LinearMemory> GlobalAlloc for TinyGlobal<M> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: one thread, calls do not nest.
        unsafe { self.tiny() }.malloc(layout)
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _: Layout) {
        // SAFETY: `ptr` is live (`GlobalAlloc`'s contract); one thread.
        unsafe { self.tiny().free(ptr) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `GlobalAlloc::realloc`'s contract is `Tiny::realloc`'s.
        unsafe { self.tiny().realloc(ptr, layout, new_size) }
    }
}

/// The tiny global allocator for single-threaded WebAssembly: what
/// [`TalckWasm`](crate::TalckWasm) is with feature `tiny`.
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
pub type TinyWasm = TinyGlobal<crate::WasmMemory>;

#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
impl TinyGlobal<crate::WasmMemory> {
    /// The global allocator, to put in a `static`.
    ///
    /// # Safety
    /// As [`TalckWasm::new_global`](crate::TalckSingleThreaded::new_global):
    /// make it the program's `#[global_allocator]`, one per program.
    pub const unsafe fn new_global() -> Self {
        // SAFETY: single-threaded target, per this function's contract.
        unsafe { Self::new(crate::WasmMemory::new()) }
    }
}
