//! The memory layer: [`LinearMemory`], a memory that grows by pages and
//! never shrinks, and [`WasmMemory`], WebAssembly's own.
//!
//! It sits below the allocators and knows none of them: [`WasmHandler`]
//! (the core's OOM handler) and the tiny allocator grow a `LinearMemory`;
//! tests, Miri and the fuzzer give them one simulated over a host buffer, so
//! they run the very code a wasm build runs.
//!
//! [`WasmHandler`]: crate::WasmHandler

use crate::Span;

/// A word: a region at the top of the address space stops one word short.
#[cfg(target_family = "wasm")]
const WORD: usize = core::mem::size_of::<usize>();

/// The size of a WebAssembly page: linear memory grows by whole pages.
pub const WASM_PAGE_SIZE: usize = 1 << 16;
#[cfg(target_family = "wasm")]
const PAGE: usize = WASM_PAGE_SIZE;

/// A linear memory that grows by pages of [`WASM_PAGE_SIZE`] bytes and never
/// shrinks: what [`WasmHandler`](crate::WasmHandler) and the tiny allocator
/// grow. [`WasmMemory`] is WebAssembly's own
/// (`memory.size` and `memory.grow`); tests implement it over a host buffer
/// to drive the real handler natively, under Miri and in the fuzzer.
///
/// # Safety
/// An implementation promises, for each value of it:
/// * [`grow`](LinearMemory::grow) returns `None`, or memory that is valid for
///   reads and writes, word aligned, not at address 0, all zero (as
///   WebAssembly's new pages are: [`Talc::malloc_zeroed`](crate::Talc::malloc_zeroed) relies on it), and
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
    /// allocator: [`WasmHandler`](crate::WasmHandler) takes it as a heap when it first runs out,
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
    pub(crate) no_initial: bool,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Only `with_initial_memory` (unsafe) may hand over the initial memory:
    /// `Default` must not (issue 22, defect 1: the derived one did).
    #[test]
    fn default_leaves_the_initial_memory_alone() {
        assert!(WasmMemory::default().no_initial);
        assert!(WasmMemory::new().no_initial);
        // SAFETY: not used as a memory: only its flag is read.
        assert!(!unsafe { WasmMemory::with_initial_memory() }.no_initial);
    }
}
