//! [`Talc`]: the allocator core.
//!
//! A heap is tiled by chunks, bottom to top (their layout: [`crate::chunk`]),
//! and ends with a one-word *sentinel*, an allocated header of size 0, so
//! the top chunk always has an upper neighbour to look at. Free chunks are
//! listed in bins by size ([`crate::bins`]), whose heads live in the `Talc`.
//!
//! ```text
//!  heap:  | alloc | free ... | alloc | alloc | free top ........ | sentinel |
//!           ^ chunks start one word past a grain, so payloads are grain aligned
//! ```
//!
//! Allocation looks at the first two chunks of the request's bin, then at
//! the first chunk of the next non-empty bin (which surely fits), and cuts
//! the block from the bottom of the chunk: what is left above goes back to
//! the bins when it can stand as a chunk, and lies where the block can grow
//! in place. Freeing merges with free neighbours at once, so no two free
//! chunks touch.

use core::alloc::Layout;
use core::ptr::{null_mut, NonNull};

use crate::bins::{bin_of, BIN_COUNT, LAST_SIZE_BIN, TOP_BIN};
use crate::chunk::{
    self, bin_link, chunk_size, get, link, linked_bin, set, set_link, FREE, GRAIN, MIN_CHUNK, NEXT,
    PREV, PREV_FREE,
};
use crate::oom::OomHandler;
use crate::span::Span;

pub(crate) use crate::chunk::{sentinel_of, WORD};

/// The allocator core: manages the memory it is given; owns none.
///
/// Hand it memory with [`init`](Talc::init) or [`claim`](Talc::claim) (or
/// let its [`OomHandler`] do so on demand), then allocate. To use it as a
/// global allocator, wrap it with [`lock`](Talc::lock).
///
/// ```
/// use core::alloc::Layout;
/// use talcum::{ErrOnOom, Span, Talc};
///
/// let mut memory = [0u64; 1024];
/// let mut talc = Talc::new(ErrOnOom);
/// // SAFETY: `memory` outlives `talc` and is used for nothing else.
/// unsafe { talc.init(Span::from(&mut memory)).unwrap() };
///
/// let layout = Layout::from_size_align(100, 8).unwrap();
/// // SAFETY: the pointer is freed once, with its layout.
/// unsafe {
///     let p = talc.malloc(layout).unwrap();
///     p.as_ptr().write_bytes(7, 100);
///     talc.free(p, layout);
/// }
/// ```
///
/// Safe code cannot break what `Talc`'s unsafe code relies on. Its handler
/// is private: swapping the handlers of two `Talc`s (whose state may
/// describe their heaps) takes `unsafe`:
///
/// ```compile_fail
/// # use talcum::{ErrOnOom, Talc};
/// let (mut a, mut b) = (Talc::new(ErrOnOom), Talc::new(ErrOnOom));
/// core::mem::swap(&mut a.oom_handler, &mut b.oom_handler); // error: private field
/// ```
///
/// and a `Talc` behind a [`Talck`](crate::Talck) cannot be replaced by safe
/// code while blocks allocated from it are live (see
/// [`TalckGuard`](crate::TalckGuard)).
pub struct Talc<O: OomHandler> {
    /// The handler called when no free chunk fits a request. Private: safe
    /// code must not swap a handler into another `Talc` (see
    /// [`oom_handler_mut`](Talc::oom_handler_mut)).
    pub(crate) oom_handler: O,
    /// The bins' lists: each bin's first free chunk, or null.
    heads: [*mut u8; BIN_COUNT],
    /// Bit `b` is set exactly when bin `b` is not empty.
    avail: u64,
    /// The first heap.
    arena: Span,
    /// The acme of the heap most recently added, as it now is (it moves when
    /// that heap is extended or truncated; null when truncated away): the
    /// heap an OOM handler may grow upward.
    last_top: *mut u8,
    /// Memory of the last heap known to hold zeros: every byte from
    /// `fresh + 3 * WORD` up to the free top's last word (the word below the
    /// sentinel, `sentinel_of(last_top) - WORD`) is zero. Pages fresh from the OOM handler arrive zeroed, and
    /// only the free top reaches into them; a block cut from it moves this
    /// up past the block, so `malloc_zeroed` clears only what lies below.
    /// At or past `last_top`: nothing is known.
    pub(crate) fresh: usize,
    /// `fresh` before the last allocation moved it (0 if that allocation did
    /// not), for `malloc_zeroed`. (0 rather than a far address: a `Talc`
    /// from [`new`](Talc::new) is all zero bytes, so a static one costs no
    /// data in a wasm module.)
    fresh_was: usize,
    /// Feature `fast`: the front end's lists of held chunks, one per class
    /// (see [`crate::front`]).
    #[cfg(feature = "fast")]
    pub(crate) held: [*mut u8; crate::front::CLASSES],
    /// Feature `fast`: the blocks allocated and not freed.
    #[cfg(feature = "fast")]
    live_blocks: usize,
    #[cfg(feature = "counters")]
    pub(crate) counters: crate::counters::Counters,
    #[cfg(feature = "checks")]
    pub(crate) heaps: crate::checks::HeapList,
    #[cfg(feature = "stats")]
    pub(crate) stats: crate::stats::StatsState,
}

// SAFETY: `Talc` holds raw pointers into memory it was handed with the
// promise (in `init`/`claim`'s contracts) that it alone uses it; moving it
// to another thread moves that exclusive use along.
unsafe impl<O: OomHandler + Send> Send for Talc<O> {}

impl<O: OomHandler> core::fmt::Debug for Talc<O> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Talc").field("arena", &self.arena).field("avail", &self.avail).finish()
    }
}

impl<O: OomHandler> Talc<O> {
    /// A `Talc` with no memory yet; it asks `oom_handler` when it needs some.
    pub const fn new(oom_handler: O) -> Self {
        Self {
            oom_handler,
            heads: [null_mut(); BIN_COUNT],
            avail: 0,
            arena: Span::empty(),
            last_top: null_mut(),
            fresh: 0,
            fresh_was: 0,
            #[cfg(feature = "fast")]
            held: [null_mut(); crate::front::CLASSES],
            #[cfg(feature = "fast")]
            live_blocks: 0,
            #[cfg(feature = "counters")]
            counters: crate::counters::Counters::new(),
            #[cfg(feature = "checks")]
            heaps: crate::checks::HeapList::new(),
            #[cfg(feature = "stats")]
            stats: crate::stats::StatsState::new(),
        }
    }

