//! The front end of feature `fast`: freed small blocks are held on lists by
//! exact size and handed out again; they go back to the core, merging,
//! before memory grows. These tests pin what a user relies on: reuse,
//! no growth while held blocks could serve, aligned requests, zeroed
//! blocks from held ones, truncation, and (with `checks`) double frees of
//! held blocks. (Under Miri, with `checks` walking the heap after every
//! call, the heaps are smaller.)
#![cfg(feature = "fast")]

mod common;

use std::alloc::Layout;

use common::sim::SimMemory;
use common::{Arena, MIRI};
use talcum::{ErrOnOom, Talc, WasmHandler, WASM_PAGE_SIZE as PAGE};

const WORD: usize = core::mem::size_of::<usize>();
const GRAIN: usize = 2 * WORD;

fn l(size: usize, align: usize) -> Layout {
    Layout::from_size_align(size, align).unwrap()
}

#[test]
fn a_freed_small_block_is_the_next_of_its_size() {
    let mut arena = Arena::new(64 << 10);
    let mut talc = Talc::new(ErrOnOom);
    // SAFETY: the arena outlives `talc`; each block is freed once.
    unsafe {
        talc.init(arena.span()).unwrap();
        // A block kept live: freeing the last live block gives everything
        // back (tested below).
        let _keep = talc.malloc(l(8, 8)).unwrap();
        let a = talc.malloc(l(40, 8)).unwrap();
        let b = talc.malloc(l(40, 8)).unwrap();
        talc.free(a, l(40, 8));
        talc.free(b, l(40, 8));
        // Last in, first out; a size of the same class (same chunk size).
        assert_eq!(talc.malloc(l(36, 4)).unwrap(), b);
        assert_eq!(talc.malloc(l(40, 1)).unwrap(), a);
        // Another class is not served from this one.
        talc.free(a, l(40, 1));
        assert_ne!(talc.malloc(l(100, 8)).unwrap(), a);
    }
}

/// Memory is full of held blocks, each too small alone, and one live block
/// (so the last free's give-back does not come); a request that fits only
/// once they merge succeeds without the OOM handler (which would fail:
/// `ErrOnOom`).
#[test]
fn held_blocks_merge_before_a_request_fails() {
    let mut arena = Arena::new(if MIRI { 4 << 10 } else { 16 << 10 });
    let mut talc = Talc::new(ErrOnOom);
    // SAFETY: the arena outlives `talc`; each block is freed once.
    unsafe {
        let heap = talc.init(arena.span()).unwrap();
        let mut blocks = Vec::new();
        while let Ok(p) = talc.malloc(l(48, 8)) {
            blocks.push(p);
        }
        assert!(blocks.len() > if MIRI { 20 } else { 100 });
        // The first block (at the heap's base) stays live.
        let (&first, rest) = blocks.split_first().unwrap();
        for &p in rest {
            talc.free(p, l(48, 8));
        }
        let big = l(heap.size() - 32 * WORD, 8);
        let p = talc.malloc(big).expect("the held blocks merge into the rest of the heap");
        talc.free(p, big);
        talc.free(first, l(48, 8));
    }
}

/// An aligned request that only a held block holds: a block of another
/// size whose payload happens to be aligned, in memory otherwise full.
/// (Found by the `fast_ops` fuzz target: a given-back block smaller than
/// the bound for any placement may still hold the block, so the search is
/// tried again before the request fails.)
#[test]
fn an_aligned_request_that_only_a_held_block_holds_succeeds() {
    let mut arena = Arena::new(if MIRI { 4 << 10 } else { 16 << 10 });
    let mut talc = Talc::new(ErrOnOom);
    let align = 8 * GRAIN;
    // SAFETY: the arena outlives `talc`; each block is freed once.
    unsafe {
        talc.init(arena.span()).unwrap();
        let small = l(5 * WORD, WORD); // a chunk of three grains: payloads step past every alignment
        let mut blocks = Vec::new();
        while let Ok(p) = talc.malloc(small) {
            blocks.push(p);
        }
        let i = blocks
            .iter()
            .position(|p| p.as_ptr() as usize % align == 0)
            .expect("one in eight payloads is aligned");
        let p = blocks.swap_remove(i);
        talc.free(p, small);
        // Its own class is empty for a zero-size request of this alignment
        // (it needs no more than the smallest chunk, but aligned).
        let q = talc.malloc(l(0, align)).expect("the held block's payload is aligned");
        assert_eq!(q, p);
        talc.free(q, l(0, align));
        for p in blocks {
            talc.free(p, small);
        }
    }
}

