//! [`Talc`]: the allocator core.
//!
//! A heap is tiled by chunks, bottom to top, and ends with a one-word
//! *sentinel*: an allocated chunk that is never freed, so the top chunk
//! always has an upper neighbour to look at. The first heap (the *arena*)
//! starts with the metadata chunk holding the bin heads.
//!
//! ```text
//!  arena:  | meta: tag + bin heads | alloc | free ... | alloc | ... | sentinel |
//!  heap:   | alloc | alloc | free ...                        | alloc | sentinel |
//! ```
//!
//! Allocation finds a free chunk through the bins, carves the payload out of
//! it with its alignment, and gives the remainders (below for alignment,
//! above for the tail) back to the bins when each can stand as a chunk.
//! Freeing merges with free neighbours at once, so no two free chunks touch.

use core::alloc::Layout;
use core::ptr::{null_mut, NonNull};

use crate::bins::{bin_of, BIN_COUNT, TOP_BIN};
use crate::list::{self, FreeNode};
use crate::oom::OomHandler;
use crate::span::Span;
use crate::tag;

pub(crate) const WORD: usize = core::mem::size_of::<usize>();
/// The smallest chunk: a free chunk needs a list node and a size word.
pub(crate) const MIN_CHUNK: usize = 3 * WORD;
/// The smallest payload, so that any allocated chunk can become a free one.
const MIN_PAYLOAD: usize = MIN_CHUNK - WORD;
/// The metadata chunk at the base of the arena: a tag, then the bin heads.
pub(crate) const META_SIZE: usize = WORD + BIN_COUNT * WORD;
/// How many chunks of a bin the search looks at. Chunks in a bin may differ
/// by a quarter, so the request's own bin may hold chunks too small for it;
/// past this many, the search moves on to bins where the first chunk fits,
/// and past those to the OOM handler. So the work per request is bounded in
/// every phase, while memory grows too: a request never walks a long list.
/// The price: a fitting chunk deeper than this in a bin whose chunks need
/// not fit is not found (see [`Talc::malloc`] for what is promised). The
/// last size bin, which has no upper bound, is looked at whole.
const LOOKS: usize = 8;

