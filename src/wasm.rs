//! WebAssembly: [`WasmHandler`] grows linear memory on demand, and
//! [`TalckWasm`] is the ready global allocator.
//!
//! First use: `TalckWasm` takes the memory the module starts with, from the
//! linker's `__heap_base` to `__heap_end`, as its first heap (see
//! [`WasmMemory::with_initial_memory`]); a small program may never grow.
//!
//! Growth: when no free chunk fits, the handler asks `memory.grow` for the
//! pages the request needs (its size, its alignment, the chunk's tag and
//! the heap's sentinel, and the metadata on first use), less the free chunk
//! on top of the allocator's last heap when that heap ends where memory does
//! (the new pages will join it), but that free top counts for at most half
//! the request: a growth is at least half the request, so a buffer that
//! creeps up at each use does not call `memory.grow` at each use (each call
//! is slow, and detaches JavaScript's views of memory). If the new pages
//! start where that heap ends, the heap is extended, so freed memory joins
//! across growth steps. If not, someone else (JavaScript, another
//! allocator, a direct `memory.grow`) grew memory in between: the new pages
//! become a separate heap, and the foreign pages are never touched.
//!
//! The memory is a [`LinearMemory`]: WebAssembly's own ([`WasmMemory`]) in
//! a wasm build, where it compiles to the two instructions; a simulated one
//! over a host buffer in the native tests, Miri and the fuzzer, which thus
//! run this very handler.

use core::alloc::Layout;

use crate::talc::{META_SIZE, WORD};
use crate::{OomHandler, Span, Talc};

/// The size of a WebAssembly page: linear memory grows by whole pages.
pub const WASM_PAGE_SIZE: usize = 1 << 16;
const PAGE: usize = WASM_PAGE_SIZE;

/// The fewest pages grown at once. Measured in V8 (`size-report/EXPERIMENTS.md`):
/// growing 4 or 16 pages at a time was no faster than growing exactly what a
/// request needs, and held up to 16 times more memory on small heaps; so the
/// floor is one page (growth is still at least half the request).
pub const MIN_GROW_PAGES: usize = 1;

/// A linear memory that grows by pages of [`WASM_PAGE_SIZE`] bytes and never
/// shrinks: what [`WasmHandler`] grows. [`WasmMemory`] is WebAssembly's own
/// (`memory.size` and `memory.grow`); tests implement it over a host buffer
/// to drive the real handler natively, under Miri and in the fuzzer.
///
/// # Safety
/// An implementation promises, for each value of it:
/// * [`grow`](LinearMemory::grow) returns `None`, or memory that is valid for
///   reads and writes, word aligned, not at address 0, all zero (as
///   WebAssembly's new pages are: [`Talc::malloc_zeroed`] relies on it), and
///   used by nothing else (not even by an earlier `grow`), for as long as
///   the program runs;
///   it is `pages` pages long, or one word less when it ends at the top of
///   the address space (where its acme could not be represented).
/// * [`end`](LinearMemory::end) returns where the next `grow` would start
///   if nobody else grew the memory first (0 when that is past the top of the
///   address space), and the memory below it is never handed out again.
/// * [`take_initial`](LinearMemory::take_initial) returns `None`, or memory
///   with the same promises as `grow`'s (any size; it need not end at
///   `end`), and does so at most once for the program's memory, whatever the
///   number of values.
pub unsafe trait LinearMemory {
    /// The address where the memory ends now.
    fn end(&self) -> usize;
    /// Grows the memory by `pages` pages and returns them, or `None` when the
    /// memory cannot grow that much.
    fn grow(&mut self, pages: usize) -> Option<Span>;
    /// Memory that was there before any growth and is free for the
    /// allocator: [`WasmHandler`] takes it as a heap when it first runs out,
    /// before it grows anything. `None` (the default) when there is none, or
    /// it was taken.
    fn take_initial(&mut self) -> Option<Span> {
        None
    }
}