    /// A `Talc` with `arena` as its first heap. If the arena is too small
    /// (see [`init`](Talc::init)), the `Talc` starts with no memory, as from
    /// [`new`](Talc::new).
    ///
    /// # Safety
    /// As for [`init`](Talc::init).
    pub unsafe fn with_arena(oom_handler: O, arena: Span) -> Self {
        let mut talc = Self::new(oom_handler);
        // SAFETY: forwarded to the caller.
        let _ = unsafe { talc.init(arena) };
        talc
    }

    // ----- free chunks -----

    /// Makes `[c, c + size)` a free chunk and lists it in its bin; the
    /// chunk above learns that a free chunk lies below it.
    ///
    /// # Safety
    /// `[c, c + size)` must be unused heap memory (in no list) of at least
    /// `MIN_CHUNK` bytes, a grain multiple, with an allocated chunk (or the
    /// heap's base) below it and an allocated chunk's header at `c + size`.
    // Called from several places: one copy is smaller in wasm.
    #[inline(never)]
    unsafe fn file(&mut self, c: *mut u8, size: usize) {
        // The free top of the last heap (under its sentinel) is kept apart,
        // for when nothing else fits: see `bins`.
        let above = c.wrapping_add(size);
        let bin =
            if above.addr() == sentinel_of(self.last_top.addr()) { TOP_BIN } else { bin_of(size) };
        // SAFETY: the caller hands over the chunk and the header above it;
        // a listed chunk's links are valid.
        unsafe {
            set(c, size | FREE);
            set(above.sub(WORD), size);
            set(above, get(above) | PREV_FREE);
            let next = self.heads[bin];
            set_link(c.add(NEXT), next);
            set_link(c.add(PREV), bin_link(bin));
            if next.is_null() {
                self.avail |= 1 << bin;
            } else {
                set_link(next.add(PREV), c.add(NEXT));
            }
        }
        self.heads[bin] = c;
        #[cfg(feature = "counters")]
        self.counters.free_chunk_added(size);
        #[cfg(feature = "stats")]
        self.stats.free_changed(size, size);
    }

    /// Takes the free chunk `c` out of its list, and zeroes its header.
    ///
    /// # Safety
    /// `c` must be a listed free chunk.
    // Called from several places: one copy is smaller in wasm.
    #[inline(never)]
    unsafe fn unlink(&mut self, c: *mut u8) {
        // SAFETY: `c`'s links are valid: `prev` is the `next` link pointing
        // to it or its bin's number, `next` a listed chunk or null.
        unsafe {
            let next = link(c.add(NEXT));
            let prev = link(c.add(PREV));
            if let Some(bin) = linked_bin(prev) {
                let bin = bin & (BIN_COUNT - 1);
                self.heads[bin] = next;
                if next.is_null() {
                    self.avail &= !(1 << bin);
                }
            } else {
                set_link(prev, next);
            }
            if !next.is_null() {
                set_link(next.add(PREV), prev);
            }
            #[cfg(any(feature = "counters", feature = "stats"))]
            {
                let size = chunk::size_of(get(c));
                #[cfg(feature = "counters")]
                self.counters.free_chunk_removed(size);
                #[cfg(feature = "stats")]
                self.stats.free_changed(size, size.wrapping_neg());
            }
            // Every caller rewrites or absorbs the chunk. This write keeps
            // the chunk's address the argument: LLVM would otherwise have
            // each caller load its links and pass them (more bytes).
            set(c, 0);
        }
    }

    /// Frees the chunk at `c`, merging it with free neighbours; returns the
    /// size of the free chunk it became part of.
    ///
    /// # Safety
    /// `c` must start an allocated chunk of a heap (its header says its
    /// size, at least `MIN_CHUNK` unless a free chunk below joins it, and
    /// whether the chunk below is free), not the heap's sentinel.
    // One copy, shared by free and heap growth: smaller wasm.
    #[inline(never)]
    pub(crate) unsafe fn release(&mut self, mut c: *mut u8) -> usize {
        // SAFETY: the neighbours are read through the invariants: a header
        // lies above every chunk; a free chunk below ends with its footer.
        unsafe {
            let head = get(c);
            let mut size = chunk::size_of(head);
            let above = c.add(size);
            let above_head = get(above);
            if above_head & FREE != 0 {
                self.unlink(above);
                size += chunk::size_of(above_head);
            }
            if head & PREV_FREE != 0 {
                let below = get(c.sub(WORD));
                c = c.sub(below);
                self.unlink(c);
                size += below;
            }
            self.file(c, size);
            size
        }
    }

    /// Makes `[c, c + room)` the allocated chunk of a block that needs
    /// `need` bytes (a chunk size), its header flagged `prev_free` (0 or
    /// `PREV_FREE`): the rest goes back to the bins when it can stand as a
    /// chunk, else stays in the block.
    ///
    /// # Safety
    /// `[c, c + room)` must be unused heap memory (in no list) of at least
    /// `need` bytes below an allocated chunk's header; `prev_free` must be
    /// `PREV_FREE` if the chunk below is free (else it is made free, flagging
    /// `c`, right after).
    #[inline]
    unsafe fn occupy(&mut self, c: *mut u8, mut room: usize, need: usize, prev_free: usize) {
        // SAFETY: per the contract: the tail lies in `[c, c + room)`, above
        // an allocated chunk (this one) and below an allocated header.
        unsafe {
            if room - need >= MIN_CHUNK {
                self.file(c.add(need), room - need);
                room = need;
            } else {
                let end = c.add(room);
                set(end, get(end) & !PREV_FREE);
            }
            set(c, room | prev_free);
        }
        // The block may reach into memory known to be zero: not now.
        let end = c.addr() + room;
        if end > self.fresh {
            self.fresh_was = self.fresh;
            self.fresh = end;
        }
    }

    // ----- allocation -----

