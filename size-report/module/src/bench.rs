//! The bench module's exports, timed by `size-report/bench.mjs`.
//!
//! Each `bench_*(seed, n, full)` returns the number of actions it performed
//! (allocator calls; pushes for `bench_vec`), or a negative error code from
//! [`crate::workloads`]. `full != 0` verifies every byte of every block.

use crate::workloads::{self, Churn};
use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

/// Calls made to the global allocator so far.
static CALLS: AtomicU32 = AtomicU32::new(0);

/// Wraps the allocator under test and counts the calls made to it.
pub struct Counting<A>(pub A);

// SAFETY: every method forwards to the wrapped allocator unchanged.
unsafe impl<A: GlobalAlloc> GlobalAlloc for Counting<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        CALLS.fetch_add(1, Relaxed);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { self.0.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        CALLS.fetch_add(1, Relaxed);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { self.0.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        CALLS.fetch_add(1, Relaxed);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { self.0.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        CALLS.fetch_add(1, Relaxed);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { self.0.realloc(ptr, layout, new_size) }
    }
}

fn code(r: Result<u32, i32>) -> i32 {
    match r {
        Ok(n) => n.min(i32::MAX as u32) as i32,
        Err(e) => e,
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
