//! `realloc` keeps `min(old, new)` bytes and the alignment, growing and shrinking,
//! in place or by moving.
#![cfg(target_arch = "wasm32")]

use wasm_bindgen_test::wasm_bindgen_test;
use wasm_tests::{assert_talcum_is_global, Block, XorShift64, MIB};

/// Sizes around word, chunk and page boundaries.
const SIZES: [usize; 27] = [
    1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 256, 257, 1000, 4095,
    4096, 4097, 65_536, 65_537,
];

const ALIGNS: [usize; 6] = [1, 4, 8, 16, 256, 65_536];

#[wasm_bindgen_test]
fn every_size_pair_and_alignment() {
    assert_talcum_is_global();
    let mut count = 0;
    for align in ALIGNS {
        for old in SIZES {
            for new in SIZES {
                // Block::realloc checks the preserved prefix and the alignment.
                let mut b = Block::new(old, align, old * 31 + new);
                b.realloc(new);
                assert_eq!(b.size(), new);
                b.realloc(old);
                count += 1;
            }
        }
    }
    assert_eq!(count, 6 * 27 * 27);
}

#[wasm_bindgen_test]
fn grow_step_by_step_with_neighbours() {
    // A neighbour right after the block forces moves; without it growth can be in place.
    for with_neighbour in [false, true] {
        for align in [8, 64, 4096] {
            let mut b = Block::new(1, align, 3);
            let mut neighbours = Vec::new();
            let mut size = 1;
            while size < 4 * MIB {
                if with_neighbour {
                    neighbours.push(Block::new(24, 8, size));
                }
                size = size * 3 / 2 + 1;
                b.realloc(size);
            }
            // Then shrink step by step.
            while size > 1 {
                size /= 3;
                size = size.max(1);
                b.realloc(size);
                b.assert_intact();
            }
            for n in &neighbours {
                n.assert_intact();
            }
        }
    }
}

#[wasm_bindgen_test]
fn shrink_then_grow_back_in_place_region() {
    // Shrinking frees the tail; growing back must not trust stale tail bytes, and the
    // freed tail must be usable by others meanwhile.
    let mut b = Block::new(MIB, 16, 11);
    b.realloc(1000);
    let taker = Block::new(200_000, 8, 12);
    b.realloc(MIB);
    b.assert_intact();
    taker.assert_intact();
    drop(taker);
    b.realloc(5);
    b.realloc(3 * MIB);
}

#[wasm_bindgen_test]
fn alloc_zeroed_is_zero_on_reused_memory() {
    use std::alloc::{alloc_zeroed, dealloc, Layout};
    for (size, align) in [(1, 1), (24, 8), (1000, 16), (70_000, 64), (3 * MIB, 4096)] {
        let layout = Layout::from_size_align(size, align).unwrap();
        // Dirty memory first, free it, then ask for zeroed memory of the same shape.
        let dirty: Vec<Vec<u8>> = (0..8).map(|_| vec![0xFF; size]).collect();
        drop(dirty);
        unsafe {
            let p = alloc_zeroed(layout);
            assert!(!p.is_null());
            assert_eq!(p as usize % align, 0);
            let bytes = std::slice::from_raw_parts(p, size);
            assert!(
                bytes.iter().all(|&b| b == 0),
                "alloc_zeroed({size}, {align}) gave non-zero bytes"
            );
            dealloc(p, layout);
        }
        let v = vec![0u32; size];
        assert!(v.iter().all(|&x| x == 0));
    }
}

#[wasm_bindgen_test]
fn random_realloc_chains() {
    let mut rng = XorShift64::new(0xBEEF);
    let mut blocks: Vec<Block> = (0..64).map(|i| Block::new(1 + i * 13, 1 << (i % 8), i)).collect();
    for _ in 0..20_000 {
        let k = rng.below(blocks.len());
        let size = match rng.below(10) {
            0..=5 => rng.between(1, 256),
            6..=8 => rng.between(257, 20_000),
            _ => rng.between(20_001, 600_000),
        };
        blocks[k].realloc(size);
    }
    for b in &blocks {
        b.assert_intact();
    }
}
