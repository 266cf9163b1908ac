//! The front end of feature `fast`: freed small blocks wait, still
//! allocated as far as the core knows, on one list per exact chunk size,
//! and the next request of that size takes one back.
//!
//! ```text
//!  held[0] (4 words) -> chunk -> chunk -> null
//!  held[1] (6 words) -> null
//!  held[2] (8 words) -> chunk -> null       each link in the chunk's payload
//!  ...
//!  held[31] (66 words)
//! ```
//!
//! A free is a push and a request a pop: no search, no merging, no header
//! written. What the core does on every free (look at both neighbours,
//! unlink the free ones, file the merged chunk in its bin) waits until the
//! memory is wanted: before the OOM handler is called, held chunks are
//! freed to the core for real, merging as they go, until one surely holds
//! the request, and the request is tried again; the free of the last live
//! block gives all of them back ([`Talc::release_held`] does on demand).
//! So memory grows only when the core, with every held block given back,
//! has no chunk for the request at that moment. (Where earlier requests
//! were placed does differ: a held hole is not offered to other sizes
//! until then; see the README.)
//!
//! Why these rules and no other (`size-report/EXPERIMENTS.md` has the
//! measurements): a cap on the bytes held costs small-object speed and
//! did not help a program run ten times (its next run reuses held blocks
//! where they lie); giving everything back when the last block is freed
//! makes each run start from one merged heap. The work of giving back is
//! paid once per block freed (each held block is released once).
//!
//! The classes are the chunk sizes from four words (the smallest chunk) in
//! steps of a grain: 32 of them, for chunks of up to 66 words (blocks of
//! up to 256 B on wasm32, 512 B on 64-bit targets). A class is exact: any
//! chunk on a list holds any request of its class. A request aligned past
//! a grain (payloads always are grain aligned) takes a held block only if
//! one of the first 16 of its list happens to be aligned.

use crate::chunk::{get, link, set_link, GRAIN, MIN_CHUNK, WORD};
use crate::oom::OomHandler;
use crate::talc::Talc;

/// The number of classes: chunk sizes `MIN_CHUNK + k * GRAIN`, `k` below it.
pub(crate) const CLASSES: usize = 32;

/// Held chunks looked at for a request aligned past a grain.
const ALIGNED_LOOKS: usize = 16;

/// The class of a chunk of `size` bytes (a header word's flags do not
/// change it), or `CLASSES` or more when it has none.
#[inline(always)]
pub(crate) const fn class_of(size: usize) -> usize {
    size.wrapping_sub(MIN_CHUNK) / GRAIN
}

impl<O: OomHandler> Talc<O> {
    /// A held chunk of exactly `need` bytes (a chunk size) whose payload is
    /// aligned to `align`, taken off its list, as its payload; or null.
    ///
    /// # Safety
    /// The held lists must be as this module keeps them (chunks of this
    /// `Talc`'s heaps, each linked through its first payload word).
    #[inline(always)]
    pub(crate) unsafe fn pop_held(&mut self, need: usize, align: usize) -> *mut u8 {
        let class = class_of(need);
        if class >= CLASSES {
            return core::ptr::null_mut();
        }
        let c = self.held[class];
        if c.is_null() {
            return c;
        }
        if align > GRAIN {
            // SAFETY: as below.
            return unsafe { self.pop_aligned(class, align) };
        }
        // SAFETY: a held chunk is an allocated chunk of a heap whose first
        // payload word links the next one.
        unsafe {
            self.held[class] = link(c.add(WORD));
            self.unhold(c)
        }
    }

    /// A held chunk of `class` whose payload is aligned to `align`, among
    /// the first few of its list (one in two is, for twice a grain), taken
    /// off it; or null.
    ///
    /// # Safety
    /// As for [`pop_held`](Talc::pop_held).
    #[inline(never)]
    unsafe fn pop_aligned(&mut self, class: usize, align: usize) -> *mut u8 {
        // The link that points to the chunk looked at.
        let mut at: *mut *mut u8 = &mut self.held[class];
        for _ in 0..ALIGNED_LOOKS {
            // SAFETY: `at` is a list head or a held chunk's link word.
            unsafe {
                let c = *at;
                if c.is_null() {
                    break;
                }
                if (c.addr() + WORD) & (align - 1) == 0 {
                    *at = link(c.add(WORD));
                    return self.unhold(c);
                }
                at = c.add(WORD).cast();
            }
        }
        core::ptr::null_mut()
    }