    /// Allocates memory for `layout`.
    ///
    /// Returns `Err(())` when no memory can be found and the OOM handler
    /// cannot add any; an impossible layout (say, a size near
    /// `isize::MAX`) always fails this way. A zero size is allowed and gets
    /// a unique pointer that must be freed like any other.
    ///
    /// The OOM handler is called only when no free chunk *surely* fits: a
    /// chunk of a size bin above the bin of the request's chunk size plus
    /// its alignment's padding (every chunk there fits), or a chunk that
    /// fits and is the last heap's free top or lies in the last size bin
    /// (sizes from 1 MiB on wasm32, 2 MiB on 64-bit targets, with no upper
    /// bound: that bin is looked at whole). A fitting chunk among too-small
    /// ones in another bin whose chunks may or may not fit (their sizes are
    /// within a quarter of each other) is found when it is among the first
    /// two looked at; deeper ones are not looked for, so that the work per
    /// request stays bounded, also while memory grows: two chunks per bin,
    /// and in the last size bin at most one per 1 MiB (2 MiB) of free
    /// memory. (`checks` offers this promise as an oracle, `surely_fits`.)
    ///
    /// # Safety
    /// The memory handed to this `Talc` must still be valid (see
    /// [`init`](Talc::init) and [`claim`](Talc::claim)).
    #[cfg_attr(feature = "fast", inline(always))]
    pub unsafe fn malloc(&mut self, layout: Layout) -> Result<NonNull<u8>, ()> {
        // The front end's pop (feature `fast`), inlined where the allocator
        // is called; the search out of line. (The search never pops: giving
        // held blocks back only empties the lists.)
        #[cfg(feature = "fast")]
        {
            // SAFETY: the held lists are kept by `crate::front`.
            let p = unsafe { self.pop_held(chunk_size(layout.size()), layout.align()) };
            if let Some(ptr) = NonNull::new(p) {
                self.allocated(layout);
                return Ok(ptr);
            }
        }
        // SAFETY: forwarded to the caller.
        unsafe { self.malloc_searched(layout) }
    }

    /// What every successful allocation records.
    #[inline(always)]
    fn allocated(&mut self, layout: Layout) {
        #[cfg(feature = "fast")]
        {
            self.live_blocks += 1;
        }
        #[cfg(feature = "counters")]
        self.counters.allocated(layout.size());
        #[cfg(feature = "stats")]
        self.stats_changed();
        #[cfg(feature = "checks")]
        self.check();
        let _ = layout;
    }

    /// [`malloc`](Talc::malloc) past the front end's pop.
    ///
    /// # Safety
    /// As for `malloc`.
    #[cfg_attr(feature = "fast", inline(never))]
    unsafe fn malloc_searched(&mut self, layout: Layout) -> Result<NonNull<u8>, ()> {
        let need = chunk_size(layout.size());
        loop {
            // SAFETY: the heaps are valid by this function's contract.
            if let Some(ptr) = NonNull::new(unsafe { self.take(need, layout.align()) }) {
                self.allocated(layout);
                return Ok(ptr);
            }
            // Held blocks go back to the core before memory grows.
            // SAFETY: as above.
            #[cfg(feature = "fast")]
            if unsafe { self.release_held_for(surely_holds(need, layout.align())) } {
                continue;
            }
            self.out_of_memory(layout)?;
        }
    }

    /// A block of `need` bytes (a chunk size) aligned to `align`: a held
    /// one of exactly that size (feature `fast`), else one cut by
    /// [`take`](Talc::take); or null.
    ///
    /// # Safety
    /// As for `take`.
    #[inline(always)]
    unsafe fn pick(&mut self, need: usize, align: usize) -> *mut u8 {
        #[cfg(feature = "fast")]
        {
            // SAFETY: the held lists are kept by `crate::front`.
            let p = unsafe { self.pop_held(need, align) };
            if !p.is_null() {
                return p;
            }
        }
        // SAFETY: forwarded to the caller.
        unsafe { self.take(need, align) }
    }

    /// The OOM handler, called from one place (smaller wasm: it is inlined
    /// otherwise at each of `malloc`'s and `realloc`'s calls).
    #[inline(never)]
    fn out_of_memory(&mut self, layout: Layout) -> Result<(), ()> {
        let result = O::handle_oom(self, layout);
        // A failed handler fails the allocation (or reallocation).
        #[cfg(feature = "stats")]
        if result.is_err() {
            self.stats_failed();
        }
        result
    }

    /// Cuts a block of `need` bytes (a chunk size) aligned to `align` from
    /// the first free chunk that holds it, or returns null when none of
    /// those looked at does.
    ///
    /// Bins at or above the request's own, upward: every chunk in a higher
    /// bin holds a block that needs no more than a grain's alignment, so
    /// the search rarely goes past one chunk. Past a grain's alignment, a
    /// chunk in a bin between holds it if the block lands aligned in it:
    /// those bins are looked at a few chunks deep too, so blocks of an
    /// aligned layout reuse their holes. The heap's free top, the last bin,
    /// comes last.
    ///
    /// # Safety
    /// The heaps must be valid; `need` a chunk size, `align` a power of two.
    // Shared by `malloc` and `realloc`: one copy is smaller in wasm.
    #[inline(never)]
    unsafe fn take(&mut self, need: usize, align: usize) -> *mut u8 {
        let mut bins = self.avail & (u64::MAX << bin_of(need));
        while bins != 0 {
            let bin = bins.trailing_zeros() as usize & (BIN_COUNT - 1);
            // The bit is set: the bin holds a chunk.
            let mut c = self.heads[bin];
            let mut looked = false;
            loop {
                #[cfg(feature = "counters")]
                {
                    self.counters.chunks_looked_at += 1;
                }
                // SAFETY: `c` is a listed free chunk: its header and links
                // are valid, and it lies in a heap.
                unsafe {
                    let size = chunk::size_of(get(c));
                    // The first aligned block start, with nothing below it
                    // or a free chunk's worth (chunks start a word past a
                    // grain; a grain alone cannot stand as a chunk). For a
                    // grain's alignment or less this is always 0.
                    let mut below = (c.addr() + WORD).wrapping_neg() & (align - 1);
                    if below == GRAIN {
                        below += align;
                    }
                    // No overflow: `below <= align + GRAIN`, and `need` is a
                    // `Layout`'s size rounded up a grain or two.
                    if below + need <= size {
                        self.unlink(c);
                        let block = c.add(below);
                        // Below the block: an allocated chunk (`c` was
                        // free), or the free chunk filed below, which sets
                        // the flag. (The word at `block` past `c` may never
                        // have been written: it is not read.)
                        self.occupy(block, size - below, need, 0);
                        if below != 0 {
                            self.file(c, below);
                        }
                        return block.add(WORD);
                    }
                    // Two chunks per bin (the first may be a little too
                    // small: a second look finds most fits behind it, and
                    // costs a chunk-sized hole less where it does), but for
                    // the last size bin, which has no upper bound: its
                    // chunks may be far apart, so it is walked whole. Only a
                    // request of that bin's sizes itself gets past its first
                    // chunk (any chunk there holds a smaller one), and its
                    // chunks are huge: at most one look per 1 MiB of free
                    // memory (2 MiB on 64-bit targets).
                    if looked && bin != LAST_SIZE_BIN {
                        break;
                    }
                    looked = true;
                    c = link(c.add(NEXT));
                    if c.is_null() {
                        break;
                    }
                }
            }
            bins &= bins - 1;
        }
        null_mut()
    }