/// WebAssembly's linear memory 0, grown with `memory.grow`. It implements
/// [`LinearMemory`] on wasm32, and on wasm64 (memory64, nightly: the
/// crate then enables `simd_wasm64` for `core::arch::wasm64`).
///
/// A module starts with some memory beyond its data and stack: from the
/// linker's `__heap_base` to `__heap_end`, the end of the initial memory.
/// [`with_initial_memory`](WasmMemory::with_initial_memory) hands that over
/// (on `wasm32-unknown-unknown` only: on WASI, libc's own `malloc` owns it),
/// so a small program may never grow memory at all. `TalckWasm` uses it.
///
/// Its `Default` is [`new`](WasmMemory::new): the right to the initial
/// memory comes only from the `unsafe` constructor, never from safe code.
#[derive(Debug)]
pub struct WasmMemory {
    /// Whether [`take_initial`](LinearMemory::take_initial) may no longer
    /// hand over the initial memory (false when it may: a global allocator
    /// then stays all zeros, in `.bss`, not in a data segment).
    #[cfg_attr(not(target_family = "wasm"), allow(dead_code))]
    no_initial: bool,
}

impl WasmMemory {
    /// The memory, grown as needed; the initial memory is left alone.
    pub const fn new() -> Self {
        Self { no_initial: true }
    }

    /// The memory, with the initial memory from `__heap_base` to
    /// `__heap_end` handed over to the allocator before anything is grown.
    ///
    /// # Safety
    /// Nothing else may use that memory: make at most one such value in a
    /// program, and do not call another allocator that takes it. (On
    /// `wasm32-unknown-unknown`, std's `System` allocator, dlmalloc, takes
    /// the same memory when first called directly; with talcum as the
    /// global allocator std itself never calls it.)
    pub const unsafe fn with_initial_memory() -> Self {
        Self { no_initial: false }
    }
}

/// The memory without the initial memory: a safe `Default` must not hand
/// over what only [`WasmMemory::with_initial_memory`] may (the derived one
/// did, so safe code could build two allocators over the same bytes).
impl Default for WasmMemory {
    fn default() -> Self {
        Self::new()
    }
}

/// The initial memory's free part, `[__heap_base, __heap_end)`, if the
/// linker reports one.
#[cfg(all(target_family = "wasm", target_os = "unknown"))]
fn initial_memory() -> Option<Span> {
    extern "C" {
        static __heap_base: u8;
        static __heap_end: u8;
    }
    // Only the addresses: the memory is reached as `memory.grow`'s pages
    // are, with exposed provenance (wasm memory is one allocation).
    let base = (&raw const __heap_base).addr();
    let end = (&raw const __heap_end).addr();
    // No `__heap_base`, or no gap: nothing to take.
    if base == 0 || end <= base {
        return None;
    }
    let base = core::ptr::with_exposed_provenance_mut::<u8>(base);
    Some(Span::new(base, base.with_addr(end)))
}

/// On WASI, libc's `malloc` owns the initial memory: nothing to take.
#[cfg(all(target_family = "wasm", not(target_os = "unknown")))]
fn initial_memory() -> Option<Span> {
    None
}

/// The memory instructions: 32-bit page counts and addresses on wasm32,
/// 64-bit ones on wasm64 (memory64), where `usize` is 64 bits.
#[cfg(target_arch = "wasm32")]
use core::arch::wasm32 as arch;
#[cfg(target_arch = "wasm64")]
use core::arch::wasm64 as arch;

// SAFETY: `memory.grow` returns fresh pages that nobody else was given; they
// stay valid forever (memory never shrinks); they start at the old size,
// which `end` reports, and are never at address 0 (memory was not empty:
// this code lives in it). At the end of the address space (4 GiB on wasm32;
// 2^64 on wasm64, past memory64's most pages, 2^48) the acme stops one word
// short. On wasm64 the bound that applies is the module's maximum memory:
// `memory.grow` beyond it fails, and so does `grow`.
// The initial memory is handed over once: only by a value made with
// `with_initial_memory`, of which a program makes at most one (its
// contract), which clears its flag.
#[cfg(target_family = "wasm")]
unsafe impl LinearMemory for WasmMemory {
    #[inline]
    fn end(&self) -> usize {
        // Wraps to 0 at the end of the address space, and only there: memory
        // holds at most 2^16 pages on wasm32, 2^48 on wasm64.
        arch::memory_size(0).wrapping_mul(PAGE)
    }

    #[inline]
    fn take_initial(&mut self) -> Option<Span> {
        if core::mem::replace(&mut self.no_initial, true) {
            return None;
        }
        initial_memory()
    }