    /// The payload of the held chunk `c`, just taken off its list.
    ///
    /// # Safety
    /// `c` must be a held chunk, no longer listed.
    #[inline(always)]
    unsafe fn unhold(&mut self, c: *mut u8) -> *mut u8 {
        #[cfg(any(feature = "checks", feature = "stats", feature = "counters"))]
        // SAFETY: `c` is an allocated chunk: its header is valid.
        unsafe {
            let head = get(c);
            #[cfg(any(feature = "checks", feature = "stats"))]
            crate::chunk::set(c, head & !crate::chunk::HELD);
            self.count_held(crate::chunk::size_of(head), false);
        }
        c.wrapping_add(WORD)
    }

    /// Counts a held chunk of `size` bytes as a free chunk (`held`) or no
    /// longer, for `counters` and `stats`.
    #[cfg(any(feature = "checks", feature = "stats", feature = "counters"))]
    #[inline(always)]
    fn count_held(&mut self, size: usize, held: bool) {
        #[cfg(feature = "counters")]
        if held {
            self.counters.free_chunk_added(size);
        } else {
            self.counters.free_chunk_removed(size);
        }
        #[cfg(feature = "stats")]
        self.stats.free_changed(size, if held { size } else { size.wrapping_neg() });
        let _ = (size, held);
    }

    /// Holds the allocated chunk `c` on its class's list, if it has a
    /// class; returns whether it did.
    ///
    /// # Safety
    /// `c` must be an allocated chunk of a heap of this `Talc` that its
    /// owner gives up (freed).
    #[inline(always)]
    pub(crate) unsafe fn hold(&mut self, c: *mut u8) -> bool {
        // SAFETY: `c` is an allocated chunk: its header is valid, and its
        // payload (at least three words) is now ours to link through.
        unsafe {
            let head = get(c);
            let class = class_of(head);
            if class >= CLASSES {
                return false;
            }
            set_link(c.add(WORD), self.held[class]);
            self.held[class] = c;
            #[cfg(any(feature = "checks", feature = "stats"))]
            crate::chunk::set(c, head | crate::chunk::HELD);
            #[cfg(any(feature = "checks", feature = "stats", feature = "counters"))]
            self.count_held(crate::chunk::size_of(head), true);
        }
        true
    }

    /// Frees every block the front end holds to the core for real, merging
    /// each with its free neighbours.
    ///
    /// Allocation does this by itself, as far as it needs to, before it
    /// calls the OOM handler. Call it before
    /// [`get_allocated_span`](Talc::get_allocated_span) to learn how far a
    /// heap can be truncated: for the core, held blocks are allocated.
    ///
    /// # Safety
    /// The memory handed to this `Talc` must still be valid (as for
    /// [`malloc`](Talc::malloc)).
    pub unsafe fn release_held(&mut self) {
        // SAFETY: forwarded to the caller.
        unsafe { self.release_held_for(usize::MAX) };
        #[cfg(feature = "checks")]
        self.check();
    }

    /// Frees held chunks to the core for real, from the class of `want`
    /// upward, then the smaller classes downward, the most recently held
    /// first within a class, until one merges into a
    /// free chunk of at least `want` bytes (a search then surely finds a
    /// chunk) or none is left. Returns whether it freed any: the caller
    /// searches again (a chunk smaller than `want` may still hold its
    /// block), and calls the OOM handler only when nothing was held.
    ///
    /// Only as much as a request needs leaves the lists: a request that no
    /// held block serves (another size, or an alignment none of them has)
    /// takes one or a few held blocks, not all of them.
    ///
    /// # Safety
    /// As for [`release_held`](Talc::release_held).
    // Rare (before growth): one copy, out of the hot paths.
    #[inline(never)]
    pub(crate) unsafe fn release_held_for(&mut self, want: usize) -> bool {
        let mut any = false;
        // From the class that surely holds the request upward, then the
        // smaller ones, the largest first: a small request takes a held
        // block of about its size, not the largest one (which a larger
        // request may want next).
        let from = class_of(want).min(CLASSES);
        for class in (from..CLASSES).chain((0..from).rev()) {
            loop {
                let c = self.held[class];
                if c.is_null() {
                    break;
                }
                // SAFETY: a held chunk is an allocated chunk of a heap,
                // linked through its first payload word; `release` frees
                // it as `free` would have.
                unsafe {
                    self.held[class] = link(c.add(WORD));
                    #[cfg(any(feature = "checks", feature = "stats", feature = "counters"))]
                    self.count_held(MIN_CHUNK + class * GRAIN, false);
                    any = true;
                    let merged = self.release(c);
                    // The figures follow at once: the request may still
                    // fail, and a failure does not bring them up to date.
                    #[cfg(feature = "stats")]
                    self.stats_changed();
                    if merged >= want {
                        return true;
                    }
                }
            }
        }
        any
    }
}
