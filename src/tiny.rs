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
//!  region:     | chunk | chunk | ... | chunk | sentinel |
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
//! Fresh pages are zero (`LinearMemory`'s promise), so the new sentinel is
//! there already.
//!
//! # Free lists
//!
//! One doubly linked list per power of two (bin `k` holds sizes in
//! `[2^k, 2^(k+1))`), whose heads, a word each, are in the `Tiny` itself
//! (a null head is an empty list: nothing to set up). A chunk's `prev` link
//! is the `next` link that points to it, or, for the first chunk, its bin's
//! number, tagged with the low bit (so the `Tiny` may move), and unlinking
//! needs no bin number. The free top (the free chunk under the last
//! sentinel, which new pages join) is listed in the last bin whatever its
//! size.
//!
//! ```text
//!  heads: [ .. | b9 | b10 | .. | b31 (free top) ]
//!                 |
//!                 v
//!               chunk A (prev = 9<<1|1) --next--> chunk B (prev = &A.next) --> null
//! ```
//!
//! An allocation looks at the first chunk of each list, from the bin of
//! its size up, and takes the first that holds it: at most one chunk per
//! bin, so the work per request is bounded whatever the heap holds. Past
//! its own bin the first chunk of a list always holds a block that needs
//! no more than two words' alignment; so the free top serves only when no
//! other bin can, and stays whole for the growth that joins it. Memory
//! grows only when no free chunk *surely* holds the request (one in a
//! higher bin than the request plus its alignment's slack, or the free top
//! if big enough: `Tiny::surely_fits`, with `checks`); a chunk that would
//! hold it behind the first of its own bin is not looked for. A block is
//! cut from the bottom of its chunk (at the first aligned place), so that
//! what is left lies above it, where the block can grow into it in place.
//! `free` merges with both neighbours in O(1) time.
//!
//! `realloc` resizes in place whenever the block's chunk, with a free
//! chunk above it, holds the new size (a shrunk block gives its tail
//! back). A block at the top of the last region grows memory under
//! itself, and then keeps all it got: what is left over (less than a page)
//! would take the next small block, in its way. Any other block moves.
//!
//! The adversaries (`tests/tiny_review.rs`, `tests/tiny_break.rs`): a bin
//! whose first chunk is a little too small sends its requests to a bigger
//! bin, or to new memory, though a chunk behind it would do (memory, not
//! time: the report's *random* grows 1.15x dlmalloc's); a block made right
//! above a buffer that is later freed leaves a hole that only smaller
//! blocks reuse.
//!
//! # What it drops
//!
//! Against the full allocator ([`Talc`](crate::Talc)): the zeroed-memory
//! watermark (`alloc_zeroed` clears), counters and `stats`, heap management
//! (`claim`, `extend`, `truncate`), and the initial memory
//! (`__heap_base..__heap_end` stays unused: taking it costs about 100
//! bytes).

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::ptr::null_mut;

// The chunk layout is the core's (`crate::chunk`): a header word, links and
// a footer in free chunks, sizes in grains of two words.
use crate::chunk::{
    bin_link, chunk_size, get, link, linked_bin, sentinel_of, set, set_link, FLAGS, FREE, GRAIN,
    MIN_CHUNK, NEXT, PREV, PREV_FREE, WORD,
};
use crate::memory::{LinearMemory, WASM_PAGE_SIZE};

const BINS: usize = usize::BITS as usize;
/// Regions the `checks` walk follows.
#[cfg(feature = "checks")]
const MAX_REGIONS: usize = 64;

