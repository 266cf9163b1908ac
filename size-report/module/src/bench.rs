//! The bench module's exports, timed by `size-report/bench.mjs`.
//!
//! Each `bench_*(seed, n, full, ...)` returns the number of actions it
//! performed (allocator calls; pushes for `bench_vec`), or a negative error
//! code from [`crate::workloads`]. `full != 0` verifies every byte of every
//! block. Every workload frees all it allocated, so it can run again in the
//! same instance.
//!
//! The counters of the allocator under test are read through the exports of
//! [`crate::counting`].

use crate::counting::CALLS;
use crate::workloads::{self, Churn};
use crate::{adverse, workloads::E_LAYOUT, zeroed};
use std::sync::atomic::Ordering::Relaxed;

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

/// A block doubled `n` times from `first` bytes (new, free old), a
/// `pin`-byte block kept after each step.
#[export_name = "bench_doubling"]
pub extern "C" fn bench_doubling(seed: u32, n: u32, full: u32, first: u32, pin: u32) -> i32 {
    counted(|| adverse::doubling(seed, n as usize, full != 0, arg(first)?, arg(pin)?))
}

/// A buffer grown `n` times by `step` bytes through `realloc`, a
/// `pin`-byte block kept after each step.
#[export_name = "bench_regrow"]
pub extern "C" fn bench_regrow(seed: u32, n: u32, full: u32, step: u32, pin: u32) -> i32 {
    counted(|| adverse::regrow_pinned(seed, n as usize, full != 0, arg(step)?, arg(pin)?))
}

/// A buffer doubled `n` times from `first` bytes through `realloc`, a
/// `pin`-byte block kept after each step.
#[export_name = "bench_regrow_doubling"]
pub extern "C" fn bench_regrow_doubling(seed: u32, n: u32, full: u32, first: u32, pin: u32) -> i32 {
    counted(|| adverse::regrow_doubling(seed, n as usize, full != 0, arg(first)?, arg(pin)?))
}

/// `n` temporary `lo..=hi`-byte buffers, a `small`-byte block kept while
/// each is live.
#[export_name = "bench_temp"]
pub extern "C" fn bench_temp(seed: u32, n: u32, full: u32, lo: u32, hi: u32, small: u32) -> i32 {
    counted(|| adverse::temp(seed, n as usize, full != 0, arg(lo)?, arg(hi)?, arg(small)?))
}

/// A scratch buffer used `n` times, `start` bytes the first time and `step`
/// bytes more each time after.
#[export_name = "bench_creep"]
pub extern "C" fn bench_creep(seed: u32, n: u32, full: u32, start: u32, step: u32) -> i32 {
    counted(|| adverse::creep(seed, n as usize, full != 0, arg(start)?, arg(step)?))
}

/// A buffer of `start` bytes, `step` bytes bigger each of `n` rounds,
/// allocated and freed, then a `small`-byte block kept per round.
#[export_name = "bench_rebuild"]
pub extern "C" fn bench_rebuild(
    seed: u32,
    n: u32,
    full: u32,
    start: u32,
    step: u32,
    small: u32,
) -> i32 {
    counted(|| {
        adverse::rebuild(seed, n as usize, full != 0, arg(start)?, step as usize, arg(small)?)
    })
}

/// Zeroed blocks (`alloc_zeroed`) of `lo..=hi` bytes until `n` MiB are
/// live, each checked to read zero, then all freed.
#[export_name = "bench_zeroed"]
pub extern "C" fn bench_zeroed(seed: u32, n: u32, full: u32, lo: u32, hi: u32) -> i32 {
    counted(|| {
        let total = arg(n)?.checked_mul(1 << 20).ok_or(E_LAYOUT)?;
        zeroed::zeroed(seed, full != 0, total, arg(lo)?, arg(hi)?)
    })
}
