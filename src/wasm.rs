//! [`WasmHandler`]: the core's OOM handler over a [`LinearMemory`],
//! WebAssembly's memory in a wasm build.
//!
//! First use: the handler takes the memory's initial part, if it offers one
//! (`TalckWasm` does: the memory the module starts with, from the linker's
//! `__heap_base` to `__heap_end`; see [`WasmMemory::with_initial_memory`]);
//! a small program may never grow.
//!
//! Growth: when no free chunk fits, the handler asks `memory.grow` for the
//! pages the request needs (its size, its alignment, the chunk's header and the
//! heap's sentinel), less the free chunk on top of the allocator's last heap
//! when that heap ends where memory does (the new pages will join it), but that
//! free top counts for at most half the request: a growth is at least half the
//! request, so a buffer that creeps up at each use does not call `memory.grow`
//! at each use (each call is slow, and detaches JavaScript's views of memory).
//! If the new pages start where that heap ends, the heap is extended, so freed
//! memory joins across growth steps. If not, someone else (JavaScript, another
//! allocator, a direct `memory.grow`) grew memory in between: the new pages
//! become a separate heap, and the foreign pages are never touched.
//!
//! The memory is a [`LinearMemory`]: WebAssembly's own ([`WasmMemory`]) in
//! a wasm build, where it compiles to the two instructions; a simulated one
//! over a host buffer in the native tests, Miri and the fuzzer, which thus
//! run this very handler.

use core::alloc::Layout;

use crate::chunk::{chunk_size, GRAIN, WORD};
use crate::memory::{LinearMemory, WasmMemory, WASM_PAGE_SIZE as PAGE};
use crate::{OomHandler, Talc};

/// The fewest pages grown at once. Measured in V8 (`size-report/EXPERIMENTS.md`):
/// growing 4 or 16 pages at a time was no faster than growing exactly what a
/// request needs, and held up to 16 times more memory on small heaps; so the
/// floor is one page (growth is still at least half the request).
pub const MIN_GROW_PAGES: usize = 1;

/// An [`OomHandler`] that grows linear memory when the allocator runs out.
///
/// When no free chunk fits, it grows the pages the request needs (its size, its
/// alignment, the chunk's header and the heap's sentinel), less the free chunk
/// on top of the `Talc`'s last heap ([`Talc::get_last_heap_acme`]) when that
/// heap ends where memory does (the new pages will join it), up to half the
/// request (see the module docs). Before its first growth it takes the memory's
/// initial free part, if its [`LinearMemory`] offers one
/// ([`take_initial`](LinearMemory::take_initial)). If the new pages start where
/// that heap ends, the heap is extended, so freed memory joins across growth
/// steps. If not, someone else (JavaScript, another allocator, a direct
/// `memory.grow`) grew memory in between, or the heap was truncated: the new
/// pages become a separate heap, and pages that are not ours are never touched.
/// When such pages were sized counting the free top they did not join, they may
/// be too small for the request: then the handler grows once more, in full
/// (extending them when they end where memory does), so a request never takes
/// more than two growths.
///
/// The handler keeps no state of its own beyond the memory: what it extends
/// is read from its `Talc` at each call, so it follows `init`, `claim`,
/// `extend` and `truncate`. After `init` (or an `init` that failed) growth
/// starts a new arena; after `truncate` of the last heap, the next growth
/// starts a separate heap (wasm memory cannot shrink, so the released pages
/// stay unused by this allocator); after `claim`, the claimed heap is the
/// one extended if memory ends where it does.
#[derive(Debug, Default)]
pub struct WasmHandler<M = WasmMemory> {
    memory: M,
}

#[cfg(target_family = "wasm")]
impl WasmHandler<WasmMemory> {
    /// The handler for WebAssembly's own memory.
    pub const fn new() -> Self {
        Self { memory: WasmMemory::new() }
    }
}

impl<M: LinearMemory> WasmHandler<M> {
    /// A handler that grows `memory`.
    pub const fn with_memory(memory: M) -> Self {
        Self { memory }
    }

    /// The memory this handler grows.
    pub fn memory(&self) -> &M {
        &self.memory
    }
}

/// Pages enough for `layout` in a fresh region (also when the region
/// becomes a new heap), given that `reused` bytes on top of the heap join
/// the region; and whether those pages hold the request even as a heap of
/// their own (without `reused`).
fn pages_for(layout: Layout, reused: usize) -> (usize, bool) {
    // The block's chunk, the padding an alignment past a grain may leave
    // below it (at most the alignment and a grain), and three words: one
    // lost to where chunks start and end (a region of whole pages starts
    // and ends on a grain boundary, and the first chunk starts a word past
    // it), the sentinel, and a word lost if the region ends at the top of
    // the address space. A layout's size rounded up to its
    // alignment is at most `isize::MAX`, so the sum stays under `usize::MAX`
    // by far more than a page.
    let pad = if layout.align() > GRAIN { layout.align() + GRAIN } else { 0 };
    let bytes = chunk_size(layout.size()) + pad + 3 * WORD;
    // What the heap's top already offers joins the new pages when they
    // extend it; it counts for at most half the request, so the growth is
    // at least half of it: a request that creeps up a little at each use
    // (a scratch buffer) does not grow memory at every use.
    let grow = bytes - reused.min(bytes / 2);
    // `grow` is at least half of `bytes`, so never 0: one page or more.
    let pages = grow.div_ceil(PAGE);
    let pages = if MIN_GROW_PAGES > 1 { pages.max(MIN_GROW_PAGES) } else { pages };
    // Whether they hold it alone: but for the word lost at the top of the
    // address space, which is then lost for good (a region there holds one
    // word less, and nothing can grow past it: the request fails then).
    (pages, pages * PAGE + WORD >= bytes)
}