    /// Allocates zeroed memory for `layout`: as [`malloc`](Talc::malloc),
    /// with every byte of the block zero. Memory fresh from the OOM handler
    /// (whose pages arrive zeroed, as WebAssembly's do) is not cleared again:
    /// only what was used before is.
    ///
    /// # Safety
    /// As for [`malloc`](Talc::malloc).
    pub unsafe fn malloc_zeroed(&mut self, layout: Layout) -> Result<NonNull<u8>, ()> {
        self.fresh_was = 0;
        // SAFETY: forwarded to the caller.
        let ptr = unsafe { self.malloc(layout)? };
        let (start, end) = (ptr.as_ptr().addr(), ptr.as_ptr().addr() + layout.size());
        // If the block was cut from the last heap's free top where zeros are
        // known: below `fresh_was + 3 words` it may hold old bytes; above,
        // zeros, but for the free top's last word if the block took it.
        // (No last heap: nothing is known; `sentinel_of` wraps for null.)
        let top_sentinel = sentinel_of(self.last_top.addr());
        let dirty_end = if self.fresh_was == 0 || end > top_sentinel || self.last_top.is_null() {
            end
        } else {
            self.fresh_was.saturating_add(3 * WORD).clamp(start, end)
        };
        // SAFETY: the block is ours, `layout.size()` bytes from `ptr`.
        unsafe {
            ptr.as_ptr().write_bytes(0, dirty_end - start);
            let last_word = top_sentinel.wrapping_sub(WORD);
            if (dirty_end..end).contains(&last_word) {
                ptr.as_ptr().add(last_word - start).write_bytes(0, WORD.min(end - last_word));
            }
        }
        Ok(ptr)
    }

    /// The chunk of the live block at `ptr`.
    #[inline(always)]
    fn chunk_of(ptr: NonNull<u8>) -> *mut u8 {
        // The caller's pointer may only cover its payload (a `Box` narrows
        // it so); the heap's own metadata is reached through the heap's
        // provenance, exposed when the heap was claimed.
        heap_ptr(ptr.as_ptr().addr() - WORD)
    }

    /// Frees the allocation at `ptr`.
    ///
    /// # Safety
    /// `ptr` must have been returned by this `Talc` with `layout` (or, for
    /// `layout`, the latest size it was grown or shrunk to) and not freed
    /// since.
    pub unsafe fn free(&mut self, ptr: NonNull<u8>, layout: Layout) {
        #[cfg(feature = "checks")]
        self.check_allocation(ptr, layout);
        // With feature `fast`, the last live block's free gives back every
        // held block too: a program that frees all it made leaves one
        // merged heap behind, as without the front end, and its next run
        // starts from it.
        #[cfg(feature = "fast")]
        {
            self.live_blocks = self.live_blocks.wrapping_sub(1);
            let last = self.live_blocks == 0;
            // SAFETY: forwarded to the caller; the heaps are valid.
            unsafe {
                self.free_held_or_not(ptr, layout, !last);
                if last {
                    self.release_held();
                }
            }
        }
        // SAFETY: forwarded to the caller.
        #[cfg(not(feature = "fast"))]
        unsafe {
            self.free_held_or_not(ptr, layout, true)
        };
    }

    /// [`free`](Talc::free) past the checks of `ptr`; with feature `fast`,
    /// a small block is held by the front end when `may_hold`, else freed
    /// to the core at once.
    ///
    /// # Safety
    /// As for `free`.
    #[inline(always)]
    unsafe fn free_held_or_not(&mut self, ptr: NonNull<u8>, layout: Layout, may_hold: bool) {
        let c = Self::chunk_of(ptr);
        // SAFETY: `ptr` is live: its header is right below it. A held
        // chunk stays allocated for the core (`crate::front`).
        unsafe {
            #[cfg(feature = "fast")]
            let held = may_hold && self.hold(c);
            #[cfg(not(feature = "fast"))]
            let held = {
                let _ = may_hold;
                false
            };
            if !held {
                self.release(c);
            }
        }
        #[cfg(feature = "counters")]
        self.counters.freed(layout.size());
        #[cfg(feature = "stats")]
        self.stats_changed();
        #[cfg(feature = "checks")]
        self.check();
        let _ = layout;
    }

    /// Resizes the allocation at `ptr` to `new_size` bytes without moving
    /// it: the chunk's end moves down (a tail big enough to stand goes back
    /// to the bins) or up into a free chunk above. Returns whether it could.
    ///
    /// # Safety
    /// `ptr` must be a live allocation of this `Talc`.
    unsafe fn resize_in_place(&mut self, ptr: NonNull<u8>, new_size: usize) -> bool {
        let c = Self::chunk_of(ptr);
        // A size within the room stays within it rounded up: `room` is a
        // grain multiple. (`new_size` may be any `usize`: `chunk_size`
        // would overflow past `isize::MAX`, so compare first.)
        // SAFETY: `ptr` is live: its header, and the chunk above, are valid.
        unsafe {
            let head = get(c);
            let have = chunk::size_of(head);
            let above = c.add(have);
            let above_head = get(above);
            let mut room = have;
            if above_head & FREE != 0 {
                room += chunk::size_of(above_head);
            }
            if new_size > room - WORD {
                return false;
            }
            if room != have {
                self.unlink(above);
            }
            self.occupy(c, room, chunk_size(new_size), head & PREV_FREE);
        }
        true
    }

