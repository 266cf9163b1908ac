//! The harness's wrapper around the allocator under test (bench and
//! programs modules), and the exports that read its counters.
//!
//! Always counted, a few plain loads and stores per call (wasm32 without
//! threads), the same for every allocator and for the floor: the calls made,
//! the live bytes (the sum of the live requests' sizes) and their peak, the
//! bytes `realloc` carried to a new address, and null returns.
//!
//! Counted only while *tracking* is on (`bench_track(1)`; `bench.mjs` turns
//! it on for the memory runs and never for timed calls, which pay one load
//! and branch of a flag that is off): `memory.grow` calls, seen as changes
//! of `memory.size` after an allocator call (a call that grows twice counts
//! once), and the memory size at the moment the live bytes peaked.

use core::arch::wasm32::memory_size;
use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering::Relaxed};

/// Calls made to the global allocator so far.
pub static CALLS: AtomicU32 = AtomicU32::new(0);
/// Bytes requested and not yet freed (by the sizes of the layouts).
static LIVE: AtomicUsize = AtomicUsize::new(0);
/// The most `LIVE` has been since the last `bench_reset_peak`.
static PEAK: AtomicUsize = AtomicUsize::new(0);
/// Bytes that `realloc` carried to a new address (the smaller of the two
/// sizes, each time the block moved).
static MOVED: AtomicU64 = AtomicU64::new(0);
/// Allocations and reallocations that returned null.
static NULLS: AtomicU32 = AtomicU32::new(0);
/// Whether `memory.grow` calls and the memory at the peak are tracked.
static TRACK: AtomicBool = AtomicBool::new(false);
/// Changes of the memory size seen after allocator calls while tracking.
static GROWS: AtomicU32 = AtomicU32::new(0);
/// The memory size (pages) seen after the last call while tracking.
static PAGES: AtomicUsize = AtomicUsize::new(0);
/// The memory size (pages) when `PEAK` was last raised while tracking.
static PEAK_PAGES: AtomicUsize = AtomicUsize::new(0);

/// Wraps the allocator under test; see the module's docs.
pub struct Counting<A>(pub A);

#[inline(always)]
fn live_add(size: usize) {
    let live = LIVE.load(Relaxed) + size;
    LIVE.store(live, Relaxed);
    if live > PEAK.load(Relaxed) {
        PEAK.store(live, Relaxed);
        if TRACK.load(Relaxed) {
            PEAK_PAGES.store(memory_size(0), Relaxed);
        }
    }
}

#[inline(always)]
fn live_sub(size: usize) {
    LIVE.store(LIVE.load(Relaxed).wrapping_sub(size), Relaxed);
}

/// After an allocator call: counts a change of the memory size.
#[inline(always)]
fn after_call() {
    if TRACK.load(Relaxed) {
        let pages = memory_size(0);
        if pages != PAGES.load(Relaxed) {
            PAGES.store(pages, Relaxed);
            GROWS.store(GROWS.load(Relaxed) + 1, Relaxed);
        }
    }
}

#[inline(always)]
fn allocated(p: *mut u8, size: usize) -> *mut u8 {
    if p.is_null() {
        NULLS.store(NULLS.load(Relaxed) + 1, Relaxed);
    } else {
        // The memory size is read before the peak's: a call that grew
        // memory and raised the peak counts its growth.
        after_call();
        live_add(size);
    }
    p
}

// SAFETY: every method forwards to the wrapped allocator unchanged.
unsafe impl<A: GlobalAlloc> GlobalAlloc for Counting<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        CALLS.fetch_add(1, Relaxed);
        // SAFETY: forwarded with the caller's guarantees.
        allocated(unsafe { self.0.alloc(layout) }, layout.size())
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        CALLS.fetch_add(1, Relaxed);
        // SAFETY: forwarded with the caller's guarantees.
        allocated(unsafe { self.0.alloc_zeroed(layout) }, layout.size())
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        CALLS.fetch_add(1, Relaxed);
        live_sub(layout.size());
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { self.0.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        CALLS.fetch_add(1, Relaxed);
        // SAFETY: forwarded with the caller's guarantees.
        let p = unsafe { self.0.realloc(ptr, layout, new_size) };
        if p.is_null() {
            NULLS.store(NULLS.load(Relaxed) + 1, Relaxed);
        } else {
            after_call();
            live_sub(layout.size());
            live_add(new_size);
            if p != ptr {
                MOVED.fetch_add(layout.size().min(new_size) as u64, Relaxed);
            }
        }
        p
    }
}

/// Allocator calls so far.
#[export_name = "bench_calls"]
pub extern "C" fn bench_calls() -> u32 {
    CALLS.load(Relaxed)
}

/// The peak of live bytes since the last `bench_reset_peak`.
#[export_name = "bench_peak"]
pub extern "C" fn bench_peak() -> u32 {
    PEAK.load(Relaxed) as u32
}

/// Starts a new peak from the bytes live now.
#[export_name = "bench_reset_peak"]
pub extern "C" fn bench_reset_peak() {
    PEAK.store(LIVE.load(Relaxed), Relaxed);
    PEAK_PAGES.store(memory_size(0), Relaxed);
}

/// Bytes moved by `realloc` so far.
#[export_name = "bench_moved"]
pub extern "C" fn bench_moved() -> u64 {
    MOVED.load(Relaxed)
}

/// Null returns so far.
#[export_name = "bench_nulls"]
pub extern "C" fn bench_nulls() -> u32 {
    NULLS.load(Relaxed)
}

/// Turns tracking on (`on != 0`) or off; turning it on starts the count of
/// `memory.grow` calls from the memory size now.
#[export_name = "bench_track"]
pub extern "C" fn bench_track(on: u32) {
    TRACK.store(on != 0, Relaxed);
    PAGES.store(memory_size(0), Relaxed);
    GROWS.store(0, Relaxed);
}

/// `memory.grow` calls seen since tracking was turned on.
#[export_name = "bench_grows"]
pub extern "C" fn bench_grows() -> u32 {
    GROWS.load(Relaxed)
}

/// The memory size, in 64 KiB pages, when the live bytes last peaked while
/// tracking.
#[export_name = "bench_peak_pages"]
pub extern "C" fn bench_peak_pages() -> u32 {
    PEAK_PAGES.load(Relaxed) as u32
}

extern "C" {
    /// Where the linker put the start of the heap: the end of the data and
    /// the stack.
    static __heap_base: u8;
}

/// `__heap_base`: memory below it is the module's own (stack and data).
#[export_name = "bench_heap_base"]
pub extern "C" fn bench_heap_base() -> u32 {
    core::ptr::addr_of!(__heap_base) as usize as u32
}
