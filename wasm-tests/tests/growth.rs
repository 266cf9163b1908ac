//! Blocks far larger than one wasm page: the allocator must grow memory by the right
//! amount (never too little, never looping) and hand back usable, reusable memory.
#![cfg(target_arch = "wasm32")]

use std::alloc::{alloc, dealloc, Layout};

use wasm_bindgen_test::wasm_bindgen_test;
use wasm_tests::{
    assert_disjoint, assert_talcum_is_global, memory_bytes, use_up_free_memory, Block, MIB,
};

const SIZES: [usize; 4] = [MIB, 16 * MIB, 17 * MIB, 64 * MIB];

/// Allocates `size` bytes, writes the first and last byte, reads them back, frees.
fn touch_ends(size: usize, align: usize) {
    let layout = Layout::from_size_align(size, align).unwrap();
    unsafe {
        let p = alloc(layout);
        assert!(!p.is_null(), "{size} bytes aligned {align}: null");
        assert_eq!(p as usize % align, 0);
        let end = p as u64 + size as u64;
        assert!(
            end <= memory_bytes(),
            "{size}-byte block at {p:p} ends past linear memory ({} bytes)",
            memory_bytes()
        );
        p.write_volatile(0xA5);
        p.add(size - 1).write_volatile(0x5A);
        assert_eq!(p.read_volatile(), 0xA5);
        assert_eq!(p.add(size - 1).read_volatile(), 0x5A);
        dealloc(p, layout);
    }
}

#[wasm_bindgen_test]
fn first_and_last_bytes_of_big_blocks() {
    assert_talcum_is_global();
    for &size in &SIZES {
        touch_ends(size, 1);
        touch_ends(size, 8);
        touch_ends(size + 1, 16);
        touch_ends(size - 1, 4096);
    }
}

#[wasm_bindgen_test]
fn big_blocks_alive_together_are_disjoint_and_intact() {
    // Fully filled and checked: catches a block that overlaps a neighbour or an
    // allocator header written into the middle of a big block.
    let blocks: Vec<Block> =
        SIZES.iter().enumerate().map(|(i, &s)| Block::new(s, 8, i + 1)).collect();
    let mut ranges: Vec<_> = blocks.iter().map(Block::range).collect();
    assert_disjoint(&mut ranges);
    for b in &blocks {
        assert!(b.range().end as u64 <= memory_bytes());
        b.assert_intact();
    }
    // Small allocations in between the big ones must not land inside them.
    let small: Vec<Block> = (0..200).map(|i| Block::new(24 + i % 100, 8, 100 + i)).collect();
    let mut all: Vec<_> = blocks.iter().chain(&small).map(Block::range).collect();
    assert_disjoint(&mut all);
    drop(small);
    for b in &blocks {
        b.assert_intact();
    }
}

#[wasm_bindgen_test]
fn freed_big_block_is_reused_without_growing() {
    let first = Block::new(64 * MIB, 8, 1);
    drop(first);
    let before = memory_bytes();
    for tag in 0..4 {
        let again = Block::new(64 * MIB, 8, tag);
        again.assert_intact();
    }
    assert_eq!(memory_bytes(), before, "re-allocating a freed 64 MiB block grew memory");
}

#[wasm_bindgen_test]
fn growth_counts_the_free_top_of_the_heap() {
    // A freed 8 MiB block at the top of memory stays free there; a 12 MiB
    // request then extends it. The free top counts for up to half the
    // request, so it grows 6 MiB (not 12, and not just the missing 4: a
    // request that creeps up at each use must not grow memory each time).
    let fillers = use_up_free_memory();
    let low = Block::new(8 * MIB, 8, 1);
    let start = low.range().start;
    drop(low);
    let before = memory_bytes();
    let high = Block::new(12 * MIB, 8, 2);
    let grown = memory_bytes() - before;
    assert!(grown >= 6 * MIB as u64, "grew only {grown} bytes");
    assert!(
        grown <= 6 * MIB as u64 + 128 * 1024,
        "grew {grown} bytes for 12 MiB on top of a free 8 MiB"
    );
    assert_eq!(high.range().start, start, "the request did not start in the freed top");
    high.assert_intact();
    drop(high);
    drop(fillers);
}

#[wasm_bindgen_test]
fn neighbouring_freed_blocks_merge_across_growth_steps() {
    // 16 MiB and 17 MiB each need fresh pages; once both are free, a 32 MiB request
    // must fit into the joined space rather than grow memory again.
    let fillers = use_up_free_memory();
    let a = Block::new(16 * MIB, 8, 1);
    let b = Block::new(17 * MIB, 8, 2);
    drop(a);
    drop(b);
    let before = memory_bytes();
    let joined = Block::new(32 * MIB, 8, 3);
    assert_eq!(
        memory_bytes(),
        before,
        "32 MiB did not fit into the freed, adjacent 16 MiB + 17 MiB"
    );
    drop(joined);
    drop(fillers);
}

