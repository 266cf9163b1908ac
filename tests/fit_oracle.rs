//! Random aligned and unaligned traffic against the `fits` oracles: whenever
//! some free chunk surely holds a request (see `Talc::malloc`), `malloc`
//! (with `ErrOnOom`) must succeed, and it succeeds only when some free chunk
//! holds it; blocks must not overlap and keep their contents.
#![cfg(feature = "checks")]

mod common;

use std::alloc::Layout;

use common::{fits, surely_fits, Arena, Model, Rng};
use talcum::{ErrOnOom, Talc};

#[test]
fn malloc_succeeds_whenever_a_free_chunk_surely_fits() {
    for seed in 0..if common::MIRI { 1 } else { 40 } {
        let mut rng = Rng::new(seed);
        let mut arena = Arena::new(64 << 10);
        let mut talc = Talc::new(ErrOnOom);
        // SAFETY: the arena outlives `talc`.
        unsafe { talc.init(arena.span()).unwrap() };
        let mut model = Model::default();
        for _ in 0..if common::MIRI { 150 } else { 1500 } {
            if rng.chance(55) {
                let max_log = if rng.chance(10) { 13 } else { 7 };
                let align = 1 << rng.range(0, max_log);
                let size = if rng.chance(20) { rng.range(0, 64) } else { rng.size(6000) };
                let l = Layout::from_size_align(size, align).unwrap();
                let (fit, sure) = (fits(&talc, l), surely_fits(&talc, l));
                assert!(fit || !sure, "seed {seed}: {l:?} surely fits, but fits no free chunk");
                // SAFETY: the heap is valid.
                match unsafe { talc.malloc(l) } {
                    Ok(p) => {
                        assert!(fit, "seed {seed}: {l:?} succeeded, but fits no free chunk");
                        model.insert(p, l)
                    }
                    Err(()) => {
                        assert!(!sure, "seed {seed}: {l:?} surely fits a free chunk but failed")
                    }
                }
            } else if let Some(addr) = model.pick(&mut rng) {
                let b = model.remove(addr);
                // SAFETY: live, with its layout.
                unsafe { talc.free(b.ptr, b.layout) };
            }
        }
        common::free_all(&mut talc, &mut model);
    }
}
