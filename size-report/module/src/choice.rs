//! The `#[global_allocator]` of this build, picked by its `alloc-*` feature.
//!
//! In bench and programs builds the allocator is wrapped in
//! [`crate::counting::Counting`], which counts the calls made to it and the
//! memory they take; size builds use it bare.

#[cfg(not(any(
    feature = "alloc-none",
    feature = "alloc-talcum",
    feature = "alloc-dlmalloc-std",
    feature = "alloc-dlmalloc",
    feature = "alloc-talc",
    feature = "alloc-talc-small",
    feature = "alloc-rlsf",
    feature = "alloc-rlsf-small",
    feature = "alloc-lol",
    feature = "alloc-wasmalloc",
    feature = "alloc-bump",
)))]
compile_error!("enable exactly one `alloc-*` feature");

#[cfg(not(any(
    feature = "mod-minimal",
    feature = "mod-app",
    feature = "mod-bench",
    feature = "mod-programs"
)))]
compile_error!("enable exactly one `mod-*` feature");

/// Declares the global allocator: bare, or counted in bench and programs
/// builds.
#[allow(unused_macros)] // unused by `alloc-dlmalloc-std` size builds
macro_rules! global {
    ($ty:ty, $init:expr) => {
        #[cfg(not(any(feature = "mod-bench", feature = "mod-programs")))]
        #[global_allocator]
        static GLOBAL: $ty = $init;

        #[cfg(any(feature = "mod-bench", feature = "mod-programs"))]
        #[global_allocator]
        static GLOBAL: crate::counting::Counting<$ty> = crate::counting::Counting($init);
    };
}

/// The baseline: an allocator that always fails, so the module holds no
/// allocator code at all.
#[cfg(feature = "alloc-none")]
mod none {
    use std::alloc::{GlobalAlloc, Layout};

    pub struct Null;

    // SAFETY: returning null is always a valid answer from `alloc`, and
    // `dealloc` is never reached with a pointer this allocator handed out.
    unsafe impl GlobalAlloc for Null {
        unsafe fn alloc(&self, _layout: Layout) -> *mut u8 {
            std::ptr::null_mut()
        }
        unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}
    }

    global!(Null, Null);
}

#[cfg(feature = "alloc-talcum")]
global!(talcum::TalckWasm, unsafe { talcum::TalckWasm::new_global() });

// Rust's default: no `#[global_allocator]` at all, so std's `System`
// (dlmalloc on wasm32) serves. Bench builds count calls over `System`.
#[cfg(all(feature = "alloc-dlmalloc-std", any(feature = "mod-bench", feature = "mod-programs")))]
#[global_allocator]
static GLOBAL: crate::counting::Counting<std::alloc::System> =
    crate::counting::Counting(std::alloc::System);

#[cfg(feature = "alloc-dlmalloc")]
global!(dlmalloc::GlobalDlmalloc, dlmalloc::GlobalDlmalloc);

#[cfg(feature = "alloc-talc")]
global!(talc::wasm::WasmDynamicTalc, talc::wasm::new_wasm_dynamic_allocator());

// talc's size-oriented setup: heaps claimed per growth (never extended) and,
// through the crate feature, no in-place reallocation.
#[cfg(feature = "alloc-talc-small")]
global!(
    talc::cell::TalcSyncCell<talc::wasm::WasmGrowAndClaim, talc::wasm::WasmBinning>,
    talc::cell::TalcSyncCell::new_wasm(talc::wasm::WasmGrowAndClaim)
);

#[cfg(feature = "alloc-rlsf")]
global!(rlsf::GlobalTlsf, rlsf::GlobalTlsf::new());

#[cfg(feature = "alloc-rlsf-small")]
global!(rlsf::SmallGlobalTlsf, rlsf::SmallGlobalTlsf::new());

#[cfg(feature = "alloc-lol")]
global!(
    lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator>,
    // SAFETY: wasm32 without the `atomics` feature has a single thread.
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) }
);

#[cfg(feature = "alloc-wasmalloc")]
global!(wasmalloc::WasmAlloc, wasmalloc::WasmAlloc::new());

// The bench's floor (harness cost only), never a competitor: see floor.rs.
#[cfg(feature = "alloc-bump")]
global!(crate::floor::Floor, crate::floor::Floor::new());
