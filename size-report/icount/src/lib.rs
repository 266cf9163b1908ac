//! The native harness of `size-report/icount.sh`: the bench module's
//! workloads, run on the host under callgrind, one allocator per binary.
//!
//! Each binary (`src/bin/*.rs`, and talcum's in `talcum/src/bin/`) sets its `#[global_allocator]` to
//! [`Counted`] over one allocator and calls [`main`], which runs one
//! workload as the wasm bench's timing instances do (`bench.mjs`, step 3):
//! two untimed calls on a fresh process (the first grows the memory the
//! workload needs, and on request writes and checks every byte of every
//! block; the second settles the heap), then the measured calls, light
//! touch (the first byte of each block), inside
//! [`icount_measured`], the one function callgrind collects in
//! (`--toggle-collect`). It prints the allocator calls those made; the
//! script subtracts the floor's instructions from the allocator's and
//! divides by them.
//!
//! The workloads are the bench module's own source (`module/src/workloads.rs`
//! and `adverse.rs`, included by path); their seeds and sizes are those of
//! `size-report/src/speed.rs`.
//!
//! There is no `memory.grow` natively: [`linear`] emulates it over one
//! mapping of reserved address space, and every allocator grows into it as
//! it grows wasm memory (talcum's `WasmHandler` and `Tiny` through a
//! `LinearMemory` over it, in the `icount-talcum` package; talc through a
//! source like its
//! `WasmGrowAndExtend`; dlmalloc through a system allocator like its wasm
//! one; the floor through `memory_grow` itself). A process is single
//! threaded.

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

// Both are written for the wasm module and used here unchanged (linted
// there, not here). The workloads are written for wasm32: the adverse ones
// align to 4 bytes, a word there, half of one here.
#[allow(clippy::should_implement_trait)]
#[path = "../../module/src/workloads.rs"]
pub mod workloads;

#[allow(dead_code)]
#[path = "../../module/src/adverse.rs"]
pub mod adverse;

// The bench's floor, unchanged but for where its `memory_grow` comes from
// (this crate's root, natively).
#[allow(clippy::new_without_default)]
#[path = "../../module/src/floor.rs"]
pub mod floor;

pub mod linear;
pub mod sources;

pub use linear::memory_grow;

/// Allocator calls so far (every call, through [`Counted`]).
static CALLS: AtomicU64 = AtomicU64::new(0);

#[inline(always)]
fn count() {
    // A plain load and store (one thread): the same few instructions for
    // every allocator and for the floor, so they cancel in the difference.
    CALLS.store(CALLS.load(Relaxed) + 1, Relaxed);
}

/// The global allocator's wrapper: counts calls, forwards everything.
pub struct Counted<A>(pub A);

// SAFETY: every method forwards to the wrapped allocator unchanged.
unsafe impl<A: GlobalAlloc> GlobalAlloc for Counted<A> {
    #[inline(always)]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { self.0.alloc(layout) }
    }
    #[inline(always)]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { self.0.alloc_zeroed(layout) }
    }
    #[inline(always)]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { self.0.dealloc(ptr, layout) }
    }
    #[inline(always)]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { self.0.realloc(ptr, layout, new_size) }
    }
}

/// A workload: its name (as in the report) and how it runs.
pub struct Workload {
    pub name: &'static str,
    /// Measured runs by default (each with its own seed, see
    /// [`icount_measured`]): enough that the figures of two sets of seeds
    /// agree within 1% (`EXPERIMENTS.md`, "Native instruction counts").
    pub reps: u32,
    /// Runs it from its seed plus the given offset (0 for the report's).
    run: fn(seed: u32, full: bool) -> Result<(), i32>,
}

fn unit<T>(r: Result<T, i32>) -> Result<(), i32> {
    r.map(|_| ())
}

/// The workloads, with the seeds, counts and arguments of
/// `size-report/src/speed.rs`'s `WORKLOADS` (keep them in step). The first
/// four are the default set of `icount.sh`.
pub const WORKLOADS: &[Workload] = &[
    Workload {
        name: "random",
        reps: 1,
        run: |s, f| unit(workloads::churn(1 + s, 100_000, f, &workloads::RANDOM)),
    },
    Workload {
        name: "small",
        reps: 1,
        run: |s, f| unit(workloads::churn(3 + s, 200_000, f, &workloads::SMALL)),
    },
    Workload {
        name: "realloc",
        reps: 8,
        run: |s, f| unit(workloads::churn(2 + s, 100_000, f, &workloads::REALLOC)),
    },
    Workload { name: "app", reps: 4, run: |s, f| unit(workloads::app(5 + s, 50_000, f)) },
    // The worst cases: one run each (their spread over seeds is not checked).
    Workload {
        name: "walk-1100-20k",
        reps: 1,
        run: |s, f| adverse::walk(6 + s, 20_000, f, 1100, 1200),
    },
    Workload {
        name: "walk-300-20k",
        reps: 1,
        run: |s, f| adverse::walk(7 + s, 20_000, f, 300, 308),
    },
    Workload {
        name: "band",
        reps: 1,
        run: |s, f| adverse::band(8 + s, 20_000, f, 40_000, 1000, 1200),
    },
    Workload { name: "steps", reps: 1, run: |s, f| adverse::steps(9 + s, 64, f, 1000, 8) },
    Workload { name: "pair", reps: 1, run: |s, f| adverse::pair(10 + s, 2000, f, 64) },
];