// SAFETY: changes the `Talc` through `add_memory` (what `claim` and `extend`
// share) only.
unsafe impl<M: LinearMemory> OomHandler for WasmHandler<M> {
    fn handle_oom(talc: &mut Talc<Self>, layout: Layout) -> Result<(), ()> {
        // First the memory that is already there, as a heap of its own.
        if let Some(initial) = talc.oom_handler.memory.take_initial() {
            let heap = crate::talc::heap_span(initial);
            if let Some((base, acme)) = heap.get_base_acme() {
                if crate::talc::holds_a_chunk(heap) {
                    // SAFETY: the memory is ours alone (`LinearMemory`'s
                    // contract), word aligned, off address 0, big enough.
                    unsafe { talc.add_memory(core::ptr::null_mut(), base, acme, true) };
                    return Ok(());
                }
            }
        }
        let mut top = talc.get_last_heap_acme();
        let mut full = false;
        loop {
            // When the last heap ends where memory does, the new pages will
            // extend it, and its free top (with the old sentinel) joins them:
            // only the rest must be grown.
            let reused = if !full && joins(top, talc.oom_handler.memory.end()) {
                // SAFETY: a heap of this `Talc` ends at `top`.
                top.addr() - unsafe { Talc::<Self>::free_top(top) }.addr()
            } else {
                0
            };
            let (pages, alone) = pages_for(layout, reused);
            let new = talc.oom_handler.memory.grow(pages).ok_or(())?;
            #[cfg(feature = "stats")]
            talc.stats.grown(pages);
            // SAFETY: the grown pages are new and ours alone, word aligned,
            // off address 0 and big enough (`LinearMemory`'s contract,
            // `pages_for`); `top` is the last heap's acme, or null.
            unsafe { talc.add_memory(top, new.base(), new.acme(), true) };
            if alone || joins(top, new.base().addr()) {
                return Ok(());
            }
            // Someone grew memory in between: the pages became a heap of
            // their own, too small (when they are not, as a growth of one
            // page often is, they serve). Once more, in full (at most two
            // growths, however busy the others are), extending that heap
            // when nobody grew memory again.
            full = true;
            top = talc.get_last_heap_acme();
        }
    }

    #[inline]
    fn extends_heap_at(&self, acme: *mut u8) -> bool {
        joins(acme, self.memory.end())
    }
}

/// Whether memory from `at` on extends the heap that ends at `top` (null
/// for none): it starts there.
#[inline]
fn joins(top: *mut u8, at: usize) -> bool {
    !top.is_null() && top.addr() == at
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A handler's `Default` gives its memory's: for `WasmMemory`, one
    /// without the initial memory (issue 22, defect 1).
    #[test]
    fn a_default_handler_leaves_the_initial_memory_alone() {
        assert!(WasmHandler::<WasmMemory>::default().memory.no_initial);
    }

    #[test]
    fn page_counts() {
        let small = Layout::from_size_align(1, 1).unwrap();
        assert_eq!(pages_for(small, 0).0, 1);
        let mib = Layout::from_size_align(1 << 20, 8).unwrap();
        assert!(pages_for(mib, 0).0 * PAGE >= (1 << 20) + 3 * WORD);
        let aligned = Layout::from_size_align(1 << 20, 1 << 20).unwrap();
        assert!(pages_for(aligned, 0).0 * PAGE >= (2 << 20) + 3 * WORD);
        // What the heap's top offers counts toward the request, never below
        // one page, and never short of the rest.
        let half = 1 << 19;
        let rest = pages_for(mib, half).0;
        assert!(rest < pages_for(mib, 0).0);
        assert!(rest * PAGE + half >= (1 << 20) + 3 * WORD);
        assert_eq!(pages_for(small, 1 << 20).0, MIN_GROW_PAGES);
        // Whether the pages hold the request as a heap of their own: its
        // chunk and two words (a chunk of a page less two words fits in one
        // page), but for a word lost at the top of the address space.
        assert!(pages_for(mib, 0).1 && pages_for(small, 1 << 20).1);
        assert!(!pages_for(mib, half).1);
        let a_page = Layout::from_size_align(PAGE - 3 * WORD, WORD).unwrap();
        assert_eq!(chunk_size(a_page.size()), PAGE - 2 * WORD);
        assert_eq!(pages_for(a_page, 0), (2, true));
        assert_eq!(pages_for(a_page, PAGE), (1, true));
        let a_grain_more = Layout::from_size_align(PAGE - 3 * WORD + 1, WORD).unwrap();
        assert_eq!(pages_for(a_grain_more, PAGE), (1, false));
        let at_the_end = Layout::from_size_align(PAGE - 5 * WORD, WORD).unwrap();
        assert_eq!(pages_for(at_the_end, 0), (1, true));
        // Near `isize::MAX`: a page count whose bytes cover the request
        // (`memory.grow` then refuses it); never a wrapped small one.
        let huge = Layout::from_size_align(isize::MAX as usize, 1).unwrap();
        assert!(pages_for(huge, 0).0 as u128 * PAGE as u128 >= isize::MAX as u128 + 3);
        let huge_aligned = Layout::from_size_align(1, 1 << (usize::BITS - 2)).unwrap();
        assert!(pages_for(huge_aligned, 0).0 as u128 * PAGE as u128 > 1 << (usize::BITS - 2));
    }
}