/// The tiny allocator over a [`LinearMemory`].
pub struct Tiny<M> {
    /// The bins' heads: the first chunk of each list, or null.
    heads: [*mut u8; BINS],
    /// The sentinel of the region added last, or null.
    top: *mut u8,
    /// Where that region ends: new pages that start there extend it (0
    /// before the first: no memory starts at address 0).
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

/// The bin of a chunk size (at least `MIN_CHUNK`): its highest bit. The
/// mask keeps indices provably in range (no bounds check in the code).
#[inline(always)]
fn bin_of(size: usize) -> usize {
    (usize::BITS - 1 - size.leading_zeros()) as usize & (BINS - 1)
}

/// Where the sentinel of a region that ends at `acme` goes.
#[inline(always)]
fn sentinel_at(acme: *mut u8) -> *mut u8 {
    acme.with_addr(sentinel_of(acme.addr()))
}

impl<M: LinearMemory> Tiny<M> {
    /// An allocator that grows `memory` when it needs to.
    pub const fn new(memory: M) -> Self {
        Self {
            heads: [null_mut(); BINS],
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

    /// Unlinks the free chunk `c` from its list.
    ///
    /// # Safety
    /// `c` is a listed free chunk.
    // Called from four places: one copy is smaller in wasm.
    #[inline(never)]
    unsafe fn unlink(&mut self, c: *mut u8) {
        // SAFETY: `c`'s links are valid: its `prev` is the link pointing to
        // it (a head's number, tagged, or a chunk's `next`), its `next` a
        // free chunk or null.
        unsafe {
            let next = link(c.add(NEXT));
            let prev = link(c.add(PREV));
            if let Some(bin) = linked_bin(prev) {
                self.heads[bin & (BINS - 1)] = next;
            } else {
                set_link(prev, next);
            }
            if !next.is_null() {
                set_link(next.add(PREV), prev);
            }
            // Every caller rewrites or absorbs the chunk. This write keeps
            // the chunk's address the argument: LLVM would otherwise have
            // each caller load its links and pass them (more bytes).
            set(c, 0);
        }
    }

    /// Frees the block at `ptr`.
    ///
    /// # Safety
    /// `ptr` was returned by this allocator's `malloc` or `realloc` and not
    /// freed since. (Inside, `ptr` may also be one word past a chunk header
    /// written for the purpose: a block's tail, a new region's chunk, or a
    /// region's sentinel, of size 0, with a free chunk below it, which is
    /// then filed anew.)
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
                self.unlink(above);
                size += above_head & !FLAGS;
            }
            if head & PREV_FREE != 0 {
                let below = get(c.sub(WORD));
                c = c.sub(below);
                self.unlink(c);
                size += below;
            }
            // The merged chunk: header, footer, and the flag above it. It
            // goes to its bin, or to the last bin if it is the free top
            // (under the last sentinel): searched last, the free top serves
            // a request only when no other chunk holds it, and stays whole
            // for the growth that joins it.
            set(c, size | FREE);
            set(c.add(size - WORD), size);
            let above = c.add(size);
            set(above, get(above) | PREV_FREE);
            let mut bin = bin_of(size);
            if above == self.top {
                bin = BINS - 1;
            }
            let next = self.heads[bin];
            set_link(c.add(NEXT), next);
            set_link(c.add(PREV), bin_link(bin));
            if !next.is_null() {
                set_link(next.add(PREV), c.add(NEXT));
            }
            self.heads[bin] = c;
        }
    }

    /// Makes `[c, c + size)` the allocated chunk of a block of `need` bytes
    /// (a chunk size), keeping the `PREV_FREE` flag of the word at `c`: the
    /// rest is freed when it can stand as a chunk, else it stays in the
    /// block.
    ///
    /// # Safety
    /// `[c, c + size)` is unused memory of this allocator (in no list), at
    /// least `need` bytes, below a chunk header; the chunk below `c` is
    /// free if the word at `c` has `PREV_FREE`, or is made free and flags
    /// `c` right after.
    unsafe fn occupy(&mut self, c: *mut u8, mut size: usize, need: usize) {
        // SAFETY: per the contract; the tail is a chunk of its own before
        // it is freed (merging with a free chunk above).
        unsafe {
            if size - need >= MIN_CHUNK {
                set(c.add(need), size - need);
                self.free(c.add(need + WORD));
                size = need;
            } else {
                let end = c.add(size);
                set(end, get(end) & !PREV_FREE);
            }
            set(c, size | get(c) & PREV_FREE);
        }
    }

    /// Allocates a block for `layout`, or returns null.
    pub fn malloc(&mut self, layout: Layout) -> *mut u8 {
        let align = layout.align();
        let need = chunk_size(layout.size());
        // Room to cut a chunk below the block for a large alignment. (A
        // grain more is in every growth: see `grow`.) No overflow: a
        // `Layout`'s size rounded up to its alignment is at most
        // `isize::MAX`, so `size + align <= isize::MAX + 1`.
        let want = need + align;
        // The free top counts for up to half the request in the first
        // growth; if the pages did not join it (someone else grew memory
        // first), the next growth holds the request by itself.
        let mut credit = want / 2;
        loop {
            let block = self.take(need, align);
            if !block.is_null() {
                return block;
            }
            if !self.grow(want, credit) {
                return null_mut();
            }
            credit = 0;
        }
    }