#[inline]
const fn align_up_word(n: usize) -> usize {
    (n + (WORD - 1)) & !(WORD - 1)
}

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
    /// The bin heads, inside the arena's metadata chunk; null before the
    /// first heap is established.
    bins: *mut *mut FreeNode,
    /// Bit `b` is set when bin `b` is not empty; it may stay set after the
    /// bin empties, until a search finds the bin empty and clears it.
    avail: u64,
    /// The first heap, which holds the metadata.
    arena: Span,
    /// The acme of the heap most recently added, as it now is (it moves when
    /// that heap is extended or truncated; null when truncated away): the
    /// heap an OOM handler may grow upward.
    last_top: *mut u8,
    /// Memory of the last heap known to hold zeros: every byte from
    /// `fresh + 3 * WORD` up to the free top's last word (`last_top - 2 *
    /// WORD`) is zero. Pages fresh from the OOM handler arrive zeroed, and
    /// only the free top reaches into them; a block cut from it moves this
    /// up past the block, so `malloc_zeroed` clears only what lies below.
    /// At or past `last_top`: nothing is known.
    pub(crate) fresh: usize,
    /// `fresh` before the last allocation moved it (`usize::MAX` if that
    /// allocation did not), for `malloc_zeroed`.
    fresh_was: usize,
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
            bins: null_mut(),
            avail: 0,
            arena: Span::empty(),
            last_top: null_mut(),
            fresh: 0,
            fresh_was: usize::MAX,
            #[cfg(feature = "counters")]
            counters: crate::counters::Counters::new(),
            #[cfg(feature = "checks")]
            heaps: crate::checks::HeapList::new(),
            #[cfg(feature = "stats")]
            stats: crate::stats::StatsState::new(),
        }
    }

    /// A `Talc` with `arena` as its first heap. If the arena is too small
    /// for the metadata (see [`init`](Talc::init)), the `Talc` starts with no
    /// memory, as from [`new`](Talc::new).
    ///
    /// # Safety
    /// As for [`init`](Talc::init).
    pub unsafe fn with_arena(oom_handler: O, arena: Span) -> Self {
        let mut talc = Self::new(oom_handler);
        // SAFETY: forwarded to the caller.
        let _ = unsafe { talc.init(arena) };
        talc
    }

    // ----- bins -----

    /// Makes `[base, acme)` a free chunk and files it in its bin.
    ///
    /// # Safety
    /// `[base, acme)` must be unused heap memory of at least `MIN_CHUNK`
    /// bytes between two allocated chunks, and the bins must exist.
    // Called from several places: one copy is smaller in wasm.
    #[inline(never)]
    unsafe fn add_free(&mut self, base: *mut u8, acme: *mut u8) {
        let size = acme.addr() - base.addr();
        // The free top of the last heap (under its one-word sentinel) is kept
        // apart, for when nothing else fits: see `bins`.
        let bin = if acme.addr().wrapping_add(WORD) == self.last_top.addr() {
            TOP_BIN
        } else {
            bin_of(size)
        };
        // SAFETY: the caller hands over the chunk; `bin < BIN_COUNT`.
        unsafe {
            list::write_sizes(base, acme);
            list::push(self.bins.add(bin), base.cast());
        }
        self.avail |= 1 << bin;
        #[cfg(feature = "counters")]
        self.counters.free_chunk_added(size);
        #[cfg(feature = "stats")]
        self.stats.free_changed(size, size);
    }

    /// Takes the free chunk at `base`, of `size` bytes, out of its bin.
    ///
    /// The bin's bit stays set even if the bin is now empty: `take` clears
    /// it when it finds the bin empty. So removal needs no bin number.
    ///
    /// # Safety
    /// A free chunk of `size` bytes must start at `base`.
    #[inline(never)]
    unsafe fn remove_free(&mut self, base: usize, size: usize) {
        // By address: given a pointer it only reads through, LLVM would
        // have each caller load the node's fields instead (more bytes).
        // SAFETY: a free chunk's node is a member of its bin's list.
        unsafe { list::unlink(heap_ptr::<FreeNode>(base)) };
        #[cfg(feature = "counters")]
        self.counters.free_chunk_removed(size);
        #[cfg(feature = "stats")]
        self.stats.free_changed(size, size.wrapping_neg());
        let _ = size;
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
    /// chunk of a size bin above the bin of the request's size plus its
    /// alignment's padding (every chunk there fits), or a chunk that fits
    /// and is the last heap's free top or lies in the last size bin (sizes
    /// from 640 KiB on wasm32, 1.25 MiB on 64-bit targets, with no upper
    /// bound: that bin is looked at whole). A fitting chunk among too-small
    /// ones in another bin whose chunks may or may not fit (their sizes are
    /// within a quarter of each other) is found when it is among the first
    /// eight looked at; deeper ones are not looked for, so that the work per
    /// request stays bounded, also while memory grows: eight chunks per bin,
    /// and in the last size bin at most one per 640 KiB (1.25 MiB) of free
    /// memory. (`checks` offers this promise as an oracle, `surely_fits`.)
    ///
    /// # Safety
    /// The memory handed to this `Talc` must still be valid (see
    /// [`init`](Talc::init) and [`claim`](Talc::claim)).
    pub unsafe fn malloc(&mut self, layout: Layout) -> Result<NonNull<u8>, ()> {
        loop {
            // SAFETY: the heaps are valid by this function's contract.
            if let Some(ptr) = unsafe { self.search(layout) } {
                #[cfg(feature = "counters")]
                self.counters.allocated(layout.size());
                #[cfg(feature = "stats")]
                self.stats_changed();
                #[cfg(feature = "checks")]
                self.check();
                return Ok(ptr);
            }
            self.out_of_memory(layout)?;
        }
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

    /// Finds a free chunk for `layout` and carves the block out of it,
    /// looking at a few chunks per bin. `None` when none of those fits.
    ///
    /// # Safety
    /// The heaps must be valid.
    // Shared by `malloc` and `realloc`: one copy is smaller in wasm.
    #[inline(never)]
    unsafe fn search(&mut self, layout: Layout) -> Option<NonNull<u8>> {
        // Layouts are at most `isize::MAX` bytes, so this cannot overflow.
        let size = layout.size().max(MIN_PAYLOAD);
        let need = align_up_word(size + WORD);
        let align = layout.align();
        // Bins at or above the request's own, upward: every chunk in a
        // higher bin fits a word-aligned request, so the scan rarely goes
        // past one chunk. Past a word's alignment a chunk in a bin between
        // fits if its payload lands aligned (a chunk of `need + align -
        // WORD` bytes always does): those bins come first, each looked at
        // a few chunks deep, so blocks of an aligned layout reuse their
        // holes; the heap's free top, the last bin, comes last.
        // SAFETY: the heaps are valid by this function's contract.
        unsafe { self.take(u64::MAX << bin_of(need), size, align) }
    }

    /// Allocates zeroed memory for `layout`: as [`malloc`](Talc::malloc),
    /// with every byte of the block zero. Memory fresh from the OOM handler
    /// (whose pages arrive zeroed, as WebAssembly's do) is not cleared again:
    /// only what was used before is.
    ///
    /// # Safety
    /// As for [`malloc`](Talc::malloc).
    pub unsafe fn malloc_zeroed(&mut self, layout: Layout) -> Result<NonNull<u8>, ()> {
        self.fresh_was = usize::MAX;
        // SAFETY: forwarded to the caller.
        let ptr = unsafe { self.malloc(layout)? };
        let (start, end) = (ptr.as_ptr().addr(), ptr.as_ptr().addr() + layout.size());
        // If the block was cut from the last heap's free top where zeros are
        // known: below `fresh_was + 3 words` it may hold old bytes; above,
        // zeros, but for the free top's last word if the block took it.
        let dirty_end = if self.fresh_was == usize::MAX || end > self.last_top.addr() {
            end
        } else {
            self.fresh_was.saturating_add(3 * WORD).clamp(start, end)
        };
        // SAFETY: the block is ours, `layout.size()` bytes from `ptr`.
        unsafe {
            ptr.as_ptr().write_bytes(0, dirty_end - start);
            let last_word = self.last_top.addr().wrapping_sub(2 * WORD);
            if (dirty_end..end).contains(&last_word) {
                ptr.as_ptr().add(last_word - start).write_bytes(0, WORD.min(end - last_word));
            }
        }
        Ok(ptr)
    }

    /// Finds a free chunk that fits in the bins of `mask`, lowest first, and
    /// carves the allocation out of it, looking at no more than [`LOOKS`]
    /// chunks of each bin.
    ///
    /// # Safety
    /// The heaps must be valid; `size >= MIN_PAYLOAD`.
    #[inline]
    unsafe fn take(&mut self, mask: u64, size: usize, align: usize) -> Option<NonNull<u8>> {
        let mut bins = self.avail & mask;
        while bins != 0 {
            let bin = bins.trailing_zeros() as usize;
            // SAFETY: a set bit means the bins exist and the list is valid.
            let mut node = unsafe { *self.bins.add(bin) };
            if node.is_null() {
                // Emptied since its bit was set (see `remove_free`).
                self.avail &= !(1 << bin);
            }
            // The last size bin has no upper bound: its chunks may be far
            // apart, so it is walked whole. Only a request of that bin's
            // sizes itself gets past its first chunk (any chunk there holds
            // a smaller one), and its chunks are huge: at most one look per
            // 640 KiB of free memory (1.25 MiB on 64-bit targets).
            let mut left = if bin == TOP_BIN - 1 { usize::MAX } else { LOOKS };
            while !node.is_null() && left != 0 {
                left -= 1;
                #[cfg(feature = "counters")]
                {
                    self.counters.chunks_looked_at += 1;
                }
                // SAFETY: `node` is a free chunk in a valid list.
                unsafe {
                    if let Some(ptr) = self.carve(node.cast(), size, align) {
                        return Some(ptr);
                    }
                    node = (*node).next;
                }
            }
            bins &= bins - 1;
        }
        None
    }

    /// Allocates `size` bytes at `align` from the free chunk at `base` if
    /// they fit, returning the remainders to the bins.
    ///
    /// # Safety
    /// `base` must be a free chunk; `size >= MIN_PAYLOAD`.
    #[inline]
    unsafe fn carve(&mut self, base: *mut u8, size: usize, align: usize) -> Option<NonNull<u8>> {
        // SAFETY: `base` is a free chunk.
        let chunk_size = unsafe { list::size_of(base) };
        // The padding up to the first aligned address above the tag, and the
        // room above the tag: differences, so nothing can overflow.
        let first = base.addr() + WORD;
        let pad = first.wrapping_neg() & (align - 1);
        let room = chunk_size - WORD;
        if pad > room || room - pad < size {
            return None;
        }
        let payload = first + pad;
        // SAFETY: the chunk is free and everything written below lies in it
        // (`payload + size <= acme`), or is the tag of the chunk above.
        unsafe {
            self.remove_free(base.addr(), chunk_size);
            let payload = base.with_addr(payload);
            let tag_at = payload.sub(WORD);
            let below_gap = tag_at.addr() - base.addr();
            let (chunk_base, below_free) = if below_gap >= MIN_CHUNK {
                self.add_free(base, tag_at);
                (tag_at, true)
            } else {
                // Too small to stand alone: padding, and a back pointer. (With
                // no gap this is the tag's own word, which `set_end` writes.)
                *tag_at.cast::<usize>() = base.addr();
                (base, false)
            };
            let end = payload.add(align_up_word(size));
            self.set_end(chunk_base.cast(), below_free, end, base.add(chunk_size));
            Some(NonNull::new_unchecked(payload))
        }
    }

    /// Ends the allocated chunk whose tag is at `tag_ptr` at `end`, or at
    /// `reach` when what lies between could not stand as a free chunk;
    /// that tail is freed, and the chunk at `reach` learns whether a free
    /// chunk now lies below it.
    ///
    /// # Safety
    /// `tag_ptr` must start a chunk that may extend to `reach`, with
    /// `[end, reach)` unused memory (in no bin), `end` word aligned at least
    /// `MIN_PAYLOAD` above the payload, and a chunk starting at `reach`.
    // Shared by `malloc` and the in-place resize: smaller wasm.
    #[inline(never)]
    unsafe fn set_end(
        &mut self,
        tag_ptr: *mut usize,
        below_free: bool,
        end: *mut u8,
        reach: *mut u8,
    ) {
        let split = reach.addr() - end.addr() >= MIN_CHUNK;
        // SAFETY: the caller hands over `[end, reach)`; a chunk starts at `reach`.
        unsafe {
            let acme = if split {
                self.add_free(end, reach);
                end
            } else {
                reach
            };
            *tag_ptr = tag::new(acme, below_free);
            tag::set_below_free(reach.cast(), split);
            // The block may reach into memory known to be zero: not now.
            if acme.addr() > self.fresh {
                self.fresh_was = self.fresh;
                self.fresh = acme.addr();
            }
        }
    }

    /// The address of the tag of the allocation at `ptr`.
    ///
    /// # Safety
    /// `ptr` must be a live allocation of this `Talc`.
    #[inline]
    unsafe fn tag_of(ptr: NonNull<u8>) -> *mut usize {
        // The caller's pointer may only cover its payload (a `Box` narrows
        // it so); the heap's own metadata is reached through the heap's
        // provenance, exposed when the heap was claimed.
        let below = heap_ptr::<usize>(ptr.as_ptr().addr() - WORD);
        // SAFETY: the word below a payload is its tag or a back pointer.
        let word = unsafe { *below };
        if tag::is_allocated(word) {
            below
        } else {
            below.with_addr(word)
        }
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
        // SAFETY: `ptr` is live; its tag describes its chunk.
        unsafe {
            let tag_ptr = Self::tag_of(ptr);
            let tag = *tag_ptr;
            let acme = tag_ptr.cast::<u8>().with_addr(tag::acme(tag));
            self.release(tag_ptr.cast(), acme, tag::is_below_free(tag));
        }
        #[cfg(feature = "counters")]
        self.counters.freed(layout.size());
        #[cfg(feature = "stats")]
        self.stats_changed();
        #[cfg(feature = "checks")]
        self.check();
        let _ = layout;
    }

    /// Turns `[base, acme)` into a free chunk, merging it with a free chunk
    /// above, and with the one below when `below_free`.
    ///
    /// # Safety
    /// `[base, acme)` must be unused heap memory, at least `MIN_CHUNK` bytes
    /// unless a free neighbour joins it; `below_free` must be true exactly
    /// when a free chunk ends at `base`.
    // One copy, shared by free and add_memory (claim, extend, growth):
    // smaller wasm.
    #[inline(never)]
    unsafe fn release(&mut self, mut base: *mut u8, mut acme: *mut u8, below_free: bool) {
        // SAFETY: the neighbours are read through the invariants: a free
        // chunk below ends with its size; the chunk above starts at `acme`.
        unsafe {
            if below_free {
                let size = list::size_below(base);
                base = base.sub(size);
                self.remove_free(base.addr(), size);
            }
            let above = *acme.cast::<usize>();
            if tag::is_allocated(above) {
                tag::set_below_free(acme.cast(), true);
            } else {
                let size = list::size_of(acme);
                self.remove_free(acme.addr(), size);
                acme = acme.add(size);
            }
            self.add_free(base, acme);
        }
    }

    /// Resizes the allocation at `ptr` to `new_size` bytes without moving
    /// it: the chunk's end moves down (a tail big enough to stand goes back
    /// to the bins) or up into a free chunk above. Returns whether it could.
    ///
    /// # Safety
    /// `ptr` must be a live allocation of this `Talc`.
    unsafe fn resize_in_place(&mut self, ptr: NonNull<u8>, new_size: usize) -> bool {
        // SAFETY: `ptr` is live: its tag, and the chunk above, are valid.
        unsafe {
            let tag_ptr = Self::tag_of(ptr);
            let tag = *tag_ptr;
            let acme = tag_ptr.cast::<u8>().with_addr(tag::acme(tag));
            // How far the chunk can reach: its own end, or the free chunk's above.
            let above_size = Self::free_above(acme);
            let above_free = above_size != 0;
            let reach = acme.add(above_size);
            // The room is a multiple of a word, so a size within it stays
            // within it when rounded up to a word: nothing can overflow.
            let size = new_size.max(MIN_PAYLOAD);
            if size > reach.addr() - ptr.as_ptr().addr() {
                return false;
            }
            let end = ptr.as_ptr().addr() + align_up_word(size);
            if above_free {
                self.remove_free(acme.addr(), above_size);
            }
            self.set_end(tag_ptr, tag::is_below_free(tag), reach.with_addr(end), reach);
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
            let mut tried_top = false;
            let new = loop {
                if let Some(new) = self.search(new_layout) {
                    #[cfg(feature = "counters")]
                    self.counters.allocated(new_size);
                    break new;
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
            self.free(ptr, old_layout);
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
        // SAFETY: `ptr` is live: its tag, and the chunk above, are valid.
        unsafe {
            let acme = tag::acme(*Self::tag_of(ptr));
            let reach = acme + Self::free_above(heap_ptr(acme));
            (reach + WORD == self.last_top.addr()).then(|| acme - ptr.as_ptr().addr())
        }
    }

    /// The size of the free chunk that starts at `acme`, or 0 when the chunk
    /// there is allocated (a free chunk is never empty).
    ///
    /// # Safety
    /// A chunk of this `Talc` must start at `acme`.
    #[inline]
    unsafe fn free_above(acme: *mut u8) -> usize {
        // SAFETY: a chunk starts at `acme`: a tag, or a free chunk's node.
        unsafe {
            if tag::is_allocated(*acme.cast::<usize>()) {
                0
            } else {
                list::size_of(acme)
            }
        }
    }

    // ----- heaps -----

    /// Forgets every heap and allocation, then makes `arena` the first heap,
    /// which also holds the allocator's metadata (`1 + 64` words).
    ///
    /// Returns the heap: `arena` shrunk to word alignment (and lifted off
    /// address 0), or `Err(())`, with no heap, when that is too small for the
    /// metadata and four words more (a free chunk of three words and the
    /// sentinel). After an `Err` the `Talc` has no memory, as from
    /// [`new`](Talc::new): an OOM handler that grows memory starts afresh.
    ///
    /// # Safety
    /// `arena` must be valid for reads and writes, and used by nothing else,
    /// for as long as this `Talc` uses it (until it is dropped, re-`init`ed,
    /// or the memory is `truncate`d away). Allocations made before this call
    /// must no longer be used.
    pub unsafe fn init(&mut self, arena: Span) -> Result<Span, ()> {
        self.bins = null_mut();
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

    /// Adds `memory` as a separate heap and returns it (word aligned, lifted
    /// off address 0). If there is no arena yet, this heap becomes the arena
    /// and holds the metadata. Returns `Err(())`, and touches nothing, when
    /// the memory is too small: under four words, or for an arena, under the
    /// metadata plus four words; or when no word-aligned address is left in
    /// it (say, a span at the very top of the address space).
    ///
    /// # Safety
    /// `memory` must be valid for reads and writes, used by nothing else,
    /// and must not overlap any heap of this `Talc`, for as long as this
    /// `Talc` uses it.
    pub unsafe fn claim(&mut self, memory: Span) -> Result<Span, ()> {
        let heap = heap_span(memory);
        let (base, acme) = heap.get_base_acme().ok_or(())?;
        let first_free = if self.bins.is_null() { META_SIZE } else { 0 };
        if heap.size() < first_free + MIN_CHUNK + WORD {
            return Err(());
        }
        // SAFETY: the heap is ours, word aligned, off address 0 and big
        // enough; it is not the continuation of another heap (`top` is null).
        unsafe { self.add_memory(null_mut(), base, acme, false) };
        Ok(heap)
    }

    /// Makes the fresh memory `[base, acme)` part of the heaps: the new top
    /// of the heap ending at `top` when `base == top`, else a heap of its
    /// own, which becomes the arena (and holds the metadata) if there is
    /// none yet. Returns `acme`.
    ///
    /// Every access to the memory goes through the provenance exposed here
    /// and by earlier calls (see [`heap_ptr`]): `base`'s covers the new
    /// memory, and an extended heap's old sentinel, which the new free chunk
    /// takes over, was exposed when that heap was added.
    ///
    /// # Safety
    /// `[base, acme)` must be word aligned, off address 0 (so never equal to
    /// a null `top`), valid and unused as for [`claim`](Talc::claim), with
    /// `base`'s provenance, and at least `MIN_CHUNK` bytes when it extends a
    /// heap, else `MIN_CHUNK + WORD` (plus `META_SIZE` for a new arena);
    /// `top` must be a heap's acme, or null.
    pub(crate) unsafe fn add_memory(
        &mut self,
        top: *mut u8,
        base: *mut u8,
        acme: *mut u8,
        zeroed: bool,
    ) -> *mut u8 {
        debug_assert!(!base.is_null());
        // Freeing finds a block's tag by address (see `tag_of`), and an
        // extension writes across the old top: all through exposed provenance.
        let (top, base, acme) = (
            heap_ptr::<u8>(top.addr()),
            heap_ptr::<u8>(base.expose_provenance()),
            heap_ptr::<u8>(acme.addr()),
        );
        let extends = base == top;
        let new_arena = !extends && self.bins.is_null();
        // A new heap is the last one; an extended one stays last if it was.
        // Set first, so that its free top goes to the top bin.
        let was_last = top == self.last_top;
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
            if !extends && !self.bins.is_null() {
                // The former last heap's free top, the top bin's one chunk,
                // moves to its size's bin (`last_top` is the new heap's
                // now): the search looks at a few chunks of a bin, so the top
                // bin holds the last heap's free top alone.
                let former = *self.bins.add(TOP_BIN);
                if !former.is_null() {
                    let size = list::size_of(former.cast());
                    self.remove_free(former.addr(), size);
                    self.add_free(former.cast(), former.cast::<u8>().add(size));
                }
            }
            let mut old_top = 0;
            let (free_base, below_free) = if extends {
                // The old sentinel and any free chunk below it join the new memory.
                let old_sentinel = top.sub(WORD);
                let below_free = tag::is_below_free(*old_sentinel.cast::<usize>());
                if below_free {
                    old_top = list::size_below(old_sentinel);
                }
                (old_sentinel, below_free)
            } else if new_arena {
                let free_base = base.add(META_SIZE);
                *base.cast::<usize>() = tag::new(free_base, false);
                let bins = base.add(WORD).cast::<*mut FreeNode>();
                // Every bin empty: `list::EMPTY` is null, all bytes zero.
                const { assert!(list::EMPTY.is_null()) };
                bins.write_bytes(0, BIN_COUNT);
                self.bins = bins;
                (free_base, false)
            } else {
                (base, false)
            };
            // A sentinel on top, and everything between free.
            let sentinel = acme.sub(WORD);
            *sentinel.cast::<usize>() = tag::new(acme, false);
            self.release(free_base, sentinel, below_free);
            if zeroed && !extends {
                self.fresh = free_base.addr();
            }
            if old_top != 0 {
                // The old free top's last word (its size) and the old
                // sentinel are inside the new free top now: zero them, as
                // `fresh` may promise, unless the size word is among the
                // chunk's first three words, which it uses.
                if old_top > MIN_CHUNK {
                    *top.sub(2 * WORD).cast::<usize>() = 0;
                }
                *top.sub(WORD).cast::<usize>() = 0;
            }
        }
        if extends {
            self.top_moved(top, acme);
        } else {
            let heap = Span::new(base, acme);
            if new_arena {
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
    /// below a one-word sentinel at `acme - WORD`; or, when that is too small
    /// for a chunk, just the sentinel at `free_base`. Returns the heap's new
    /// acme.
    ///
    /// # Safety
    /// `[free_base, acme)` must be word-aligned unused heap memory of at least
    /// one word, above an allocated chunk (or at the heap's base).
    unsafe fn set_top(&mut self, free_base: *mut u8, acme: *mut u8) -> *mut u8 {
        // SAFETY: the caller hands over the region.
        unsafe {
            if acme.addr() - free_base.addr() >= MIN_CHUNK + WORD {
                let sentinel = acme.sub(WORD);
                self.add_free(free_base, sentinel);
                *sentinel.cast::<usize>() = tag::new(acme, true);
                acme
            } else {
                let acme = free_base.add(WORD);
                *free_base.cast::<usize>() = tag::new(acme, false);
                acme
            }
        }
    }

    /// Where the free top of the heap ending at `acme` begins: the base of
    /// the free chunk under the sentinel, or the sentinel itself.
    ///
    /// # Safety
    /// A heap of this `Talc` must end at `acme`.
    pub(crate) unsafe fn free_top(acme: *mut u8) -> *mut u8 {
        // SAFETY: a heap ends with its sentinel, whose tag says whether a
        // free chunk lies below it.
        unsafe {
            let sentinel = acme.sub(WORD);
            if tag::is_below_free(*sentinel.cast::<usize>()) {
                sentinel.sub(list::size_below(sentinel))
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
            let sentinel = acme.sub(WORD);
            if top != sentinel {
                self.remove_free(top.addr(), sentinel.addr() - top.addr());
            }
            top
        }
    }

    /// Grows `heap` upward to `new_heap`'s acme and returns the heap as it
    /// now is. The base never moves; growth by less than three words (too
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
    /// empty; then the empty span is returned.
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

    /// Whether the arena, with the metadata, exists.
    pub(crate) fn has_metadata(&self) -> bool {
        !self.bins.is_null()
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

    /// The part of the arena that allocations can use: above the metadata
    /// and below the sentinel word.
    pub fn get_allocatable_span(&self) -> Span {
        if self.arena.is_empty() {
            return Span::empty();
        }
        self.arena.truncate(META_SIZE, WORD)
    }

    /// The part of `heap` that holds allocations (and, in the arena, the
    /// metadata): [`truncate`](Talc::truncate) cannot go below its acme.
    /// Empty when the heap holds nothing.
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

    #[cfg(any(feature = "checks", feature = "stats"))]
    pub(crate) fn bins_ptr(&self) -> *mut *mut FreeNode {
        self.bins
    }

    #[cfg(feature = "checks")]
    pub(crate) fn avail_bits(&self) -> u64 {
        self.avail
    }
}

/// A pointer to heap memory at `addr`, with the provenance that `claim`
/// exposed for its heap.
#[inline]
pub(crate) fn heap_ptr<T>(addr: usize) -> *mut T {
    core::ptr::with_exposed_provenance_mut(addr)
}

/// The heap that `claim` makes of `memory`: word aligned inward, and lifted
/// off address 0 (a free chunk there would read as a null list link).
/// Empty when nothing is left.
pub(crate) fn heap_span(memory: Span) -> Span {
    // Rounding up past the top of the address space leaves nothing.
    let Some(base) = memory.base().addr().max(WORD).checked_next_multiple_of(WORD) else {
        return Span::empty();
    };
    let acme = memory.acme().addr() & !(WORD - 1);
    if acme <= base {
        return Span::empty();
    }
    Span::new(memory.base().with_addr(base), memory.acme().with_addr(acme))
}