    /// Grows the allocation at `ptr` to `new_size` bytes without moving it,
    /// if the chunk has room or the chunk above is free and big enough.
    /// Returns `ptr`, or `Err(())` when it cannot grow in place. A smaller
    /// `new_size` always succeeds, as [`shrink`](Talc::shrink).
    ///
    /// # Safety
    /// `ptr` must be a live allocation of this `Talc` with `old_layout`.
    pub unsafe fn grow_in_place(
        &mut self,
        ptr: NonNull<u8>,
        old_layout: Layout,
        new_size: usize,
    ) -> Result<NonNull<u8>, ()> {
        #[cfg(feature = "checks")]
        self.check_allocation(ptr, old_layout);
        // SAFETY: forwarded to the caller.
        if !unsafe { self.resize_in_place(ptr, new_size) } {
            return Err(());
        }
        #[cfg(feature = "counters")]
        self.counters.resized(old_layout.size(), new_size);
        #[cfg(feature = "stats")]
        self.stats_changed();
        #[cfg(feature = "checks")]
        self.check();
        let _ = old_layout;
        Ok(ptr)
    }

    /// Shrinks the allocation at `ptr` to `new_size` bytes, in place; a
    /// large enough tail goes back to the bins.
    ///
    /// # Safety
    /// `ptr` must be a live allocation of this `Talc` with `layout`, and
    /// `new_size <= layout.size()`.
    pub unsafe fn shrink(&mut self, ptr: NonNull<u8>, layout: Layout, new_size: usize) {
        // Shrinking in place always succeeds.
        // SAFETY: forwarded to the caller.
        let _ = unsafe { self.grow_in_place(ptr, layout, new_size) };
    }

    /// Grows the allocation at `ptr` to `new_size` bytes: in place when
    /// possible, else by allocating anew, copying `old_layout.size()` bytes
    /// and freeing the old allocation. The alignment is kept.
    ///
    /// # Safety
    /// `ptr` must be a live allocation of this `Talc` with `old_layout`, and
    /// `new_size >= old_layout.size()`. On success the old pointer must no
    /// longer be used, unless it was returned.
    pub unsafe fn grow(
        &mut self,
        ptr: NonNull<u8>,
        old_layout: Layout,
        new_size: usize,
    ) -> Result<NonNull<u8>, ()> {
        // SAFETY: forwarded to the caller.
        unsafe { self.realloc(ptr, old_layout, new_size) }
    }

    /// Resizes the allocation at `ptr` to `new_size` bytes, keeping its
    /// alignment and its first `min(old, new)` bytes. Shrinking never moves.
    ///
    /// # Safety
    /// `ptr` must be a live allocation of this `Talc` with `old_layout`. On
    /// success the old pointer must no longer be used, unless it was returned.
    pub unsafe fn realloc(
        &mut self,
        ptr: NonNull<u8>,
        old_layout: Layout,
        new_size: usize,
    ) -> Result<NonNull<u8>, ()> {
        // The alignment is a layout's, so a power of two: only the size can
        // make the new layout invalid.
        if new_size > isize::MAX as usize + 1 - old_layout.align() {
            // A failure like any other for the figures.
            #[cfg(feature = "stats")]
            self.stats_failed();
            return Err(());
        }
        // SAFETY: forwarded to the caller; the new size is valid.
        unsafe { self.realloc_valid(ptr, old_layout, new_size) }
    }

    /// [`realloc`](Talc::realloc) to a size known to be valid: what
    /// `GlobalAlloc::realloc` promises.
    ///
    /// # Safety
    /// As for `realloc`, and `new_size` rounded up to `old_layout.align()`
    /// must be at most `isize::MAX`.
    #[inline]
    pub(crate) unsafe fn realloc_valid(
        &mut self,
        ptr: NonNull<u8>,
        old_layout: Layout,
        new_size: usize,
    ) -> Result<NonNull<u8>, ()> {
        // In place whenever possible (always, when shrinking), else moved to
        // a free chunk that fits. When none does and the block ends at the
        // top of the last heap, the OOM handler is asked for what the block
        // lacks there, less the free top: if the memory it adds extends
        // that heap, the block grows in place (a `Vec` growing at the top
        // of the heap is never copied). Else the block moves to memory
        // the handler adds for it.
        // SAFETY: forwarded to the caller; the caller promises a valid size;
        // a new block is distinct from the live old one; the copy fits both.
        unsafe {
            if let Ok(ptr) = self.grow_in_place(ptr, old_layout, new_size) {
                return Ok(ptr);
            }
            let new_layout = Layout::from_size_align_unchecked(new_size, old_layout.align());
            let need = chunk_size(new_size);
            let mut tried_top = false;
            let new = loop {
                if let Some(new) = NonNull::new(self.pick(need, old_layout.align())) {
                    #[cfg(feature = "counters")]
                    self.counters.allocated(new_size);
                    break new;
                }
                // Held blocks go back first; one may lie right above the
                // block, which then grows in place.
                #[cfg(feature = "fast")]
                if self.release_held_for(surely_holds(need, old_layout.align())) {
                    if let Ok(ptr) = self.grow_in_place(ptr, old_layout, new_size) {
                        return Ok(ptr);
                    }
                    continue;
                }
                match self.room_at_last_top(ptr) {
                    Some(own) if !tried_top && self.oom_handler.extends_heap_at(self.last_top) => {
                        tried_top = true;
                        // What the block lacks above its own chunk (the free
                        // top counts), but at least half its new size, as the
                        // handler grows for a request: a block grown a little
                        // at a time does not grow memory every time.
                        let lack = (new_size - own).max(new_size / 2);
                        let lack = Layout::from_size_align_unchecked(lack, WORD);
                        self.out_of_memory(lack)?;
                        if let Ok(ptr) = self.grow_in_place(ptr, old_layout, new_size) {
                            return Ok(ptr);
                        }
                    }
                    _ => self.out_of_memory(new_layout)?,
                }
            };
            new.as_ptr().copy_from_nonoverlapping(ptr.as_ptr(), old_layout.size().min(new_size));
            // The old block goes to the core, not the front end: it merges
            // at once, so a block that grows again finds room (a vector
            // growing step by step would otherwise leave each old buffer
            // held, kept apart from the free memory around it).
            self.free_held_or_not(ptr, old_layout, false);
            Ok(new)
        }
    }