    /// Cuts a block of `need` bytes (a chunk size) aligned to `align` from
    /// a free chunk, or returns null when none holds it.
    fn take(&mut self, need: usize, align: usize) -> *mut u8 {
        // The first chunk that holds the block, from the request's own
        // bin up (past it, the first chunk of each bin holds any block
        // that needs no more than the grain's alignment; the free top is
        // in the last bin, whatever its size: see `free`).
        // One chunk per bin: the request's own bin may hold chunks too small
        // for it (its sizes differ by up to half), and a bin full of them
        // must not cost every request a walk.
        let mut bin = bin_of(need);
        while bin < BINS {
            // SAFETY: the lists hold free chunks.
            unsafe {
                let c = self.heads[bin];
                if !c.is_null() {
                    let size = get(c) & !FLAGS;
                    // The first aligned block start, with nothing below it
                    // or a free chunk's worth (chunks start a word past a
                    // grain, and a grain alone cannot stand as a chunk).
                    let mut below = c.addr().wrapping_add(WORD).wrapping_neg() & (align - 1);
                    if below == GRAIN {
                        below += align;
                    }
                    // No overflow: `below <= align + GRAIN`, and `need +
                    // align` is at most `isize::MAX + 1` and a few grains.
                    if below + need <= size {
                        self.unlink(c);
                        let block = c.add(below);
                        // (`unlink` zeroed the header at `c`; a block above
                        // a free chunk gets its flag when that is freed.)
                        self.occupy(block, size - below, need);
                        // What lies below an aligned block is freed (it
                        // flags the block's header).
                        if below != 0 {
                            set(c, below);
                            self.free(c.add(WORD));
                        }
                        return block.add(WORD);
                    }
                }
            }
            bin += 1;
        }
        null_mut()
    }

