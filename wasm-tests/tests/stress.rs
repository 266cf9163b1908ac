//! 100 000 random allocator operations, each block's contents checked before it is
//! freed or reallocated, all live blocks checked for overlap every few thousand steps.
#![cfg(target_arch = "wasm32")]

use wasm_bindgen_test::wasm_bindgen_test;
use wasm_tests::{assert_disjoint, assert_talcum_is_global, Block, XorShift64};

const OPS: usize = 100_000;
const SLOTS: usize = 2000;

fn random_size(rng: &mut XorShift64) -> usize {
    match rng.below(1000) {
        0..=749 => rng.between(1, 256),
        750..=989 => rng.between(257, 8192),
        990..=998 => rng.between(8193, 256 * 1024),
        _ => rng.between(256 * 1024, 2 * 1024 * 1024),
    }
}

fn random_align(rng: &mut XorShift64) -> usize {
    match rng.below(100) {
        0..=59 => 1 << rng.below(4),
        60..=94 => 1 << rng.between(4, 7),
        _ => 1 << rng.between(8, 14),
    }
}

struct Tally {
    allocs: usize,
    frees: usize,
    reallocs: usize,
    peak_live: usize,
}

fn run(seed: u64) -> Tally {
    let mut rng = XorShift64::new(seed);
    let mut slots: Vec<Option<Block>> = (0..SLOTS).map(|_| None).collect();
    let mut tally = Tally { allocs: 0, frees: 0, reallocs: 0, peak_live: 0 };
    let mut live = 0;
    for op in 0..OPS {
        let k = rng.below(SLOTS);
        match slots[k].take() {
            None => {
                let size = random_size(&mut rng);
                let align = random_align(&mut rng);
                slots[k] = Some(Block::new(size, align, op));
                tally.allocs += 1;
                live += 1;
                tally.peak_live = tally.peak_live.max(live);
            }
            Some(mut b) => {
                // Check contents first, so a corruption is reported at the first
                // operation that touches the damaged block.
                b.assert_intact();
                if rng.percent(40) {
                    b.realloc(random_size(&mut rng));
                    tally.reallocs += 1;
                    slots[k] = Some(b);
                } else {
                    drop(b);
                    tally.frees += 1;
                    live -= 1;
                }
            }
        }
        if op % 5000 == 4999 {
            let mut ranges: Vec<_> = slots.iter().flatten().map(Block::range).collect();
            assert_disjoint(&mut ranges);
        }
    }
    for b in slots.iter().flatten() {
        b.assert_intact();
    }
    drop(slots);
    tally
}

#[wasm_bindgen_test]
fn hundred_thousand_random_operations() {
    assert_talcum_is_global();
    let t = run(0x5EED_0001);
    assert_eq!(t.allocs + t.frees + t.reallocs, OPS);
    // The mix is what it claims to be: all three operations happen a lot, and many
    // blocks are alive at once.
    assert!(t.allocs > 30_000 && t.frees > 20_000 && t.reallocs > 10_000);
    assert!(t.peak_live > SLOTS / 3);
}

#[wasm_bindgen_test]
fn second_seed_after_the_heap_is_fragmented() {
    // The first run left the heap in whatever shape its frees produced; a second,
    // different sequence must work on top of that.
    let t = run(0x5EED_0002);
    assert_eq!(t.allocs + t.frees + t.reallocs, OPS);
}