#[wasm_bindgen_test]
fn three_neighbours_coalesce_in_every_free_order() {
    let orders = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];
    let sizes = [100_000, 200_000, 300_000];
    for order in orders {
        // Fresh pages, so the three blocks are neighbours (no older free fragment
        // can hold 64 KiB or more).
        let fillers = use_up_free_memory();
        let mut blocks: Vec<Option<Block>> =
            sizes.iter().enumerate().map(|(i, &s)| Some(Block::new(s, 8, i))).collect();
        for i in order {
            drop(blocks[i].take());
        }
        let before = memory_bytes();
        let joined = Block::new(sizes.iter().sum(), 8, 9);
        assert_eq!(memory_bytes(), before, "freed neighbours (order {order:?}) did not coalesce");
        drop(joined);
        drop(fillers);
    }
}

#[wasm_bindgen_test]
fn many_pages_in_small_steps() {
    // Thousands of allocations that each need a little more memory: every growth
    // step is small and the heap must keep extending in place.
    let start = memory_bytes();
    let mut blocks = Vec::new();
    let mut total = 0;
    let mut i = 0;
    while total < 40 * MIB {
        let size = 40_000 + (i * 7919) % 50_000;
        blocks.push(Block::new(size, 16, i));
        total += size;
        i += 1;
    }
    // Exact-need and doubling growth policies both stay within this bound; a
    // policy that over-grows on every small step does not.
    let grown = memory_bytes() - start;
    let bound = 2 * (total as u64).max(start) + 16 * MIB as u64;
    assert!(grown <= bound, "{total} bytes of blocks grew memory by {grown}");
    let mut ranges: Vec<_> = blocks.iter().map(Block::range).collect();
    assert_disjoint(&mut ranges);
    // Free from the middle outward, checking every block on the way.
    while !blocks.is_empty() {
        let mid = blocks.len() / 2;
        drop(blocks.swap_remove(mid));
    }
}

#[wasm_bindgen_test]
fn alignments_far_beyond_the_page() {
    // 16 MiB to 256 MiB alignment: the allocator must grow enough to align inside the
    // new memory (or fail cleanly), never return a misaligned or out-of-memory pointer.
    for shift in 24..=28 {
        let align = 1usize << shift;
        for size in [1, 4096, align + 1] {
            let layout = Layout::from_size_align(size, align).unwrap();
            unsafe {
                let p = alloc(layout);
                assert!(!p.is_null(), "{size} bytes aligned {align}: null");
                assert_eq!(p as usize % align, 0, "{size} bytes aligned {align}: {p:p}");
                assert!(p as u64 + size as u64 <= memory_bytes());
                p.write_volatile(9);
                p.add(size - 1).write_volatile(8);
                let neighbour = Block::new(1000, 8, shift);
                assert!(
                    neighbour.range().end <= p as usize
                        || neighbour.range().start >= p as usize + size
                );
                assert_eq!(p.read_volatile(), if size == 1 { 8 } else { 9 });
                assert_eq!(p.add(size - 1).read_volatile(), 8);
                drop(neighbour);
                dealloc(p, layout);
            }
        }
    }
}

#[wasm_bindgen_test]
fn very_large_block_sets_high_size_bits() {
    // 768 MiB sets bits 29 and 28 of the chunk size, where a careless allocator keeps
    // its tags. Only the ends and a stride of pages are touched, so this costs little
    // resident memory.
    let size = 768 * MIB;
    let layout = Layout::from_size_align(size, 64).unwrap();
    unsafe {
        let p = alloc(layout);
        assert!(!p.is_null(), "768 MiB allocation returned null");
        assert_eq!(p as usize % 64, 0);
        assert!(p as u64 + size as u64 <= memory_bytes());
        let mut off = 0;
        while off < size {
            p.add(off).write_volatile((off >> 20) as u8);
            off += 4 * MIB;
        }
        p.add(size - 1).write_volatile(0xEE);
        let small = Block::new(100, 8, 5);
        assert!(small.range().end <= p as usize || small.range().start >= p as usize + size);
        let mut off = 0;
        while off < size {
            assert_eq!(p.add(off).read_volatile(), (off >> 20) as u8);
            off += 4 * MIB;
        }
        assert_eq!(p.add(size - 1).read_volatile(), 0xEE);
        drop(small);
        dealloc(p, layout);
        // The freed space serves a same-sized request again.
        let before = memory_bytes();
        let q = alloc(layout);
        assert!(!q.is_null());
        q.add(size - 1).write_volatile(1);
        assert_eq!(memory_bytes(), before, "freed 768 MiB was not reused");
        dealloc(q, layout);
    }
}

#[wasm_bindgen_test]
#[cfg(not(feature = "tiny"))] // the tiny allocator leaves the initial memory alone
fn the_first_heap_is_the_memory_the_module_starts_with() {
    // talcum takes `__heap_base..__heap_end` (the initial memory past the
    // data and stack) as its first heap, before it grows anything.
    extern "C" {
        static __heap_base: u8;
        static __heap_end: u8;
    }
    assert_talcum_is_global();
    let base = (&raw const __heap_base) as usize;
    let end = (&raw const __heap_end) as usize;
    let arena = wasm_tests::talcum_arena();
    assert!(end > base + 1024, "no initial memory past __heap_base: {base:#x}..{end:#x}");
    assert!(
        (base..base + 16).contains(&arena.start),
        "talcum's first heap starts at {:#x}, __heap_base is {base:#x}",
        arena.start
    );
    assert!(
        arena.end >= end,
        "the first heap ends at {:#x}, before __heap_end {end:#x}",
        arena.end
    );
}
