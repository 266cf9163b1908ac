//! The integrity checker (feature `checks`).
//!
//! After every public operation, [`Talc::check`] walks every heap chunk by
//! chunk and every bin node by node, and panics with a message naming the
//! broken invariant. Before a free or resize, the pointer is checked to be a
//! live allocation, which catches double frees and foreign pointers. It is
//! slow (each operation costs a walk of all memory) and meant for tests.

use crate::bins::{bin_of, BIN_COUNT};
use crate::list::{self, FreeNode};
use crate::span::Span;
use crate::talc::{MIN_CHUNK, WORD};
use crate::{tag, OomHandler, Talc};
use core::ptr::NonNull;

/// How many heaps the checker can follow.
const MAX_HEAPS: usize = 64;

/// The heaps of a `Talc`, as the checker knows them.
pub(crate) struct HeapList {
    heaps: [Span; MAX_HEAPS],
    len: usize,
}

impl HeapList {
    pub(crate) const fn new() -> Self {
        Self { heaps: [Span::empty(); MAX_HEAPS], len: 0 }
    }

    pub(crate) fn clear(&mut self) {
        self.len = 0;
    }

    pub(crate) fn add(&mut self, heap: Span) {
        assert!(self.len < MAX_HEAPS, "talcum checks: more than {MAX_HEAPS} heaps");
        self.heaps[self.len] = heap;
        self.len += 1;
    }

    pub(crate) fn top_moved(&mut self, old: *mut u8, new: *mut u8) {
        let Some(i) = self.all().iter().position(|h| h.acme() == old) else {
            panic!("talcum checks: no heap of this allocator ends at {old:p}");
        };
        self.heaps[i] = Span::new(self.heaps[i].base(), new);
    }

    pub(crate) fn remove(&mut self, heap: Span) {
        let Some(i) = self.all().iter().position(|&h| h == heap) else {
            panic!("talcum checks: {heap:?} is not a heap of this allocator");
        };
        self.len -= 1;
        self.heaps[i] = self.heaps[self.len];
    }

    fn all(&self) -> &[Span] {
        &self.heaps[..self.len]
    }
}

impl<O: OomHandler> Talc<O> {
    /// Walks every heap and bin and panics on any broken invariant.
    pub(crate) fn check(&self) {
        let bins = self.bins_ptr();
        if bins.is_null() {
            assert_eq!(self.heaps.len, 0, "talcum checks: heaps without metadata");
            assert_eq!(self.avail_bits(), 0, "talcum checks: bitmap without bins");
            return;
        }
        let mut free_chunks = 0;
        for &heap in self.heaps.all() {
            // SAFETY: the heaps are valid memory of this allocator.
            free_chunks += unsafe { self.check_heap(heap) };
        }
        // SAFETY: as above; the bins live in the arena.
        let listed = unsafe { self.check_bins(bins, free_chunks) };
        assert_eq!(listed, free_chunks, "talcum checks: free chunks missing from the bins");
        for &heap in self.heaps.all() {
            // SAFETY: as above.
            unsafe { self.check_listed(heap, bins, free_chunks) };
        }
    }

    /// Walks `heap` chunk by chunk; returns its number of free chunks.
    unsafe fn check_heap(&self, heap: Span) -> usize {
        let (base, acme) = heap.get_base_acme().expect("talcum checks: empty heap");
        assert!(
            base.addr() % WORD == 0 && acme.addr() % WORD == 0,
            "talcum checks: unaligned heap"
        );
        let mut at = base;
        let mut below_free = false;
        let mut free_chunks = 0;
        loop {
            assert!(at.addr() < acme.addr(), "talcum checks: chunks overrun the heap {heap:?}");
            // SAFETY: `at` lies inside the heap.
            let word = unsafe { *at.cast::<usize>() };
            if tag::is_allocated(word) {
                let top = tag::acme(word);
                assert!(top > at.addr() && top <= acme.addr(), "talcum checks: bad tag at {at:p}");
                assert_eq!(
                    tag::is_below_free(word),
                    below_free,
                    "talcum checks: wrong below-free flag at {at:p}"
                );
                if top == acme.addr() {
                    assert_eq!(top - at.addr(), WORD, "talcum checks: sentinel is not one word");
                    return free_chunks;
                }
                below_free = false;
                at = at.with_addr(top);
            } else {
                assert!(!below_free, "talcum checks: two free chunks touch at {at:p}");
                // SAFETY: a free chunk starts at `at`: its size word is inside it.
                let size = unsafe { list::size_of(at) };
                assert!(
                    size >= MIN_CHUNK && size % WORD == 0 && size < acme.addr() - at.addr(),
                    "talcum checks: bad free chunk size {size} at {at:p}"
                );
                // SAFETY: the chunk is in the heap.
                let top_size = unsafe { list::size_below(at.add(size)) };
                assert_eq!(size, top_size, "talcum checks: free chunk size words differ at {at:p}");
                free_chunks += 1;
                below_free = true;
                at = at.wrapping_add(size);
            }
        }
    }