    /// The bytes from the live block at `ptr` to the end of its chunk, if
    /// nothing but free memory lies above that, up to the last heap's
    /// sentinel.
    ///
    /// # Safety
    /// `ptr` must be a live allocation of this `Talc`.
    unsafe fn room_at_last_top(&self, ptr: NonNull<u8>) -> Option<usize> {
        let c = Self::chunk_of(ptr);
        // SAFETY: `ptr` is live: its header, and the chunk above, are valid.
        unsafe {
            let acme = c.add(chunk::size_of(get(c)));
            let above_head = get(acme);
            let reach =
                if above_head & FREE != 0 { acme.add(chunk::size_of(above_head)) } else { acme };
            (reach.addr() == sentinel_of(self.last_top.addr()))
                .then(|| acme.addr() - ptr.as_ptr().addr())
        }
    }

    // ----- heaps -----

    /// Forgets every heap and allocation, then makes `arena` the first heap.
    ///
    /// Returns the heap: `arena` shrunk inward to words, its base to where a
    /// chunk can start (a word past a grain boundary, two words) and lifted
    /// off address 0; or `Err(())`, with no heap, when that is too small for
    /// a free chunk of four words and the sentinel. After an
    /// `Err` the `Talc` has no memory, as from [`new`](Talc::new): an OOM
    /// handler that grows memory starts afresh.
    ///
    /// # Safety
    /// `arena` must be valid for reads and writes, and used by nothing else,
    /// for as long as this `Talc` uses it (until it is dropped, re-`init`ed,
    /// or the memory is `truncate`d away). Allocations made before this call
    /// must no longer be used.
    pub unsafe fn init(&mut self, arena: Span) -> Result<Span, ()> {
        self.heads = [null_mut(); BIN_COUNT];
        #[cfg(feature = "fast")]
        {
            self.held = [null_mut(); crate::front::CLASSES];
            self.live_blocks = 0;
        }
        self.avail = 0;
        self.arena = Span::empty();
        self.last_top = null_mut();
        self.fresh = 0;
        #[cfg(feature = "counters")]
        {
            self.counters = crate::counters::Counters::new();
        }
        #[cfg(feature = "checks")]
        self.heaps.clear();
        #[cfg(feature = "stats")]
        {
            self.stats.clear_heaps();
            self.stats_changed();
        }
        // SAFETY: forwarded to the caller.
        unsafe { self.claim(arena) }
    }

    /// Adds `memory` as a separate heap and returns it (shrunk inward as for
    /// [`init`](Talc::init)). If there is no arena yet, this heap becomes the
    /// arena. Returns `Err(())`, and touches nothing, when the memory is
    /// too small: under a free chunk of four words and the sentinel.
    ///
    /// # Safety
    /// `memory` must be valid for reads and writes, used by nothing else,
    /// and must not overlap any heap of this `Talc`, for as long as this
    /// `Talc` uses it.
    pub unsafe fn claim(&mut self, memory: Span) -> Result<Span, ()> {
        let heap = heap_span(memory);
        if !holds_a_chunk(heap) {
            return Err(());
        }
        // SAFETY: the heap is ours, aligned as chunks need, off address 0
        // and big enough; it is not the continuation of another heap (`top`
        // is null).
        unsafe { self.add_memory(null_mut(), heap.base(), heap.acme(), false) };
        Ok(heap)
    }

    /// Makes the fresh memory `[base, acme)` part of the heaps: the new top
    /// of the heap ending at `top` when `base == top`, else a heap of its own
    /// (from `base` lifted to a word past a grain boundary), which becomes
    /// the arena if there is none yet. Returns `acme`.
    ///
    /// Every access to the memory goes through the provenance exposed here
    /// and by earlier calls (see [`heap_ptr`]): `base`'s covers the new
    /// memory, and an extended heap's old sentinel, which the new free chunk
    /// takes over, was exposed when that heap was added.
    ///
    /// # Safety
    /// `[base, acme)` must be word aligned, off address 0 (so never equal to
    /// a null `top`), valid and unused as for [`claim`](Talc::claim), with
    /// `base`'s provenance, and hold at least `MIN_CHUNK` bytes from `top` to
    /// `acme` when it extends a heap, else a free chunk and the sentinel
    /// ([`holds_a_chunk`] of its [`heap_span`]); `top` must be a heap's acme,
    /// or null.
    pub(crate) unsafe fn add_memory(
        &mut self,
        top: *mut u8,
        base: *mut u8,
        acme: *mut u8,
        zeroed: bool,
    ) -> *mut u8 {
        debug_assert!(!base.is_null());
        let extends = base == top;
        // Freeing finds a block's header by address (see `chunk_of`), and an
        // extension writes across the old top: all through exposed provenance.
        base.expose_provenance();
        let acme = heap_ptr::<u8>(acme.addr());
        let base = heap_ptr::<u8>(if extends { base.addr() } else { first_chunk(base.addr()) });
        // A new heap is the last one; an extended one stays last if it was.
        // Set first, so that its free top goes to the top bin.
        let old_last = self.last_top;
        let was_last = top == old_last;
        if !extends || was_last {
            self.last_top = acme;
        }
        // What is known to be zero (see `fresh`): in a new heap, all above
        // its free chunk's first words if the memory arrives zeroed, else
        // nothing; in the last heap grown, as before if the new memory is
        // zero, else nothing.
        if !extends || was_last && !zeroed {
            self.fresh = acme.addr();
        }
        // SAFETY: the memory is ours; every write below lies inside it, or
        // is the old sentinel it takes over; the top bin's chunk is free.
        unsafe {
            if !extends && !old_last.is_null() {
                // The former last heap's free top, the top bin's one chunk,
                // moves to its size's bin (`last_top` is the new heap's
                // now): the search looks at a few chunks of a bin, so the top
                // bin holds the last heap's free top alone. Releasing the
                // former heap's sentinel (a chunk of size 0) merges it with
                // that free chunk, which is filed anew.
                let former = heap_ptr::<u8>(sentinel_of(old_last.addr()));
                if get(former) & PREV_FREE != 0 {
                    self.release(former);
                }
            }
            let sentinel = heap_ptr::<u8>(sentinel_of(acme.addr()));
            set(sentinel, 0);
            // The new chunk: from the old sentinel (keeping its flag, so that
            // a free chunk below merges), or the new heap's base.
            let (c, old_top) = if extends {
                let old_sentinel = heap_ptr::<u8>(sentinel_of(top.addr()));
                let below_free = get(old_sentinel) & PREV_FREE;
                let old_top = if below_free != 0 { get(old_sentinel.sub(WORD)) } else { 0 };
                set(old_sentinel, (sentinel.addr() - old_sentinel.addr()) | below_free);
                (old_sentinel, old_top)
            } else {
                set(base, sentinel.addr() - base.addr());
                (base, 0)
            };
            self.release(c);
            if zeroed && !extends {
                self.fresh = base.addr();
            }
            if old_top != 0 {
                // The old free top's footer and the old sentinel are inside
                // the new free top now, past its first three words: zero
                // them, as `fresh` may promise.
                set(c.sub(WORD), 0);
                set(c, 0);
            }
        }
        if extends {
            self.top_moved(top, acme);
        } else {
            let heap = Span::new(base, acme);
            if self.arena.is_empty() {
                self.arena = heap;
            }
            #[cfg(feature = "counters")]
            self.counters.heap_added(heap.size());
            #[cfg(feature = "stats")]
            {
                self.stats.heap_added(heap);
                self.stats_changed();
            }
            #[cfg(feature = "checks")]
            {
                self.heaps.add(heap);
                self.check();
            }
        }
        acme
    }

