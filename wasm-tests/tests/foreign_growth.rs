//! Memory grown by someone else (JavaScript, another allocator) between two of the
//! allocator's own growth steps: those pages are not the allocator's, must never be
//! handed out, merged into a heap, or written to.
#![cfg(target_arch = "wasm32")]

use std::ops::Range;

use wasm_bindgen_test::wasm_bindgen_test;
use wasm_tests::{
    assert_apart, fill, foreign_grow, memory_bytes, mismatch, use_up_free_memory, Block,
    XorShift64, MIB, WASM_PAGE,
};

/// Pages taken with a direct `memory.grow`, filled with a sentinel pattern.
struct Foreign {
    range: Range<usize>,
    tag: usize,
}

impl Foreign {
    fn grow(pages: usize, tag: usize) -> Foreign {
        let range = foreign_grow(pages).expect("direct memory.grow refused");
        assert_eq!(range.start % WASM_PAGE, 0);
        unsafe { fill(range.start as *mut u8, range.len(), tag) };
        Foreign { range, tag }
    }

    fn assert_intact(&self) {
        if let Some(at) =
            unsafe { mismatch(self.range.start as *const u8, self.range.len(), self.tag) }
        {
            panic!(
                "foreign pages {:#x}..{:#x} were written by the allocator at offset {:#x}",
                self.range.start, self.range.end, at
            );
        }
    }
}

fn assert_clear(blocks: &[Block], foreign: &[Foreign]) {
    for f in foreign {
        for b in blocks {
            assert_apart(&b.range(), &f.range);
        }
        f.assert_intact();
    }
}

#[wasm_bindgen_test]
fn foreign_pages_are_never_handed_out() {
    let mut rng = XorShift64::new(0xF0E1);
    let mut blocks: Vec<Block> = Vec::new();
    let mut foreign: Vec<Foreign> = Vec::new();
    let mut tag = 0;
    let mut next_tag = || {
        tag += 1;
        tag
    };

    for round in 0..8 {
        for _ in 0..50 {
            let size = rng.between(1, 3000);
            blocks.push(Block::new(size, 8, next_tag()));
        }
        foreign.push(Foreign::grow(1 + round * 3, 10_000 + round));
        assert_clear(&blocks, &foreign);

        // Small requests, probably served from free space below the foreign pages.
        for _ in 0..300 {
            let size = rng.between(1, 512);
            let align = 1 << rng.below(6);
            blocks.push(Block::new(size, align, next_tag()));
        }
        // A request bigger than anything free: the allocator must grow memory again,
        // above the foreign pages.
        let big = (2 + round) * MIB + rng.below(WASM_PAGE);
        blocks.push(Block::new(big, 16, next_tag()));
        assert_clear(&blocks, &foreign);

        // Free about a third, grow some of the rest (which may move them).
        let mut i = 0;
        while i < blocks.len() {
            if rng.percent(33) {
                drop(blocks.swap_remove(i));
            } else {
                if rng.percent(10) {
                    let new_size = blocks[i].size() * 2 + rng.below(100_000);
                    blocks[i].realloc(new_size);
                }
                i += 1;
            }
        }
        assert_clear(&blocks, &foreign);
    }

    // Everything the allocator owns is still usable after the foreign pages are gone
    // from its view: free it all and allocate a lot again.
    drop(blocks);
    for f in &foreign {
        f.assert_intact();
    }
    let again: Vec<Block> = (0..64).map(|i| Block::new(200_000 + i, 8, 50_000 + i)).collect();
    assert_clear(&again, &foreign);
}

#[wasm_bindgen_test]
fn freed_heap_top_is_not_extended_into_foreign_pages() {
    // An 8 MiB block needs fresh pages, so it sits at the top of a heap.
    let top = Block::new(8 * MIB, 8, 1);
    drop(top);
    // Someone else grows memory right above that now-free top.
    let f = Foreign::grow(16, 77);
    // Bigger than the free top: extending the heap in place would swallow the
    // foreign pages.
    let bigger = Block::new(12 * MIB, 8, 2);
    assert_apart(&bigger.range(), &f.range);
    let fits = Block::new(8 * MIB, 8, 3);
    assert_apart(&fits.range(), &f.range);
    let small: Vec<Block> = (0..1000).map(|i| Block::new(1 + i % 300, 4, 100 + i)).collect();
    assert_clear(&small, std::slice::from_ref(&f));
    assert_clear(&[bigger, fits], std::slice::from_ref(&f));
}