/// `ICOUNT_SEED`: an offset added to every workload's seed (default 0), to
/// see how much a figure owes to the one random sequence.
fn seed_offset() -> u32 {
    match std::env::var("ICOUNT_SEED") {
        Ok(v) => v.parse().unwrap_or_else(|_| fail("ICOUNT_SEED: a number")),
        Err(_) => 0,
    }
}

/// The measured calls: `reps` light-touch runs of workload `index`, the
/// `i`-th (from 0) with seed offset `seed + i` (the first as the untimed
/// ones: more than one averages over several random sequences). The only
/// function callgrind collects in (`--toggle-collect=icount_measured`): its
/// count is everything run under it, the allocator's code included.
#[no_mangle]
#[inline(never)]
pub extern "C" fn icount_measured(index: usize, seed: u32, reps: u32) -> i32 {
    let w = &WORKLOADS[index];
    for i in 0..reps {
        if let Err(code) = (w.run)(seed + i, false) {
            return code;
        }
    }
    0
}

/// Callgrind's client request `START_INSTRUMENTATION`, so that `icount.sh`
/// can run the untimed calls uninstrumented (`--instr-atstart=no`), several
/// times faster. The sequence is valgrind's documented amd64 client request
/// (valgrind.h): four rotations of `rdi` by 128 bits in all (a no-op run
/// natively), then `xchg rbx, rbx`, with `rax` pointing at the request and
/// its five arguments; the answer (unused) comes back in `rdx`.
#[inline(never)]
fn start_instrumentation() {
    #[cfg(target_arch = "x86_64")]
    {
        // VG_USERREQ_TOOL_BASE('C', 'T') + 4 (callgrind.h's enum).
        const START_INSTRUMENTATION: u64 = (b'C' as u64) << 24 | (b'T' as u64) << 16 | 4;
        let request: [u64; 6] = [START_INSTRUMENTATION, 0, 0, 0, 0, 0];
        // SAFETY: registers end as they began (rdi rotated by a multiple of
        // 64, rbx swapped with itself); valgrind only reads `request`.
        unsafe {
            core::arch::asm!(
                "rol rdi, 3",
                "rol rdi, 13",
                "rol rdi, 61",
                "rol rdi, 51",
                "xchg rbx, rbx",
                in("rax") request.as_ptr(),
                inout("rdx") 0u64 => _,
                inout("rdi") 0u64 => _,
                options(nostack),
            );
        }
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("icount: {msg}");
    std::process::exit(2)
}

/// `icount-<allocator> WORKLOAD [REPS [full]]`: runs the workload (see the
/// crate docs) and prints `<workload> <allocator calls measured> <REPS>`.
/// REPS 0 (or none) is the workload's default. `icount-<allocator> --list`
/// prints the workloads' names. With
/// `full`, the first untimed call writes and checks every byte of every
/// block, as the wasm bench's verification run does (`icount.sh` runs that
/// natively, where it takes milliseconds, and not under callgrind, where it
/// takes seconds; it makes the same allocator calls either way).
pub fn main() {
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_else(|| {
        let names: Vec<_> = WORKLOADS.iter().map(|w| w.name).collect();
        fail(&format!("usage: icount-ALLOC WORKLOAD [REPS [full]]; workloads: {}", names.join(" ")))
    });
    if name == "--list" {
        WORKLOADS.iter().for_each(|w| println!("{}", w.name));
        return;
    }
    let reps: u32 = match args.next() {
        Some(r) => r.parse().unwrap_or_else(|_| fail("REPS: a count")),
        None => 0,
    };
    let verify = match args.next().as_deref() {
        None => false,
        Some("full") => true,
        Some(other) => fail(&format!("unknown argument {other}")),
    };
    let index = WORKLOADS
        .iter()
        .position(|w| w.name == name)
        .unwrap_or_else(|| fail(&format!("no workload {name}")));
    // As the wasm bench's timing instance: the first call grows memory (and
    // with `full` verifies every byte), the second settles the heap.
    let reps = if reps == 0 { WORKLOADS[index].reps } else { reps };
    let seed = seed_offset();
    for full in [verify, false] {
        if let Err(code) = (WORKLOADS[index].run)(seed, full) {
            fail(&format!("{name}: untimed run failed with code {code}"));
        }
    }
    start_instrumentation();
    let before = CALLS.load(Relaxed);
    let code = icount_measured(index, seed, reps);
    let calls = CALLS.load(Relaxed) - before;
    if code != 0 {
        fail(&format!("{name}: measured run failed with code {code}"));
    }
    println!("{name} {calls} {reps}");
}