    /// Lays out the top of a heap: `[free_base, acme)` becomes a free chunk
    /// below the sentinel (at `sentinel_of(acme)`); or, when that is too
    /// small for a chunk, just the sentinel at `free_base`. Returns the
    /// heap's new acme.
    ///
    /// # Safety
    /// `[free_base, acme)` must be unused heap memory of at least one word,
    /// `free_base` a word past a grain boundary, `acme` word aligned, above
    /// an allocated chunk (or at the heap's base).
    unsafe fn set_top(&mut self, free_base: *mut u8, acme: *mut u8) -> *mut u8 {
        let sentinel = sentinel_of(acme.addr());
        // SAFETY: the caller hands over the region.
        unsafe {
            if sentinel - free_base.addr() >= MIN_CHUNK {
                let sentinel = free_base.with_addr(sentinel);
                set(sentinel, 0);
                self.file(free_base, sentinel.addr() - free_base.addr());
                acme
            } else {
                set(free_base, 0);
                free_base.add(WORD)
            }
        }
    }

    /// Where the free top of the heap ending at `acme` begins: the base of
    /// the free chunk under the sentinel, or the sentinel itself.
    ///
    /// # Safety
    /// A heap of this `Talc` must end at `acme`.
    pub(crate) unsafe fn free_top(acme: *mut u8) -> *mut u8 {
        let sentinel = heap_ptr::<u8>(sentinel_of(acme.addr()));
        // SAFETY: a heap ends with its sentinel, whose header says whether a
        // free chunk, with its footer, lies below it.
        unsafe {
            if get(sentinel) & PREV_FREE != 0 {
                sentinel.sub(get(sentinel.sub(WORD)))
            } else {
                sentinel
            }
        }
    }

    /// [`free_top`](Self::free_top), with the free chunk taken out of its bin.
    ///
    /// # Safety
    /// As for `free_top`.
    unsafe fn take_top(&mut self, acme: *mut u8) -> *mut u8 {
        // SAFETY: forwarded; a free top below the sentinel is a free chunk.
        unsafe {
            let top = Self::free_top(acme);
            if top.addr() != sentinel_of(acme.addr()) {
                self.unlink(top);
            }
            top
        }
    }

    /// Grows `heap` upward to `new_heap`'s acme and returns the heap as it
    /// now is. The base never moves; growth by less than four words (too
    /// little to stand as a free chunk) leaves the heap unchanged.
    ///
    /// # Safety
    /// `heap` must be a heap of this `Talc`, exactly as last returned by
    /// `init`, `claim`, `extend` or `truncate`. The memory from its acme to
    /// `new_heap`'s acme must be valid and unused, as for [`claim`](Talc::claim).
    pub unsafe fn extend(&mut self, heap: Span, new_heap: Span) -> Span {
        if heap.is_empty() {
            return heap;
        }
        let new_acme = new_heap.acme().addr() & !(WORD - 1);
        // Less than a chunk's worth of new memory cannot stand as a chunk.
        if new_acme < heap.acme().addr().saturating_add(MIN_CHUNK) {
            return heap;
        }
        let acme = heap.acme();
        // The new memory is reached through the span that hands it over.
        let new = new_heap.acme();
        // SAFETY: forwarded: the memory from `acme` up is handed over, with
        // `new_heap`'s provenance, and it is at least `MIN_CHUNK` bytes.
        let acme = unsafe {
            self.add_memory(acme, new.with_addr(acme.addr()), new.with_addr(new_acme), false)
        };
        Span::new(heap.base(), acme)
    }

    /// Shrinks `heap` from the top toward `new_heap`'s acme, never below its
    /// allocations (see [`get_allocated_span`](Talc::get_allocated_span)),
    /// and returns the heap as it now is: the memory above it is released.
    /// It may shrink a few words further than asked. A heap other than the
    /// arena that holds no allocation is removed entirely when `new_heap` is
    /// empty; then the empty span is returned. With feature `fast`, blocks
    /// the front end holds count as allocations here, as for
    /// `get_allocated_span` (call `Talc::release_held`
    /// first to go further; the free of the last live block does so).
    ///
    /// # Safety
    /// `heap` must be a heap of this `Talc`, exactly as last returned by
    /// `init`, `claim`, `extend` or `truncate`.
    pub unsafe fn truncate(&mut self, heap: Span, new_heap: Span) -> Span {
        if heap.is_empty() {
            return heap;
        }
        let want = new_heap.word_align_inward();
        // SAFETY: the heap is ours; its top is rebuilt below its free part.
        unsafe {
            let free_base = self.take_top(heap.acme());
            if want.is_empty() && free_base == heap.base() && heap != self.arena {
                if heap.acme() == self.last_top {
                    self.last_top = null_mut();
                }
                #[cfg(feature = "counters")]
                self.counters.heap_removed(heap.size());
                #[cfg(feature = "stats")]
                {
                    self.stats.heap_removed(heap);
                    self.stats_changed();
                }
                #[cfg(feature = "checks")]
                self.heaps.remove(heap);
                return Span::empty();
            }
            let acme = want.acme().addr().clamp(free_base.addr() + WORD, heap.acme().addr());
            let acme = free_base.with_addr(acme);
            // The last heap's new free top goes to the top bin: its acme first.
            let last = heap.acme() == self.last_top;
            if last {
                self.last_top = acme;
            }
            let acme = self.set_top(free_base, acme);
            if last {
                self.last_top = acme;
                self.fresh = acme.addr();
            }
            self.top_moved(heap.acme(), acme);
            Span::new(heap.base(), acme)
        }
    }