    #[inline]
    fn grow(&mut self, pages: usize) -> Option<Span> {
        // `pages` is a `usize` on both: memory64's `memory.grow` takes an
        // i64. It returns -1 (`usize::MAX`) when the memory cannot grow so
        // much (past the maximum memory, or the address space).
        let old_pages = arch::memory_grow(0, pages);
        if old_pages == usize::MAX {
            return None;
        }
        // `old_pages + pages` is at most the memory's most pages, so neither
        // this sum nor the product with `PAGE` overflows, except that the
        // region's end may be the end of the address space, which does not
        // fit in a `usize` (the product wraps to 0 there, and only there):
        // it then stops one word short.
        let base = core::ptr::with_exposed_provenance_mut::<u8>(old_pages * PAGE);
        let end = (old_pages + pages).wrapping_mul(PAGE);
        Some(Span::new(base, base.with_addr(if end == 0 { usize::MAX & !(WORD - 1) } else { end })))
    }
}

/// An [`OomHandler`] that grows linear memory when the allocator runs out.
///
/// When no free chunk fits, it grows the pages the request needs (its size,
/// its alignment, the chunk's tag and the heap's sentinel, and the metadata
/// on first use), less the free chunk on top of the `Talc`'s last heap
/// ([`Talc::get_last_heap_acme`]) when that heap ends where memory does (the new
/// pages will join it), up to half the request (see the module docs). Before
/// its first growth it takes the memory's initial free part, if its
/// [`LinearMemory`] offers one ([`take_initial`](LinearMemory::take_initial)).
/// If the new pages
/// start where that heap ends, the heap is extended, so freed memory joins
/// across growth steps. If not, someone else (JavaScript, another allocator,
/// a direct `memory.grow`) grew memory in between, or the heap was truncated:
/// the new pages become a separate heap, and pages that are not ours are
/// never touched. When such pages were sized counting the free top they did
/// not join, they may be too small for the request: then the handler grows
/// once more, in full (extending them when they end where memory does), so
/// a request never takes more than two growths.
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
/// becomes a new heap, or the first one, with the metadata), given that
/// `reused` bytes on top of the heap join the region; and whether those
/// pages hold the request even as a heap of their own (without `reused`).
fn pages_for(layout: Layout, first_heap: bool, reused: usize) -> (usize, bool) {
    // The payload (at least two words, rounded up to a word: one more word
    // covers the rounding), padding for alignment (at most `align - WORD`,
    // plus the tag's word), the sentinel, and a word lost if the region ends
    // at the top of the address space. A layout's size rounded up to its
    // alignment is at most `isize::MAX`, so the sum stays under `usize::MAX`
    // by far more than a page.
    let meta = if first_heap { META_SIZE } else { 0 };
    let bytes = layout.size().max(2 * WORD) + layout.align().max(WORD) + (3 * WORD + meta);
    // What the heap's top already offers joins the new pages when they
    // extend it; it counts for at most half the request, so the growth is
    // at least half of it: a request that creeps up a little at each use
    // (a scratch buffer) does not grow memory at every use.
    let grow = bytes - reused.min(bytes / 2);
    let pages = grow.div_ceil(PAGE).max(MIN_GROW_PAGES);
    (pages, pages * PAGE >= bytes)
}

