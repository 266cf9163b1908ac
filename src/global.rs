//! Which allocator [`TalckWasm`] names, decided in one place above the
//! allocators and the memory layer: the core over [`WasmHandler`], or with
//! feature `tiny` the [tiny allocator](crate::tiny). Both candidates'
//! `new_global` (the one global of a program, given the initial memory)
//! are here too. Nothing below imports from this module: the allocators
//! and the memory layer are the same whichever is chosen.

use crate::memory::WasmMemory;
use crate::tiny::TinyGlobal;
use crate::{Talc, WasmHandler};

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

#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
impl TinyGlobal<WasmMemory> {
    /// The global allocator, to put in a `static`.
    ///
    /// # Safety
    /// As [`TalckWasm::new_global`](crate::TalckSingleThreaded::new_global):
    /// make it the program's `#[global_allocator]`, one per program.
    pub const unsafe fn new_global() -> Self {
        // SAFETY: single-threaded target, and one per program: the initial
        // memory is ours, per this function's contract. `Tiny` never takes
        // it (it leaves it unused); the value's flag is then zero, so the
        // whole allocator is zero and lives in `.bss`, not in a data
        // segment (a few bytes less).
        unsafe { Self::new(WasmMemory::with_initial_memory()) }
    }
}