    /// Bookkeeping after a heap's top moved from `old` to `new`.
    /// (`last_top` is moved by the callers, before they free the new top.)
    fn top_moved(&mut self, old: *mut u8, new: *mut u8) {
        if old == self.arena.acme() {
            self.arena = Span::new(self.arena.base(), new);
        }
        #[cfg(feature = "counters")]
        self.counters.heap_resized(old.addr(), new.addr());
        #[cfg(feature = "stats")]
        {
            self.stats.top_moved(old, new);
            self.stats_changed();
        }
        #[cfg(feature = "checks")]
        {
            self.heaps.top_moved(old, new);
            self.check();
        }
    }

    /// Where the heap most recently added (by `init`, `claim` or an OOM
    /// handler) ends, as it now is (after `extend` or `truncate` of it);
    /// null before any, and after `init` fails or `truncate` removes that
    /// heap. Extending an earlier heap does not make it the last. An OOM
    /// handler that grows memory upward extends this heap when the new
    /// memory starts there.
    pub fn get_last_heap_acme(&self) -> *mut u8 {
        self.last_top
    }

    /// The OOM handler.
    pub fn oom_handler(&self) -> &O {
        &self.oom_handler
    }

    /// The OOM handler, to change its state (for example from its own
    /// [`handle_oom`](OomHandler::handle_oom)).
    ///
    /// # Safety
    /// The handler must not be replaced by, or swapped with, one whose state
    /// promises memory to another `Talc` or describes another `Talc`'s heaps,
    /// and must keep whatever promise its own constructor made.
    pub unsafe fn oom_handler_mut(&mut self) -> &mut O {
        &mut self.oom_handler
    }

    /// The first heap: the arena given to `init` (or the first `claim`), as
    /// last extended or truncated. Empty before any.
    pub fn get_arena(&self) -> Span {
        self.arena
    }

    /// The part of the arena that allocations can use: below the sentinel
    /// word.
    pub fn get_allocatable_span(&self) -> Span {
        if self.arena.is_empty() {
            return Span::empty();
        }
        let acme = self.arena.acme();
        Span::new(self.arena.base(), acme.with_addr(sentinel_of(acme.addr())))
    }

    /// The part of `heap` that holds allocations: [`truncate`](Talc::truncate)
    /// cannot go below its acme. Empty when the heap holds nothing. With
    /// feature `fast`, blocks the front end holds count as allocations until
    /// it gives them back: call `Talc::release_held` first
    /// (freeing the last live block does).
    ///
    /// # Safety
    /// `heap` must be a heap of this `Talc`, exactly as last returned by
    /// `init`, `claim`, `extend` or `truncate`.
    pub unsafe fn get_allocated_span(&self, heap: Span) -> Span {
        if heap.is_empty() {
            return heap;
        }
        // SAFETY: `heap` is a heap of this `Talc`.
        Span::new(heap.base(), unsafe { Self::free_top(heap.acme()) })
    }

    /// Wraps this `Talc` in a lock, for use as a global allocator or from
    /// several threads.
    pub const fn lock<R: lock_api::RawMutex>(self) -> crate::Talck<R, O> {
        crate::Talck::new(self)
    }

    /// The allocation counters.
    #[cfg(feature = "counters")]
    pub fn get_counters(&self) -> &crate::counters::Counters {
        &self.counters
    }

    /// The bins' heads (for the checks and stats walks).
    #[cfg(any(feature = "checks", feature = "stats"))]
    pub(crate) fn heads(&self) -> &[*mut u8; BIN_COUNT] {
        &self.heads
    }

    #[cfg(feature = "checks")]
    pub(crate) fn avail_bits(&self) -> u64 {
        self.avail
    }
}

/// The free chunk size that surely holds a block of `need` bytes (a chunk
/// size) aligned to `align`: room for the padding below the block too.
#[cfg(feature = "fast")]
#[inline(always)]
fn surely_holds(need: usize, align: usize) -> usize {
    if align > GRAIN {
        need + align + GRAIN
    } else {
        need
    }
}

/// A pointer to heap memory at `addr`, with the provenance that `claim`
/// exposed for its heap.
#[inline(always)]
pub(crate) fn heap_ptr<T>(addr: usize) -> *mut T {
    core::ptr::with_exposed_provenance_mut(addr)
}

/// Whether `heap` (from [`heap_span`]) holds a free chunk and its sentinel.
pub(crate) fn holds_a_chunk(heap: Span) -> bool {
    // Enough: the base is a word past a grain, so a heap of five words or
    // more ends on a grain (its sentinel a word below: four words left) or
    // is six words or more (its sentinel two words below).
    heap.size() >= MIN_CHUNK + WORD
}

/// Where the first chunk of memory from `base` (word aligned) starts: a
/// word past a grain boundary.
#[inline(always)]
const fn first_chunk(base: usize) -> usize {
    base | WORD
}

/// The heap that `claim` makes of `memory`: its first chunk's header a word
/// past a grain boundary (and off address 0: a free chunk there would read
/// as a null list link), its end word aligned. Empty when nothing is left.
pub(crate) fn heap_span(memory: Span) -> Span {
    // Rounding up past the top of the address space leaves nothing.
    let Some(base) = memory.base().addr().checked_next_multiple_of(WORD) else {
        return Span::empty();
    };
    let base = first_chunk(base);
    let acme = memory.acme().addr() & !(WORD - 1);
    if acme <= base {
        return Span::empty();
    }
    Span::new(memory.base().with_addr(base), memory.acme().with_addr(acme))
}