#[wasm_bindgen_test]
fn realloc_at_heap_top_does_not_grow_into_foreign_pages() {
    let mut block = Block::new(4 * MIB, 8, 5);
    // Whatever lies between the block and the end of memory may be free heap.
    let memory_end = memory_bytes() as usize;
    assert!(block.range().end <= memory_end);
    let f = Foreign::grow(4, 99);
    assert_eq!(f.range.start, memory_end);
    // Growing in place to this size would run through the foreign pages.
    let new_size = memory_end - block.range().start + 2 * WASM_PAGE;
    block.realloc(new_size);
    assert_apart(&block.range(), &f.range);
    f.assert_intact();
    block.realloc(new_size + 3 * MIB);
    assert_apart(&block.range(), &f.range);
    f.assert_intact();
    block.realloc(1000);
    drop(block);
    f.assert_intact();
}

#[wasm_bindgen_test]
fn growth_after_foreign_pages_is_sized_in_one_step() {
    // After a foreign page, the allocator cannot extend its heap and must claim new
    // pages as a separate heap. One memory.grow must then be enough for the request,
    // with its alignment and overhead: an undersized step shows up as a second grow.
    let mut foreign = Vec::new();
    let mut blocks = Vec::new();
    let mut fillers = Vec::new();
    let mut grew = 0;
    for align in [8, 4096, WASM_PAGE, MIB] {
        for size in [WASM_PAGE - 8, WASM_PAGE, 3 * WASM_PAGE - 24, MIB - 16, MIB, 5 * MIB + 3] {
            fillers.push(use_up_free_memory());
            let f = Foreign::grow(1, align + size);
            let before = memory_bytes() as usize;
            let b = Block::new(size, align, size ^ align);
            let grown = memory_bytes() as usize - before;
            let bound =
                (size + align + 64).div_ceil(WASM_PAGE).max(talcum::MIN_GROW_PAGES) * WASM_PAGE;
            assert!(
                grown <= bound,
                "{size} bytes aligned {align} grew memory by {grown} bytes (bound {bound})"
            );
            if grown > 0 {
                grew += 1;
                // The block came from the new pages, above the foreign one.
                assert!(
                    b.range().start >= f.range.end,
                    "{:?} is not above the foreign page",
                    b.range()
                );
            }
            assert_apart(&b.range(), &f.range);
            blocks.push(b);
            foreign.push(f);
        }
    }
    // At least every request of 1 MiB or more needed fresh pages (less than one
    // growth step is left free at the top after the fillers).
    assert!(grew >= 12, "only {grew} of 24 requests grew memory: the test did not test");
    assert_clear(&blocks, &foreign);
}

#[wasm_bindgen_test]
fn alternating_single_page_foreign_growth() {
    // One foreign page, then an allocation needing fresh memory, then another foreign
    // page, and so on: heaps end up separated by single pages that are not theirs.
    let mut blocks = Vec::new();
    let mut foreign = Vec::new();
    for i in 0..24 {
        foreign.push(Foreign::grow(1, 500 + i));
        let size = WASM_PAGE * (1 + i % 5) + 8 * i;
        blocks.push(Block::new(size, 8, 600 + i));
        blocks.push(Block::new(17 + i, 8, 700 + i));
    }
    assert_clear(&blocks, &foreign);
    // Free every other block, then ask for sizes that would only fit if two heaps
    // were (wrongly) merged across a foreign page.
    let mut odd = false;
    blocks.retain(|_| {
        odd = !odd;
        odd
    });
    for i in 0..24 {
        blocks.push(Block::new(WASM_PAGE * 6 + i, 8, 800 + i));
    }
    assert_clear(&blocks, &foreign);
    drop(blocks);
    for f in &foreign {
        f.assert_intact();
    }
}