    /// Walks every bin list forward; returns the number of nodes.
    unsafe fn check_bins(&self, bins: *mut *mut FreeNode, limit: usize) -> usize {
        let mut count = 0;
        for bin in 0..BIN_COUNT {
            // SAFETY: the bins array has BIN_COUNT slots.
            let slot = unsafe { bins.add(bin) };
            // SAFETY: as above.
            let mut node = unsafe { *slot };
            let bit = self.avail_bits() >> bin & 1 == 1;
            // A bin's bit may outlive its last chunk (cleared lazily by the
            // search), never the other way round.
            assert!(
                bit || node.is_null(),
                "talcum checks: bin {bin} holds chunks, its bit is clear"
            );
            let mut prev_next = slot;
            while !node.is_null() {
                count += 1;
                assert!(
                    count <= limit,
                    "talcum checks: bin lists hold more nodes than free chunks"
                );
                let at = node.cast::<u8>();
                assert!(
                    self.heaps.all().iter().any(|h| h.contains(at)),
                    "talcum checks: bin {bin} links to {at:p}, outside every heap"
                );
                // SAFETY: `node` lies in a heap; its size was checked by the walk
                // if it is a real free chunk, else the asserts below fail.
                unsafe {
                    assert_eq!(
                        (*node).prev_next,
                        prev_next,
                        "talcum checks: broken back link at {at:p}"
                    );
                    assert_eq!(
                        bin_of(list::size_of(at)),
                        bin,
                        "talcum checks: chunk {at:p} in wrong bin"
                    );
                    prev_next = &raw mut (*node).next;
                    node = (*node).next;
                }
            }
        }
        count
    }

    /// Checks that every free chunk of `heap` is reachable from its bin's
    /// head by following the back links.
    unsafe fn check_listed(&self, heap: Span, bins: *mut *mut FreeNode, limit: usize) {
        let bins_span = Span::new(bins.cast(), bins.wrapping_add(BIN_COUNT).cast());
        let mut at = heap.base();
        while at != heap.acme() {
            // SAFETY: the heap walk above proved this tiling.
            let word = unsafe { *at.cast::<usize>() };
            if tag::is_allocated(word) {
                at = at.with_addr(tag::acme(word));
                continue;
            }
            // SAFETY: `at` is a free chunk.
            let size = unsafe { list::size_of(at) };
            let mut slot: *mut *mut FreeNode = at.cast();
            for _ in 0..=limit {
                // SAFETY: links were checked to stay in heaps or the bins.
                slot = unsafe { (*slot.cast::<FreeNode>()).prev_next };
                if bins_span.contains(slot.cast()) {
                    break;
                }
            }
            let bin = (slot.addr() - bins.addr()) / WORD;
            assert!(
                bins_span.contains(slot.cast()),
                "talcum checks: free chunk {at:p} not in a bin"
            );
            assert_eq!(bin, bin_of(size), "talcum checks: free chunk {at:p} in the wrong bin");
            at = at.wrapping_add(size);
        }
    }

    /// Panics unless `ptr` is a live allocation of this allocator.
    pub(crate) fn check_allocation(&self, ptr: NonNull<u8>) {
        let ptr = ptr.as_ptr();
        let Some(&heap) = self.heaps.all().iter().find(|h| h.contains(ptr)) else {
            panic!("talcum checks: {ptr:p} is outside every heap: not allocated by this allocator");
        };
        let mut at = heap.base();
        let mut first = true;
        loop {
            // SAFETY: walking the tiling of a valid heap.
            let word = unsafe { *at.cast::<usize>() };
            let top = if tag::is_allocated(word) {
                tag::acme(word)
            } else {
                // SAFETY: `at` is a free chunk.
                at.addr() + unsafe { list::size_of(at) }
            };
            if ptr.addr() < top {
                let is_meta = first && heap == self.get_arena();
                let is_sentinel = top == heap.acme().addr();
                assert!(
                    tag::is_allocated(word),
                    "talcum checks: {ptr:p} lies in a free chunk: double free or use after free"
                );
                assert!(!is_meta && !is_sentinel, "talcum checks: {ptr:p} is not an allocation");
                assert!(ptr.addr() > at.addr(), "talcum checks: {ptr:p} is not an allocation");
                // SAFETY: `ptr` is past the tag, so `ptr - WORD` is in this chunk.
                let below = unsafe { *crate::talc::heap_ptr::<usize>(ptr.addr() - WORD) };
                let tag_at = if tag::is_allocated(below) { ptr.addr() - WORD } else { below };
                assert_eq!(
                    tag_at,
                    at.addr(),
                    "talcum checks: {ptr:p} is not the start of an allocation"
                );
                return;
            }
            first = false;
            at = at.with_addr(top);
        }
    }
}
