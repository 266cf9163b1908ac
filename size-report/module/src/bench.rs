//! The bench module's exports, timed by `size-report/bench.mjs`.
//!
//! Each `bench_*(seed, n, full, ...)` returns the number of actions it
//! performed (allocator calls; pushes for `bench_vec`), or a negative error
//! code from [`crate::workloads`]. `full != 0` verifies every byte of every
//! block. Every workload frees all it allocated, so it can run again in the
//! same instance.
//!
//! `bench_calls`, `bench_peak`, `bench_reset_peak` and `bench_moved` read
//! the counters of [`Counting`], which wraps the allocator under test.

use crate::workloads::{self, Churn};
use crate::{adverse, workloads::E_LAYOUT};
use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering::Relaxed};

/// Calls made to the global allocator so far.
static CALLS: AtomicU32 = AtomicU32::new(0);
/// Bytes requested and not yet freed (by the sizes of the layouts).
static LIVE: AtomicUsize = AtomicUsize::new(0);
/// The most `LIVE` has been since the last `bench_reset_peak`.
static PEAK: AtomicUsize = AtomicUsize::new(0);
/// Bytes that `realloc` carried to a new address (the smaller of the two
/// sizes, each time the block moved).
static MOVED: AtomicU64 = AtomicU64::new(0);

/// Wraps the allocator under test: counts its calls, the live bytes and
/// their peak, and the bytes `realloc` moved. (Plain loads and stores on
/// wasm32 without threads: a few instructions per call, the same for every
/// allocator and for the floor.)
pub struct Counting<A>(pub A);

fn live_add(size: usize) {
    let live = LIVE.load(Relaxed) + size;
    LIVE.store(live, Relaxed);
    if live > PEAK.load(Relaxed) {
        PEAK.store(live, Relaxed);
    }
}

fn live_sub(size: usize) {
    LIVE.store(LIVE.load(Relaxed).wrapping_sub(size), Relaxed);
}

// SAFETY: every method forwards to the wrapped allocator unchanged.
unsafe impl<A: GlobalAlloc> GlobalAlloc for Counting<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        CALLS.fetch_add(1, Relaxed);
        // SAFETY: forwarded with the caller's guarantees.
        let p = unsafe { self.0.alloc(layout) };
        if !p.is_null() {
            live_add(layout.size());
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        CALLS.fetch_add(1, Relaxed);
        // SAFETY: forwarded with the caller's guarantees.
        let p = unsafe { self.0.alloc_zeroed(layout) };
        if !p.is_null() {
            live_add(layout.size());
        }
        p
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
        if !p.is_null() {
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
}

/// Bytes moved by `realloc` so far.
#[export_name = "bench_moved"]
pub extern "C" fn bench_moved() -> u64 {
    MOVED.load(Relaxed)
}

fn code(r: Result<u32, i32>) -> i32 {
    match r {
        Ok(n) => n.min(i32::MAX as u32) as i32,
        Err(e) => e,
    }
}

/// Runs `f` and returns the allocator calls it made (or its error code).
fn counted(f: impl FnOnce() -> Result<(), i32>) -> i32 {
    let before = CALLS.load(Relaxed);
    code(f().map(|()| CALLS.load(Relaxed).wrapping_sub(before)))
}

/// A positive size or count parameter from JavaScript.
fn arg(x: u32) -> Result<usize, i32> {
    if x == 0 {
        Err(E_LAYOUT)
    } else {
        Ok(x as usize)
    }
}

fn churn(seed: u32, n: u32, full: u32, cfg: &Churn) -> i32 {
    code(workloads::churn(seed, n, full != 0, cfg))
}

/// Random alloc/free, sizes 1..=10000 B.
#[export_name = "bench_random"]
pub extern "C" fn bench_random(seed: u32, n: u32, full: u32) -> i32 {
    churn(seed, n, full, &workloads::RANDOM)
}

/// Random alloc/free/realloc, sizes 1..=10000 B.
#[export_name = "bench_realloc"]
pub extern "C" fn bench_realloc(seed: u32, n: u32, full: u32) -> i32 {
    churn(seed, n, full, &workloads::REALLOC)
}

/// Random alloc/free of small objects, 8..=256 B.
#[export_name = "bench_small"]
pub extern "C" fn bench_small(seed: u32, n: u32, full: u32) -> i32 {
    churn(seed, n, full, &workloads::SMALL)
}

/// `n` vectors grown to 1 MiB by push; counts pushes.
#[export_name = "bench_vec"]
pub extern "C" fn bench_vec(seed: u32, n: u32, full: u32) -> i32 {
    code(workloads::vec_push(seed, n, full != 0))
}

/// The app workload; counts allocator calls.
#[export_name = "bench_app"]
pub extern "C" fn bench_app(seed: u32, n: u32, full: u32) -> i32 {
    let before = CALLS.load(Relaxed);
    let r = workloads::app(seed, n, full != 0);
    code(r.map(|_| CALLS.load(Relaxed).wrapping_sub(before)))
}

/// The bin walk: `n` free `hole`-byte chunks apart, then `n` requests of
/// `request` bytes. Counts allocator calls (as do all below).
#[export_name = "bench_walk"]
pub extern "C" fn bench_walk(seed: u32, n: u32, full: u32, hole: u32, request: u32) -> i32 {
    counted(|| adverse::walk(seed, arg(n)?, full != 0, arg(hole)?, arg(request)?))
}

/// Narrow-band churn: `live` blocks of `lo..=hi` B, `n` random replacements.
#[export_name = "bench_band"]
pub extern "C" fn bench_band(seed: u32, n: u32, full: u32, live: u32, lo: u32, hi: u32) -> i32 {
    counted(|| adverse::band(seed, n as usize, full != 0, arg(live)?, arg(lo)?, arg(hi)?))
}

/// `buffers` buffers grown in turn by `step` bytes, `n` rounds.
#[export_name = "bench_steps"]
pub extern "C" fn bench_steps(seed: u32, n: u32, full: u32, buffers: u32, step: u32) -> i32 {
    counted(|| adverse::steps(seed, n as usize, full != 0, arg(buffers)?, arg(step)?))
}

/// Two buffers grown in turn by `step` bytes, `n` times each.
#[export_name = "bench_pair"]
pub extern "C" fn bench_pair(seed: u32, n: u32, full: u32, step: u32) -> i32 {
    counted(|| adverse::pair(seed, n as usize, full != 0, arg(step)?))
}

/// A block grown `n` times by `step` bytes (new, free old), a `pin`-byte
/// block kept after each step.
#[export_name = "bench_pinned"]
pub extern "C" fn bench_pinned(seed: u32, n: u32, full: u32, step: u32, pin: u32) -> i32 {
    counted(|| adverse::pinned(seed, n as usize, full != 0, arg(step)?, arg(pin)?))
}

/// `n` temporary `lo..=hi`-byte buffers, a `small`-byte block kept while
/// each is live.
#[export_name = "bench_temp"]
pub extern "C" fn bench_temp(seed: u32, n: u32, full: u32, lo: u32, hi: u32, small: u32) -> i32 {
    counted(|| adverse::temp(seed, n as usize, full != 0, arg(lo)?, arg(hi)?, arg(small)?))
}
