//! Randomized model-based test: tens of thousands of operations on `Talc`,
//! every block patterned and checked, no overlaps, counters agree.

mod common;

use std::alloc::Layout;
use std::ptr::NonNull;

use common::{verify, Arena, Model, Rng, MIRI};
use talcum::{ErrOnOom, Talc};

const MAX_SIZE: usize = 1 << 20;
const LIVE_BYTES_CAP: usize = 6 << 20;

fn random_layout(rng: &mut Rng, max: usize) -> Layout {
    let size = if rng.chance(3) { 0 } else { rng.size(max) };
    let align = if rng.chance(70) { 1 << rng.range(0, 3) } else { 1 << rng.range(0, 12) };
    Layout::from_size_align(size, align).unwrap()
}

fn check_counters(talc: &Talc<ErrOnOom>, model: &Model) {
    #[cfg(feature = "counters")]
    {
        let c = talc.get_counters();
        assert_eq!(c.allocation_count, model.len());
        assert_eq!(c.allocated_bytes, model.bytes);
        assert!(c.available_bytes + c.allocated_bytes <= c.claimed_bytes);
    }
    let _ = (talc, model);
}

fn run(seed: u64, ops: usize, max_size: usize, arena_bytes: usize) {
    let mut arena = Arena::new(arena_bytes);
    let mut talc = Talc::new(ErrOnOom);
    // SAFETY: the arena outlives `talc` and serves nothing else.
    unsafe { talc.init(arena.span()).unwrap() };
    let mut rng = Rng::new(seed);
    let mut model = Model::default();
    let mut failures = 0;

    for _ in 0..ops {
        let roll = rng.range(0, 99);
        let full = model.bytes > LIVE_BYTES_CAP.min(arena_bytes / 3);
        if roll < 40 && !full {
            let layout = random_layout(&mut rng, max_size);
            // With `checks`, the oracle: a request fails only when no free
            // chunk surely holds it (see `Talc::malloc`).
            #[cfg(feature = "checks")]
            let fits = common::surely_fits(&talc, layout);
            // SAFETY: the heap is valid.
            match unsafe { talc.malloc(layout) } {
                Ok(p) => model.insert(p, layout),
                Err(()) => {
                    #[cfg(feature = "checks")]
                    assert!(!fits, "{layout:?} failed, but a free chunk surely fits it");
                    failures += 1;
                }
            }
        } else if let Some(addr) = model.pick(&mut rng) {
            if roll < 75 || full {
                let b = model.remove(addr);
                // SAFETY: live block with its layout.
                unsafe { talc.free(b.ptr, b.layout) };
            } else {
                resize(&mut talc, &mut model, &mut rng, addr, roll, max_size);
            }
        }
        check_counters(&talc, &model);
    }
    // The live set is capped well below the arena: failures (each checked
    // by the oracle above, with `checks`) stay rare.
    assert!(failures * 100 <= ops, "{failures} allocations failed in {ops} operations");
    common::free_all(&mut talc, &mut model);
    check_counters(&talc, &model);
    // Everything merged back: one free chunk spanning the allocatable space
    // (with feature `fast`, once the front end gives its blocks back).
    // SAFETY: the heap is valid.
    #[cfg(feature = "fast")]
    unsafe {
        talc.release_held()
    };
    #[cfg(feature = "counters")]
    assert_eq!(talc.get_counters().fragment_count, 1);
    // SAFETY: `talc` is the arena's allocator.
    let whole = Layout::from_size_align(talc.get_allocatable_span().size() - 8, 8).unwrap();
    // SAFETY: the heap is valid; the block is freed at once.
    unsafe {
        let p = talc.malloc(whole).expect("the whole arena is free again");
        talc.free(p, whole);
    }
}

fn resize(
    talc: &mut Talc<ErrOnOom>,
    model: &mut Model,
    rng: &mut Rng,
    addr: usize,
    roll: usize,
    max: usize,
) {
    let b = model.remove(addr);
    let old = b.layout;
    let new_size = if rng.chance(50) { rng.size(max) } else { rng.range(0, old.size() * 2 + 8) };
    let new_layout = Layout::from_size_align(new_size, old.align()).unwrap();
    let kept = old.size().min(new_size);
    // SAFETY: `b` is live with `old`; each call's size precondition is met.
    let result: Result<NonNull<u8>, ()> = unsafe {
        match roll {
            75..=84 => talc.realloc(b.ptr, old, new_size),
            85..=91 if new_size >= old.size() => talc.grow(b.ptr, old, new_size),
            85..=91 => {
                talc.shrink(b.ptr, old, new_size);
                Ok(b.ptr)
            }
            _ if new_size >= old.size() => talc.grow_in_place(b.ptr, old, new_size),
            _ => {
                talc.shrink(b.ptr, old, new_size);
                Ok(b.ptr)
            }
        }
    };
    match result {
        Ok(p) => {
            let moved = common::Block { ptr: p, layout: new_layout, id: b.id };
            verify(&moved, kept);
            model.insert_with_id(p, new_layout, b.id, kept);
        }
        Err(()) => {
            // A failed resize leaves the block as it was.
            verify(&b, old.size());
            model.insert_with_id(b.ptr, old, b.id, old.size());
        }
    }
}

#[test]
fn random_operations_small_sizes() {
    run(1, if MIRI { 150 } else { 40_000 }, 512, 4 << 20);
}

#[test]
fn random_operations_up_to_a_mebibyte() {
    // Under Miri every byte written costs: smaller blocks, same code paths.
    let (ops, max) = if MIRI { (60, 16 << 10) } else { (20_000, MAX_SIZE) };
    run(2, ops, max, 24 << 20);
}

#[test]
fn random_operations_many_seeds() {
    for seed in 10..if MIRI { 11 } else { 20 } {
        run(seed, if MIRI { 80 } else { 5_000 }, 8192, 2 << 20);
    }
}
