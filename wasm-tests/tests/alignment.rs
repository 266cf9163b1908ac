//! Every power-of-two alignment from 8 bytes to 1 MiB: aligned, writable, reusable,
//! including alignments larger than a wasm page.
#![cfg(target_arch = "wasm32")]

use wasm_bindgen_test::wasm_bindgen_test;
use wasm_tests::{assert_disjoint, assert_talcum_is_global, memory_bytes, Block, XorShift64, MIB};

fn alignments() -> impl DoubleEndedIterator<Item = usize> {
    (3..=20).map(|shift| 1usize << shift)
}

/// Sizes around the alignment, where rounding mistakes show.
fn sizes_for(align: usize) -> [usize; 6] {
    [1, 7, align - 1, align, align + 1, 3 * align + 5]
}

#[wasm_bindgen_test]
fn each_alignment_alone() {
    assert_talcum_is_global();
    assert_eq!(alignments().count(), 18);
    for align in alignments() {
        for size in sizes_for(align) {
            // Block::new asserts alignment, fills every byte; drop checks and frees.
            let b = Block::new(size, align, align + size);
            assert!(b.range().end as u64 <= memory_bytes());
            drop(b);
            // And again: the freed spot (or another) must serve the same request.
            let again = Block::new(size, align, size);
            again.assert_intact();
        }
    }
}

#[wasm_bindgen_test]
fn all_alignments_alive_together() {
    let mut blocks = Vec::new();
    for round in 0..3 {
        for align in alignments() {
            let size = if align >= 64 * 1024 { align / 2 + round } else { 3 * align + round };
            blocks.push(Block::new(size, align, blocks.len()));
            // A small unaligned neighbour between the aligned ones.
            blocks.push(Block::new(13 + round, 1, blocks.len()));
        }
    }
    let mut ranges: Vec<_> = blocks.iter().map(Block::range).collect();
    assert_disjoint(&mut ranges);
    for b in &blocks {
        b.assert_intact();
    }
    // Free every other one and reallocate with the alignments in reverse order.
    let mut keep = false;
    blocks.retain(|_| {
        keep = !keep;
        keep
    });
    for align in alignments().rev() {
        blocks.push(Block::new(align + 3, align, 1000 + align));
    }
    let mut ranges: Vec<_> = blocks.iter().map(Block::range).collect();
    assert_disjoint(&mut ranges);
}

#[wasm_bindgen_test]
fn big_alignments_do_not_waste_memory_without_bound() {
    // 200 allocations of 1 byte aligned to 1 MiB need ~200 MiB of address space at most
    // (plus slack); an allocator that grows a full extra alignment's worth per request on
    // top of that would still pass, but one that leaks the padding for good would not
    // survive the second pass without growing far beyond it.
    let start = memory_bytes();
    for pass in 0..2 {
        let blocks: Vec<Block> = (0..100).map(|i| Block::new(1 + i, MIB, pass * 100 + i)).collect();
        let mut ranges: Vec<_> = blocks.iter().map(Block::range).collect();
        assert_disjoint(&mut ranges);
    }
    let grown = memory_bytes() - start;
    assert!(
        grown <= 260 * MIB as u64,
        "two passes of 100 x 1 MiB-aligned bytes grew memory by {grown} bytes"
    );
}

#[wasm_bindgen_test]
fn random_alignments_and_sizes() {
    let mut rng = XorShift64::new(0xA11C);
    let mut blocks: Vec<Block> = Vec::new();
    for i in 0..3000 {
        if !blocks.is_empty() && rng.percent(45) {
            let k = rng.below(blocks.len());
            drop(blocks.swap_remove(k));
        } else {
            let shift = if rng.percent(90) { rng.below(13) } else { 13 + rng.below(8) };
            let align = 1usize << shift;
            let size = rng.between(1, 2 * align.min(64 * 1024) + 100);
            blocks.push(Block::new(size, align, i));
        }
    }
    let mut ranges: Vec<_> = blocks.iter().map(Block::range).collect();
    assert_disjoint(&mut ranges);
}