/// Small blocks fill the memory grown so far and are all freed (held);
/// a large request that fits the merged memory grows nothing, and every
/// held block is given back: a later walk finds one free chunk.
#[test]
fn memory_does_not_grow_while_held_blocks_could_serve() {
    let sim = SimMemory::new(if MIRI { 8 } else { 64 }, 1);
    let mut talc: Talc<WasmHandler<&SimMemory>> = Talc::new(WasmHandler::with_memory(&sim));
    let n = if MIRI { 60 } else { 2000 };
    // SAFETY: the simulated memory outlives `talc`; each block is freed once.
    unsafe {
        // A block kept live, so the last free's give-back does not come.
        let keep = talc.malloc(l(8, 8)).unwrap();
        let mut blocks = Vec::new();
        for i in 0..n {
            let layout = l(8 + (i * 24) % 240, 8);
            blocks.push((talc.malloc(layout).unwrap(), layout));
        }
        let pages = sim.pages();
        let held: usize = blocks.iter().map(|(_, l)| l.size()).sum();
        for &(p, layout) in &blocks {
            talc.free(p, layout);
        }
        assert_eq!(sim.pages(), pages);
        let big = l(held, 8);
        let p = talc.malloc(big).unwrap();
        assert_eq!(
            sim.pages(),
            pages,
            "memory grew although the held blocks, merged, hold {held} B"
        );
        talc.free(p, big);
        talc.free(keep, l(8, 8));
        let _ = PAGE;
    }
}

/// A zeroed request served by a held block (whose bytes are old) reads
/// zero.
#[test]
fn a_zeroed_block_from_a_held_one_reads_zero() {
    let mut arena = Arena::new(64 << 10);
    let mut talc = Talc::new(ErrOnOom);
    // SAFETY: the arena outlives `talc`; each block is freed once.
    unsafe {
        talc.init(arena.span()).unwrap();
        let _keep = talc.malloc(l(8, 8)).unwrap();
        for size in [1, 8, 24, 100, 250] {
            let layout = l(size, 1);
            let p = talc.malloc(layout).unwrap();
            p.as_ptr().write_bytes(0xA7, size);
            talc.free(p, layout);
            let q = talc.malloc_zeroed(layout).unwrap();
            assert_eq!(q, p, "served by the held block");
            let bytes = std::slice::from_raw_parts(q.as_ptr(), size);
            assert!(bytes.iter().all(|&b| b == 0), "{size} B: {bytes:?}");
            talc.free(q, layout);
        }
    }
}

/// Freeing the last live block gives every held block back: the heap is
/// one free chunk again, and a heap whose blocks were all freed can be
/// removed.
#[test]
fn a_heap_of_held_blocks_truncates_away() {
    let size = if MIRI { 4 << 10 } else { 16 << 10 };
    let mut arenas = [Arena::new(size), Arena::new(size)];
    let mut talc = Talc::new(ErrOnOom);
    // SAFETY: the arenas outlive `talc`; each block is freed once.
    unsafe {
        talc.init(arenas[0].span()).unwrap();
        let heap = talc.claim(arenas[1].span()).unwrap();
        let mut blocks = Vec::new();
        while let Ok(p) = talc.malloc(l(64, 8)) {
            blocks.push(p);
        }
        let (last, rest) = blocks.split_last().unwrap();
        for &p in rest {
            talc.free(p, l(64, 8));
        }
        // Held, so allocated for the core: the heap cannot go yet.
        assert!(!talc.get_allocated_span(heap).is_empty());
        talc.free(*last, l(64, 8));
        assert!(talc.get_allocated_span(heap).is_empty(), "held blocks kept after the last free");
        assert!(talc.truncate(heap, talcum::Span::empty()).is_empty(), "the empty heap was kept");
    }
}

/// A block freed twice while the front end holds it is caught.
#[cfg(feature = "checks")]
#[test]
#[should_panic(expected = "holds")]
fn a_double_free_of_a_held_block_is_caught() {
    let mut arena = Arena::new(16 << 10);
    let mut talc = Talc::new(ErrOnOom);
    // SAFETY: deliberately not: the second free is the bug under test.
    unsafe {
        talc.init(arena.span()).unwrap();
        let _keep = talc.malloc(l(8, 8)).unwrap();
        let p: std::ptr::NonNull<u8> = talc.malloc(l(32, 8)).unwrap();
        talc.free(p, l(32, 8));
        talc.free(p, l(32, 8));
    }
}
