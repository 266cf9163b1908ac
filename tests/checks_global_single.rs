//! With `checks`, a fault found inside a global `TalckSingleThreaded` ends
//! in a panic that names it: the panic's own allocations must not re-enter
//! the `Talc` that the failing call holds. No test harness: the harness runs
//! tests on threads, which this allocator's contract rules out.

use std::alloc::{GlobalAlloc, Layout};

use talcum::{InitOnOom, Span, Talc, TalckSingleThreaded};

static mut ARENA: [u8; 8 << 20] = [0; 8 << 20];

// Not under Miri (see `main`).
#[cfg_attr(not(miri), global_allocator)]
// SAFETY: this program runs one thread; the arena serves this allocator only.
static ALLOC: TalckSingleThreaded<InitOnOom> = unsafe {
    TalckSingleThreaded::new(Talc::new(InitOnOom::new(Span::from_array(&raw mut ARENA))))
};

fn main() {
    if cfg!(miri) {
        // Under Miri, a global allocator that writes into a block as it frees
        // it trips Miri's Box protectors (a known false positive:
        // rust-lang/miri#2104), so talcum is not the global allocator there.
        println!("skipped under Miri");
        return;
    }
    // With backtraces on, the panic hook would ask the reserve for megabytes
    // (see `checks_global_talck.rs`).
    std::env::set_var("RUST_BACKTRACE", "0");
    let l = Layout::new::<[u64; 16]>();
    // SAFETY: a fresh block, freed once as the contract asks...
    let p = unsafe { ALLOC.alloc(l) };
    assert!(!p.is_null());
    // SAFETY: ...and once more: the fault under test.
    unsafe { ALLOC.dealloc(p, l) };
    // SAFETY: see above.
    let result = std::panic::catch_unwind(|| unsafe { ALLOC.dealloc(p, l) });
    let payload = result.expect_err("a double free must panic");
    let msg = match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(_) => String::new(),
    };
    assert!(msg.contains("double free"), "the panic names the fault: {msg}");
    let v: Vec<u64> = (0..10_000).collect();
    assert_eq!(v.iter().sum::<u64>(), 49_995_000);
    // SAFETY: this thread is the only one, and no allocation is running.
    let live = unsafe { ALLOC.talc() }.get_counters_or_zero();
    println!("checks_global_single: a double free panicked naming it; the allocator serves on ({live} live)");
    println!("checks_global_single: 1 passed, 0 failed");
}

trait LiveCount {
    fn get_counters_or_zero(&self) -> usize;
}

impl<O: talcum::OomHandler> LiveCount for Talc<O> {
    #[cfg(feature = "counters")]
    fn get_counters_or_zero(&self) -> usize {
        self.get_counters().allocation_count
    }
    #[cfg(not(feature = "counters"))]
    fn get_counters_or_zero(&self) -> usize {
        0
    }
}
