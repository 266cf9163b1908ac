//! The bound on work per request, in every phase, growth included (issue 22,
//! defect 2): with N free chunks slightly too small for a request in its own
//! bin, each request looks at a few chunks, however large N, also while
//! memory grows (then, before, the search walked the whole bin before every
//! call of the OOM handler: about once per page grown).
//!
//! Counted, not timed: `Counters::chunks_looked_at` (feature `counters`).
//! Without `checks`, whose heap walk after each operation would cost N per
//! request by itself: `cargo test --features counters --test search_bound`.
#![cfg(all(feature = "counters", not(feature = "checks")))]

mod common;

use std::alloc::Layout;

use common::sim::SimMemory;
use common::MIRI;
use talcum::{Talc, WasmHandler, WASM_PAGE_SIZE as PAGE};

fn layout(size: usize) -> Layout {
    Layout::from_size_align(size, 8).unwrap()
}

/// The chunks looked at per request, on average and at most, for
/// `requests` requests of 1200 B over `n` free chunks of 1100 B (one bin:
/// 139 and 151 words on 64-bit, 278 and 302 on 32-bit, a quarter apart at
/// most), each kept apart by a small live block, while memory grows.
fn looks_per_request(n: usize, requests: usize) -> (f64, u64) {
    let bytes = n * (1100 + 64) + requests * (1200 + 32);
    let sim = SimMemory::new(bytes / PAGE + 64, 1);
    let mut talc = Talc::new(WasmHandler::with_memory(&sim));
    // SAFETY: the heaps are the simulated memory's, alive as long as `sim`;
    // each block is freed once, with its layout.
    unsafe {
        let holes: Vec<_> = (0..n)
            .map(|_| {
                let hole = talc.malloc(layout(1100)).unwrap();
                talc.malloc(layout(16)).unwrap();
                hole
            })
            .collect();
        for hole in holes {
            talc.free(hole, layout(1100));
        }
        let grows = sim.grows.get();
        let mut most = 0;
        let before = talc.get_counters().chunks_looked_at;
        for _ in 0..requests {
            let looked = talc.get_counters().chunks_looked_at;
            let p = talc.malloc(layout(1200)).expect("memory to grow");
            p.as_ptr().write(1);
            most = most.max(talc.get_counters().chunks_looked_at - looked);
        }
        let total = talc.get_counters().chunks_looked_at - before;
        // The requests did grow memory: the phase that the bound must cover.
        assert!(
            sim.grows.get() - grows >= requests * 1200 / PAGE / 2,
            "the requests grew memory only {} times",
            sim.grows.get() - grows
        );
        (total as f64 / requests as f64, most)
    }
}

#[test]
fn chunks_looked_at_per_request_do_not_grow_with_the_bin() {
    let requests = if MIRI { 200 } else { 20_000 };
    let sizes: &[usize] = if MIRI { &[100, 1_000] } else { &[1_000, 10_000, 100_000] };
    let figures: Vec<_> = sizes.iter().map(|&n| (n, looks_per_request(n, requests))).collect();
    for &(n, (mean, most)) in &figures {
        // A request looks at the first two chunks of its own bin, then at
        // the heap's free top, and once more after memory grew: never more
        // than six, whatever `n`.
        assert!(
            most <= 6 && mean <= 3.5,
            "{requests} requests over {n} chunks too small: {mean:.1} chunks looked at per \
             request, {most} at most (all: {figures:?})"
        );
    }
    eprintln!("chunks looked at per request (n, (mean, most)): {figures:?}");
    let means: Vec<f64> = figures.iter().map(|f| f.1 .0).collect();
    assert!(
        means.windows(2).all(|w| w[1] <= w[0] * 1.1 + 0.5),
        "chunks looked at per request grew with the bin: {figures:?}"
    );
}