    /// Resizes the block at `ptr` to `new_size` bytes: in place when its
    /// chunk (and a free chunk above) holds them, else by moving it.
    /// Returns null, with the block untouched, when no memory is left.
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
            loop {
                let head = get(c);
                let have = head & !FLAGS;
                // How far the block can reach: its chunk, and a free one above.
                let above = c.add(have);
                let above_head = get(above);
                let mut room = have;
                if above_head & FREE != 0 {
                    room += above_head & !FLAGS;
                }
                if need <= room {
                    if room != have {
                        self.unlink(above);
                    }
                    // After growth under it the block keeps all it got.
                    self.occupy(c, room, if grown { room } else { need });
                    return ptr;
                }
                // At the top of the last region: grow exactly what the block
                // lacks there (the free top above it is in `room`), then
                // again in place; the block keeps all it gets. (When someone
                // else grew memory since, the new pages make a region of
                // their own, and the block moves.)
                if grown || c.add(room) != self.top {
                    break;
                }
                grown = true;
                if !self.grow(need - room, 0) {
                    break;
                }
            }
            let new = self.malloc(Layout::from_size_align_unchecked(new_size, layout.align()));
            if !new.is_null() {
                // Only a block that grows moves: `layout.size() < new_size`.
                core::ptr::copy_nonoverlapping(ptr, new, layout.size());
                self.free(ptr);
            }
            new
        }
    }

    /// Adds memory for a free chunk of `want` bytes, less what the free
    /// top will give when the new pages join it, up to `credit` bytes.
    /// Returns whether any was added.
    fn grow(&mut self, want: usize, credit: usize) -> bool {
        let top = self.top;
        // A free chunk below the last sentinel joins the new pages when they
        // follow it; `malloc` counts it for at most half the request, so
        // that a request creeping up by a little each time does not grow
        // memory each time.
        // SAFETY: `top` is the last region's sentinel, or null; a free
        // chunk below it has a footer.
        let free_top = !top.is_null() && unsafe { get(top) } & PREV_FREE != 0;
        let mut reused = 0;
        if free_top && self.acme == self.memory.end() {
            // SAFETY: as above.
            reused = unsafe { get(top.sub(WORD)) }.min(credit);
        }
        // Two grains for a region's ends and the 4 GiB end, one for the
        // chunk an aligned block may leave below it.
        // (`want` is at most `isize::MAX + 1` and a few grains: see
        // `malloc`; this does not overflow.)
        let bytes = want - reused + 3 * GRAIN;
        let Some(new) = self.memory.grow(bytes.div_ceil(WASM_PAGE_SIZE)) else { return false };
        // The chunk the new pages make, from `first` to a new sentinel. When
        // they follow the last region (never at address 0, so never before
        // the first), its sentinel becomes that chunk's header (keeping its
        // `PREV_FREE`), and freeing the chunk merges it with a free chunk
        // below. Else they make a region of their own.
        let sentinel = sentinel_at(new.acme());
        // The new free top goes to the last bin: the sentinel first.
        self.top = sentinel;
        let mut first = top;
        if new.base().addr() != self.acme {
            let base = new.base();
            first = base.wrapping_add(base.addr().wrapping_neg() & FLAGS).wrapping_add(WORD);
            #[cfg(feature = "checks")]
            if self.region_count < MAX_REGIONS {
                self.regions[self.region_count] = first;
                self.region_count += 1;
            }
            // The old region's free top, if any, moves to its size's bin: a
            // search looks at the last bin's first chunk only, which is the
            // new region's free top now. Freeing the old sentinel does it
            // (a chunk of size 0: it merges with the free chunk below it,
            // which is filed anew, and stays a sentinel).
            // (`top` is the old sentinel, whose `PREV_FREE` says a free
            // chunk lies below it.)
            if free_top {
                // SAFETY: see above.
                unsafe { self.free(top.add(WORD)) };
            }
        }
        self.acme = new.acme().addr();
        // SAFETY: the memory from `first` to the new sentinel is ours alone
        // (`LinearMemory`'s contract, or the old sentinel's word). New pages
        // are zero: the new sentinel's header (size 0, allocated) is there
        // already, and so is a new region's first header, whose flags read
        // as none (the old sentinel's keep its `PREV_FREE`).
        unsafe {
            set(first, (sentinel.addr() - first.addr()) | get(first) & PREV_FREE);
            self.free(first.add(WORD));
        }
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
    /// Whether a free chunk *surely* holds a block for `layout`: one in a
    /// bin above the bin of the block's chunk plus the most an alignment
    /// can leave below it (every chunk there holds the block), other than
    /// the last bin; or the first chunk of the last bin (the free top,
    /// unless a chunk of half the address space was freed after it), if it
    /// is as big. `malloc` grows memory only when this is false: the
    /// promise the tests and the fuzzer check. (A chunk that holds the
    /// block but not surely, behind the first of its bin, is not looked
    /// for: a search looks at one chunk per bin.)
    pub fn surely_fits(&self, layout: Layout) -> bool {
        let need = chunk_size(layout.size());
        let slack = if layout.align() > GRAIN { layout.align() + GRAIN } else { 0 };
        let Some(want) = need.checked_add(slack) else { return false };
        let above = bin_of(want) + 1;
        let last = self.heads[BINS - 1];
        // SAFETY: a listed chunk is free, with a valid header.
        (above..BINS - 1).any(|b| !self.heads[b].is_null())
            || !last.is_null() && unsafe { get(last) } & !FLAGS >= want
    }

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
                // Each chunk's `prev` is the link that points to it: the
                // first's is its bin's number, tagged.
                let mut prev: *mut u8 = bin_link(bin);
                let mut c = self.heads[bin];
                while !c.is_null() {
                    let h = get(c);
                    assert_ne!(h & FREE, 0, "allocated chunk {c:p} in bin {bin}");
                    // The last bin holds the free top (the free chunk under
                    // the last sentinel) and chunks of its own sizes only:
                    // a former region's free top moves to its size's bin.
                    let size = h & !FLAGS;
                    let top = c.add(size) == self.top;
                    assert!(
                        if bin == BINS - 1 {
                            top || bin_of(size) == bin
                        } else {
                            !top && bin_of(size) == bin
                        },
                        "chunk {c:p} in the wrong bin"
                    );
                    assert_eq!(link(c.add(PREV)).addr(), prev.addr(), "back link of {c:p}");
                    prev = c.add(NEXT);
                    listed += 1;
                    c = link(prev);
                }
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
// Its `new_global`, like the core's, is in `global.rs`, beside that choice.
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
pub type TinyWasm = TinyGlobal<crate::WasmMemory>;
