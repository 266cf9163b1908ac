//! `tiny`: the tiny allocator (`talcum::tiny::Tiny`, what `TalckWasm` is
//! with feature `tiny`) over the simulated linear memory of
//! `tests/common/sim.rs`, against the block model.
//!
//! Input layout: one byte picks the memory (its size in pages, and whether
//! its end plays the 4 GiB end), then one operation per byte code with its
//! arguments: malloc, free, realloc, someone else growing pages before our
//! next growth, a refusal of our next growth, a lower maximum.
//!
//! Checks after every operation, besides the block model (every block
//! patterned and verified, aligned, in pages we grew, overlapping no
//! other):
//! * the `checks` walk (`Tiny::check`): every region chunk by chunk, every
//!   free list, the flags and footers; after everything is freed, one free
//!   chunk per region;
//! * the free-chunk oracle: when a free chunk *surely* holds a request
//!   (`Tiny::surely_fits`: one in a bin above the request's chunk and
//!   alignment slack, or the free top if it is as big), the request
//!   succeeds without growth;
//! * a failed request is explained: the growth was refused, or the pages
//!   left below the maximum cannot hold it;
//! * foreign pages keep their pattern (`sim.check_foreign`).

#![no_main]

#[path = "../../tests/common/sim.rs"]
mod sim;

use core::alloc::Layout;

use libfuzzer_sys::fuzz_target;
use sim::SimMemory;
use talcum::tiny::Tiny;
use talcum::WASM_PAGE_SIZE as PAGE;
use talcum_fuzz::{count_ops, max_size, trace, Input, Model, MAX_OPS, WORD};

/// What a growth for `l` asks for at most, in pages: the chunk, the
/// alignment and three grains (a region's ends, and the free chunk an
/// aligned block may leave below it).
fn pages_bound(l: Layout) -> u128 {
    let grain = 2 * WORD as u128;
    let need = ((l.size() as u128 + WORD as u128 + grain - 1) & !(grain - 1)).max(2 * grain);
    (need + l.align() as u128 + 3 * grain).div_ceil(PAGE as u128)
}

fuzz_target!(|data: &[u8]| run(data));

fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let pick = input.u8();
    let cap = [4, 8, 16, 48][pick as usize & 3];
    let sim = if pick & 4 != 0 {
        SimMemory::at_top_of_address_space(cap, 1)
    } else {
        SimMemory::new(cap, 1)
    };
    let mut tiny = Tiny::new(&sim);
    let mut model = Model::new();
    let mut ops = 0u64;
    // Pages we grew, as address ranges: blocks must lie in them.
    let ours = |a: usize, e: usize| {
        let inside = sim.span();
        inside.base().addr() <= a && e <= inside.acme().addr() && !sim.overlaps_foreign(a, e - a)
    };
    while !input.is_empty() && (ops as usize) < MAX_OPS {
        ops += 1;
        tiny.check();
        let grows = sim.grows.get();
        let refuse = sim.refuse_next.get();
        // SAFETY (whole block): every pointer passed back is a live block of
        // the model, with the layout the model recorded for it.
        unsafe {
            match input.u8() % 12 {
                0..=3 => {
                    let l = input.layout();
                    let fit = tiny.surely_fits(l);
                    let p = tiny.malloc(l);
                    trace!("malloc({l:?}) -> {p:?}");
                    if fit {
                        assert!(!p.is_null(), "malloc({l:?}) failed with a free chunk that fits");
                        assert_eq!(sim.grows.get(), grows, "malloc({l:?}) grew with a fit");
                    }
                    if p.is_null() {
                        // After the pages someone else grew first.
                        let room = sim.max.get().saturating_sub(sim.pages()) as u128;
                        assert!(
                            refuse || room < pages_bound(l),
                            "malloc({l:?}) failed, not refused, {room} pages left"
                        );
                    } else {
                        model.add(p, l.size(), l.align(), &ours, "malloc");
                    }
                }
                4..=6 if !model.is_empty() => {
                    let i = model.pick(&mut input);
                    let b = model.take(i, "free");
                    trace!("free({:p}, {:?})", b.ptr, b.layout());
                    tiny.free(b.ptr);
                }
                7 | 8 if !model.is_empty() => {
                    let i = model.pick(&mut input);
                    let b = model.blocks[i];
                    let new_size = input.size().min(max_size(b.align));
                    model.check(i, "before realloc");
                    let q = tiny.realloc(b.ptr, b.layout(), new_size);
                    trace!("realloc({:p}, {:?}, {new_size}) -> {q:?}", b.ptr, b.layout());
                    if q.is_null() {
                        assert!(new_size > b.size, "realloc shrinking to {new_size} failed");
                        model.check(i, "after failed realloc");
                    } else {
                        model.moved(i, q, new_size, &ours, "realloc");
                    }
                }
                9 => sim.foreign_next.set(1 + input.u8() as usize % 3),
                10 => sim.refuse_next.set(true),
                11 => sim.max.set((sim.pages() + input.u8() as usize % 8).min(cap)),
                _ => {}
            }
        }
        sim.check_foreign();
    }
    count_ops(ops);
    // SAFETY: every block in the model is live.
    unsafe {
        model.check_all("end");
        for b in std::mem::take(&mut model.blocks) {
            tiny.free(b.ptr);
        }
    }
    let end = tiny.check();
    assert_eq!(end.allocated, 0, "blocks left after freeing everything");
    if end.regions < 64 {
        assert_eq!(end.free, end.regions, "one free chunk per region after freeing everything");
    }
    sim.check_foreign();
}