// SAFETY: changes the `Talc` through `add_memory` (what `claim` and `extend`
// share) only.
unsafe impl<M: LinearMemory> OomHandler for WasmHandler<M> {
    fn handle_oom(talc: &mut Talc<Self>, layout: Layout) -> Result<(), ()> {
        // First the memory that is already there, as a heap of its own.
        if let Some(initial) = talc.oom_handler.memory.take_initial() {
            let heap = crate::talc::heap_span(initial);
            let meta = if talc.has_metadata() { 0 } else { META_SIZE };
            if let Some((base, acme)) = heap.get_base_acme() {
                if heap.size() >= meta + 4 * WORD {
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
            let reused = if !full && !top.is_null() && top.addr() == talc.oom_handler.memory.end() {
                // SAFETY: a heap of this `Talc` ends at `top`.
                top.addr() - unsafe { Talc::<Self>::free_top(top) }.addr()
            } else {
                0
            };
            let (pages, alone) = pages_for(layout, !talc.has_metadata(), reused);
            let new = talc.oom_handler.memory.grow(pages).ok_or(())?;
            #[cfg(feature = "stats")]
            talc.stats.grown(pages);
            // SAFETY: the grown pages are new and ours alone, word aligned,
            // off address 0 and big enough (`LinearMemory`'s contract,
            // `pages_for`); `top` is the last heap's acme, or null.
            unsafe { talc.add_memory(top, new.base(), new.acme(), true) };
            if alone || new.base() == top {
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
        acme.addr() == self.memory.end()
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
#[cfg(all(target_family = "wasm", not(target_feature = "atomics"), not(feature = "tiny")))]
pub type TalckWasm = crate::TalckSingleThreaded<WasmHandler>;

/// The global allocator for single-threaded WebAssembly, feature `tiny`:
/// the [tiny allocator](crate::tiny), with the same setup.
///
/// ```ignore
/// #[global_allocator]
/// static ALLOC: talcum::TalckWasm = unsafe { talcum::TalckWasm::new_global() };
/// ```
#[cfg(all(target_family = "wasm", not(target_feature = "atomics"), feature = "tiny"))]
pub type TalckWasm = crate::tiny::TinyWasm;

#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
impl crate::TalckSingleThreaded<WasmHandler> {
    /// The global allocator, to put in a `static`.
    ///
    /// # Safety
    /// Make it the program's `#[global_allocator]` (or use it from one
    /// thread only, and never from its own OOM handler). WebAssembly without
    /// `atomics` has a single thread, so this always holds there. Make one
    /// per program: it takes the initial memory between `__heap_base` and
    /// `__heap_end` (see [`WasmMemory::with_initial_memory`]), so do not also
    /// call std's `System` allocator directly, which would take it too.
    pub const unsafe fn new_global() -> Self {
        // SAFETY: single-threaded target, and the initial memory is ours
        // alone, per this function's contract.
        unsafe { Self::new(Talc::new(WasmHandler::with_memory(WasmMemory::with_initial_memory()))) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only `with_initial_memory` (unsafe) may hand over the initial memory:
    /// `Default` must not (issue 22, defect 1: the derived one did).
    #[test]
    fn default_leaves_the_initial_memory_alone() {
        assert!(WasmMemory::default().no_initial);
        assert!(WasmMemory::new().no_initial);
        assert!(WasmHandler::<WasmMemory>::default().memory.no_initial);
        // SAFETY: not used as a memory: only its flag is read.
        assert!(!unsafe { WasmMemory::with_initial_memory() }.no_initial);
    }

    #[test]
    fn page_counts() {
        let small = Layout::from_size_align(1, 1).unwrap();
        assert_eq!(pages_for(small, true, 0).0, 1);
        let mib = Layout::from_size_align(1 << 20, 8).unwrap();
        assert!(pages_for(mib, false, 0).0 * PAGE >= (1 << 20) + 3 * WORD);
        let aligned = Layout::from_size_align(1 << 20, 1 << 20).unwrap();
        assert!(pages_for(aligned, false, 0).0 * PAGE >= (2 << 20) + 2 * WORD);
        // What the heap's top offers counts toward the request, never below
        // one page, and never short of the rest.
        let half = 1 << 19;
        let rest = pages_for(mib, false, half).0;
        assert!(rest < pages_for(mib, false, 0).0);
        assert!(rest * PAGE + half >= (1 << 20) + 3 * WORD);
        assert_eq!(pages_for(small, false, 1 << 20).0, MIN_GROW_PAGES);
        // Whether the pages hold the request as a heap of their own.
        assert!(pages_for(mib, false, 0).1 && pages_for(small, false, 1 << 20).1);
        assert!(!pages_for(mib, false, half).1);
        // Near `isize::MAX`: a page count whose bytes cover the request
        // (`memory.grow` then refuses it); never a wrapped small one.
        let huge = Layout::from_size_align(isize::MAX as usize, 1).unwrap();
        assert!(pages_for(huge, true, 0).0 as u128 * PAGE as u128 >= isize::MAX as u128 + 3);
        let huge_aligned = Layout::from_size_align(1, 1 << (usize::BITS - 2)).unwrap();
        assert!(pages_for(huge_aligned, true, 0).0 as u128 * PAGE as u128 > 1 << (usize::BITS - 2));
    }
}
