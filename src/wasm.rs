//! WebAssembly: [`WasmHandler`] grows linear memory on demand, and
//! [`TalckWasm`] is the ready global allocator.
//!
//! Growth: when no free chunk fits, the handler asks `memory.grow` for the
//! pages the request needs (its size, its alignment, the chunk's tag and
//! the heap's sentinel, and the metadata on first use), less the free chunk
//! on top of its heap when that heap ends where memory does (the new pages
//! will join it), and no more: see [`MIN_GROW_PAGES`]. If the new pages
//! start where its heap ends, the heap is extended, so freed memory joins
//! across growth steps. If not, someone else (JavaScript, another
//! allocator, a direct `memory.grow`) grew memory in between: the new pages
//! become a separate heap, and the foreign pages are never touched.

#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

use core::alloc::Layout;

use crate::talc::{META_SIZE, WORD};
#[cfg(target_arch = "wasm32")]
use crate::{OomHandler, Talc};

const PAGE: usize = 1 << 16;

/// The fewest pages grown at once. Measured in V8 (`size-report/EXPERIMENTS.md`):
/// growing 4 or 16 pages at a time was no faster than growing exactly what a
/// request needs, and held up to 16 times more memory on small heaps; so
/// talcum grows exactly what is needed.
pub const MIN_GROW_PAGES: usize = 1;

#[cfg(target_arch = "wasm32")]
/// Grows WebAssembly linear memory when the allocator runs out.
#[derive(Debug)]
pub struct WasmHandler {
    /// The top of the heap this handler grew last: the one to extend
    /// next time (null before the first).
    top: *mut u8,
}

#[cfg(target_arch = "wasm32")]
impl WasmHandler {
    /// A handler with no memory yet.
    pub const fn new() -> Self {
        Self { top: core::ptr::null_mut() }
    }
}

// SAFETY: `top` is only an address to compare with, and to extend from under
// the owning `Talc`'s exclusive access.
#[cfg(target_arch = "wasm32")]
unsafe impl Send for WasmHandler {}

#[cfg(target_arch = "wasm32")]
impl Default for WasmHandler {
    fn default() -> Self {
        Self::new()
    }
}

/// Pages enough for `layout` in a fresh region (also when the region
/// becomes a new heap, or the first one, with the metadata), given that
/// `reused` bytes on top of the heap join the region.
fn pages_for(layout: Layout, first_heap: bool, reused: usize) -> usize {
    // The payload (at least two words, rounded up to a word: one more word
    // covers the rounding), padding for alignment (at most `align - WORD`,
    // plus the tag's word), the sentinel, and a word lost if the region ends
    // at the top of the address space; less what the heap's top already
    // offers when the pages will extend it. A layout's size and alignment
    // are each under `2^(usize::BITS - 1)`, so the `u64` sum cannot overflow,
    // and its page count (under `2^(usize::BITS - 16) + 1`) fits a `usize`.
    let meta = if first_heap { META_SIZE } else { 0 };
    let bytes = layout.size().max(2 * WORD) as u64
        + layout.align().max(WORD) as u64
        + (3 * WORD + meta) as u64;
    let pages =
        bytes.saturating_sub(reused as u64).div_ceil(PAGE as u64).max(MIN_GROW_PAGES as u64);
    pages as usize
}

#[cfg(target_arch = "wasm32")]
impl OomHandler for WasmHandler {
    fn handle_oom(talc: &mut Talc<Self>, layout: Layout) -> Result<(), ()> {
        use core::arch::wasm32::{memory_grow, memory_size};
        let top = talc.oom_handler.top;
        // When our heap ends where memory does, the new pages will extend
        // it, and its free top (with the old sentinel) joins them: only the
        // rest must be grown. (Should someone grow memory first after all,
        // the pages become a heap of their own, too small, and the next call
        // sizes the request in full.)
        let reused = if !top.is_null() && top.addr() == memory_size(0).wrapping_mul(PAGE) {
            // SAFETY: `top` is the acme of our heap.
            top.addr() - unsafe { Talc::<Self>::free_top(top) }.addr()
        } else {
            0
        };
        let pages = pages_for(layout, !talc.has_metadata(), reused);
        let old_pages = memory_grow(0, pages);
        if old_pages == usize::MAX {
            return Err(());
        }
        // The region's end may be 2^32, which does not fit in a `usize` (the
        // product wraps to 0 there, and only there: memory holds at most 2^16
        // pages): the heap then stops one word short.
        let base = core::ptr::with_exposed_provenance_mut::<u8>(old_pages * PAGE);
        let end = (old_pages + pages).wrapping_mul(PAGE);
        let acme = base.with_addr(if end == 0 { usize::MAX & !(WORD - 1) } else { end });
        // SAFETY: the grown pages are new and ours alone, page aligned and
        // big enough (`pages_for`), and not at address 0: memory was not
        // empty before, since this `Talc` itself lives in it. `top` is our
        // heap's acme, or null.
        talc.oom_handler.top = unsafe { talc.add_memory(top, base, acme) };
        Ok(())
    }
}

/// The global allocator for single-threaded WebAssembly: a [`Talc`] over
/// [`WasmHandler`], with no lock.
///
/// ```ignore
/// #[global_allocator]
/// static ALLOC: talcum::TalckWasm = unsafe { talcum::TalckWasm::new_global() };
/// ```
///
/// It exists only on WebAssembly without the `atomics` target feature, where
/// there are no threads. With `atomics`, use [`Talck`](crate::Talck) over a
/// real lock (see the crate docs).
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
pub type TalckWasm = crate::TalckSingleThreaded<WasmHandler>;

#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
impl crate::TalckSingleThreaded<WasmHandler> {
    /// The global allocator, to put in a `static`.
    ///
    /// # Safety
    /// Make it the program's `#[global_allocator]` (or use it from one
    /// thread only, and never from its own OOM handler). WebAssembly without
    /// `atomics` has a single thread, so this always holds there.
    pub const unsafe fn new_global() -> Self {
        // SAFETY: single-threaded target, per this function's contract.
        unsafe { Self::new(Talc::new(WasmHandler::new())) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_counts() {
        let small = Layout::from_size_align(1, 1).unwrap();
        assert_eq!(pages_for(small, true, 0), 1);
        let mib = Layout::from_size_align(1 << 20, 8).unwrap();
        assert!(pages_for(mib, false, 0) * PAGE >= (1 << 20) + 3 * WORD);
        let aligned = Layout::from_size_align(1 << 20, 1 << 20).unwrap();
        assert!(pages_for(aligned, false, 0) * PAGE >= (2 << 20) + 2 * WORD);
        // What the heap's top offers counts toward the request, never below
        // one page, and never short of the rest.
        let half = 1 << 19;
        let rest = pages_for(mib, false, half);
        assert!(rest < pages_for(mib, false, 0));
        assert!(rest * PAGE + half >= (1 << 20) + 3 * WORD);
        assert_eq!(pages_for(small, false, 1 << 20), MIN_GROW_PAGES);
        // Near `isize::MAX`: a page count whose bytes cover the request
        // (`memory.grow` then refuses it); never a wrapped small one.
        let huge = Layout::from_size_align(isize::MAX as usize, 1).unwrap();
        assert!(pages_for(huge, true, 0) as u128 * PAGE as u128 >= isize::MAX as u128 + 3);
        let huge_aligned = Layout::from_size_align(1, 1 << (usize::BITS - 2)).unwrap();
        assert!(pages_for(huge_aligned, true, 0) as u128 * PAGE as u128 > 1 << (usize::BITS - 2));
    }
}
