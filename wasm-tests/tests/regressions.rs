//! Regression tests for fixed defects, on real `memory.grow`, each with a local
//! allocator so that its heaps, and what it grows, are known exactly:
//!
//! * an aligned request skipped a free chunk that fits it, when the chunk sat in
//!   a bin below those where every chunk fits the alignment, and grew memory (or
//!   failed) instead: `malloc(24 B, align 16)` and a freed 8-word chunk whose
//!   payload happens to be 16-aligned;
//! * `WasmHandler` kept the top of the heap it grew last, which went stale when
//!   the `Talc` was re-`init`ed or the heap truncated: growth then "extended" a
//!   heap the allocator no longer had;
//! * `WasmMemory`'s derived `Default` (so `WasmHandler::default()`) handed over
//!   the initial memory, as only the `unsafe` `with_initial_memory` may: safe
//!   code built a second allocator over the global allocator's first heap, and
//!   blocks of both landed at the same address.
#![cfg(target_arch = "wasm32")]

use std::alloc::Layout;
use std::ptr::NonNull;

use talcum::{ErrOnOom, Span, Talc, WasmHandler, WasmMemory};
use wasm_bindgen_test::wasm_bindgen_test;
use wasm_tests::{
    acme_of, assert_filled, base_of, fill, local_talc, memory_bytes, memory_pages, mismatch,
    must_malloc, WASM_PAGE,
};

const WORD: usize = core::mem::size_of::<usize>();

/// 24 bytes aligned to 16: a chunk of 7 words at no padding, while only chunks
/// of 10 words or more are sure to fit.
fn small_aligned() -> Layout {
    Layout::from_size_align(24, 16).unwrap()
}

#[wasm_bindgen_test]
fn full_arena_takes_a_freed_aligned_block_again() {
    static mut ARENA: [u64; 512] = [0; 512];
    let layout = small_aligned();
    let mut talc = Talc::new(ErrOnOom);
    // SAFETY: ARENA is used by this allocator only, and this test runs once.
    let heap = unsafe { talc.init(Span::from_array(&raw mut ARENA)) }.expect("init");
    let mut blocks: Vec<NonNull<u8>> = Vec::with_capacity(256);
    // SAFETY: the arena is valid for the whole test.
    while let Ok(p) = unsafe { talc.malloc(layout) } {
        assert_eq!(p.as_ptr() as usize % 16, 0);
        assert!(heap.contains(p.as_ptr()));
        // SAFETY: a fresh 24-byte block.
        unsafe { fill(p.as_ptr(), 24, blocks.len()) };
        blocks.push(p);
        assert!(blocks.len() < blocks.capacity(), "4 KiB held too many blocks");
    }
    // 4 KiB: over a hundred 8-word chunks.
    assert!(blocks.len() >= 100, "only {} blocks fit in 4 KiB", blocks.len());
    // A block in the middle has allocated neighbours: freed, it is an 8-word
    // chunk on its own, whose payload lies 16-aligned; nothing else is free.
    let mid = blocks.len() / 2;
    let freed = blocks[mid];
    // SAFETY: live, with its layout.
    unsafe { talc.free(freed, layout) };
    // SAFETY: the arena is valid.
    let again = unsafe { talc.malloc(layout) }
        .expect("a freed (24 B, align 16) block could not be allocated again in a full arena");
    assert_eq!(again, freed, "not served from the block just freed");
    // SAFETY: the block is live again, 24 bytes.
    unsafe { fill(again.as_ptr(), 24, mid) };
    // Full again: the fill ran to the end, so the freed block was the only place.
    // SAFETY: the arena is valid.
    assert!(unsafe { talc.malloc(layout) }.is_err(), "the arena was not full");
    for (tag, &p) in blocks.iter().enumerate() {
        assert_filled(p, 24, tag);
    }
}

#[wasm_bindgen_test]
fn freed_aligned_block_is_taken_again_without_growing() {
    let layout = small_aligned();
    let mut talc = local_talc();
    let mut blocks: Vec<NonNull<u8>> = Vec::with_capacity(4096);
    blocks.push(must_malloc(&mut talc, layout, 0));
    let heap = talc.get_arena();
    assert_eq!(talc.get_last_heap_acme(), heap.acme());
    let pages = memory_pages();
    // Fill the heap from the bottom while its free top surely fits another
    // block (10 words, and the sentinel's).
    let free_top = |talc: &wasm_tests::LocalTalc| {
        let heap = talc.get_arena();
        // SAFETY: the arena (the only heap) as it now is.
        acme_of(heap) - acme_of(unsafe { talc.get_allocated_span(heap) })
    };
    while free_top(&talc) >= 11 * WORD {
        blocks.push(must_malloc(&mut talc, layout, blocks.len()));
        assert!(blocks.len() < blocks.capacity(), "the heap held too many blocks");
    }
    assert_eq!(memory_pages(), pages, "filling the heap's free top grew memory");
    assert_eq!(talc.get_arena(), heap);
    assert_eq!(talc.get_last_heap_acme(), heap.acme());
    // Close what is left of the top exactly: a word-aligned block of the free
    // chunk's size, less its tag.
    let rest = free_top(&talc) - WORD;
    let closer = (rest > 0).then(|| Layout::from_size_align(rest - WORD, WORD).unwrap());
    let c = closer.map(|l| (must_malloc(&mut talc, l, 9999), l));
    assert_eq!(free_top(&talc), WORD, "setup: the heap still has a free top");
    assert_eq!(memory_pages(), pages);

    let mid = blocks.len() / 2;
    let freed = blocks[mid];
    // SAFETY: live, with its layout.
    unsafe { talc.free(freed, layout) };
    // SAFETY: the heaps are valid.
    let again = unsafe { talc.malloc(layout) }.expect("allocation failed");
    assert_eq!(
        memory_pages(),
        pages,
        "a (24 B, align 16) request grew memory although the same block was just freed"
    );
    assert_eq!(again, freed, "not served from the block just freed");
    // SAFETY: live again, 24 bytes.
    unsafe { fill(again.as_ptr(), 24, mid) };
    // The heap is full once more: the next block needs fresh pages.
    let extra = must_malloc(&mut talc, layout, 4242);
    assert!(memory_pages() > pages, "setup: the heap was not full");
    assert!(!heap.contains(extra.as_ptr()));
    for (tag, &p) in blocks.iter().enumerate() {
        assert_filled(p, 24, tag);
    }
    if let Some((c, l)) = c {
        assert_filled(c, l.size(), 9999);
    }
}

#[wasm_bindgen_test]
fn failed_init_leaves_no_heap_and_growth_starts_a_fresh_arena() {
    static mut TOO_SMALL: [u32; 4] = [0; 4];
    // Room for a copy of the old arena, reserved before the local allocator
    // grows memory: nothing else may grow it until the second allocation.
    let mut copy: Vec<u8> = Vec::with_capacity(2 * WASM_PAGE);
    let layout = Layout::from_size_align(1000, 8).unwrap();
    let mut talc = local_talc();
    let p = must_malloc(&mut talc, layout, 1);
    let old = talc.get_arena();
    assert!(old.contains(p.as_ptr()));
    assert_eq!(
        acme_of(old) as u64,
        memory_bytes(),
        "setup: the arena does not end where memory does"
    );
    assert!(old.size() <= copy.capacity());
    // SAFETY: the arena is memory of ours, readable.
    copy.extend_from_slice(unsafe { std::slice::from_raw_parts(old.base(), old.size()) });

    // 16 bytes: too small for a chunk and the sentinel. The allocator forgets the old arena
    // (and `p`) all the same.
    // SAFETY: TOO_SMALL is used by this allocator only, and this test runs once.
    let r = unsafe { talc.init(Span::from_array(&raw mut TOO_SMALL)) };
    assert!(r.is_err(), "a 16-byte arena was accepted: {r:?}");
    assert!(talc.get_arena().is_empty(), "an arena after a failed init");
    assert!(talc.get_last_heap_acme().is_null(), "a last heap after a failed init");

    // Memory still ends where the forgotten arena does: a handler that kept it
    // would extend it.
    let end = memory_bytes();
    assert_eq!(end, acme_of(old) as u64, "setup: memory grew meanwhile");
    let q = must_malloc(&mut talc, layout, 2);
    assert!(memory_bytes() > end, "allocated after a failed init without growing memory");
    let new = talc.get_arena();
    assert!(!new.is_empty(), "no arena after growing, following a failed init");
    assert!(
        base_of(new) as u64 >= end,
        "the new arena {new:?} is not in the pages grown above {end:#x}"
    );
    assert!(new.contains(q.as_ptr()));
    assert_eq!(talc.get_last_heap_acme(), new.acme());
    // SAFETY: the forgotten arena is still memory of ours, readable.
    let now = unsafe { std::slice::from_raw_parts(old.base(), old.size()) };
    if let Some(at) = now.iter().zip(&copy).position(|(a, b)| a != b) {
        panic!("the forgotten arena {old:?} was written at offset {at}");
    }
    assert_filled(q, 1000, 2);
    // SAFETY: live, with its layout.
    unsafe { talc.free(q, layout) };
}

#[wasm_bindgen_test]
fn growth_after_truncating_the_last_heap_makes_a_separate_heap() {
    let small = Layout::from_size_align(100, 8).unwrap();
    let big = Layout::from_size_align(200_000, 8).unwrap();
    let later = Layout::from_size_align(150_000, 8).unwrap();
    // Reserved first: nothing else may grow memory while the arena is grown.
    let mut keep: Vec<NonNull<u8>> = Vec::with_capacity(3);
    let mut talc = local_talc();
    for i in 0..3 {
        keep.push(must_malloc(&mut talc, small, 10 + i));
    }
    let x = must_malloc(&mut talc, big, 20);
    let arena = talc.get_arena();
    assert!(arena.contains(x.as_ptr()));
    assert_eq!(
        talc.get_last_heap_acme(),
        arena.acme(),
        "setup: growing for the big block did not extend the arena"
    );
    assert_eq!(
        acme_of(arena) as u64,
        memory_bytes(),
        "setup: the arena does not end where memory does"
    );
    // SAFETY: live, with its layout; then the arena as it now is.
    let cut = unsafe {
        talc.free(x, big);
        talc.truncate(arena, Span::empty())
    };
    assert_eq!(base_of(cut), base_of(arena));
    assert!(acme_of(cut) + 200_000 < acme_of(arena), "the arena was not cut down: {cut:?}");
    assert_eq!(talc.get_arena(), cut);
    assert_eq!(
        talc.get_last_heap_acme(),
        cut.acme(),
        "the last heap did not follow the truncation"
    );

    // The released pages are ours again: marked, the allocator must leave them be.
    let released = acme_of(cut)..acme_of(arena);
    // SAFETY: released by the allocator; memory of ours.
    unsafe { fill(released.start as *mut u8, released.len(), 77) };
    let end = memory_bytes();
    let y = must_malloc(&mut talc, later, 30);
    assert!(memory_bytes() > end, "the allocation after truncate did not grow memory");
    let heap = wasm_tests::last_heap(&talc, end as usize);
    assert_ne!(heap.acme(), talc.get_arena().acme(), "growth after truncate extended the arena");
    assert_eq!(acme_of(heap) as u64, memory_bytes(), "the new heap does not end where memory does");
    assert!(
        base_of(heap) as u64 >= end,
        "the new heap {heap:?} is not in the pages grown above {end:#x}"
    );
    assert!(heap.contains(y.as_ptr()));
    assert_eq!(talc.get_arena(), cut, "the truncated arena changed");
    // SAFETY: the released pages are memory of ours, readable.
    if let Some(at) = unsafe { mismatch(released.start as *const u8, released.len(), 77) } {
        panic!("released pages {released:#x?} were written at offset {at:#x}");
    }
    for (i, &p) in keep.iter().enumerate() {
        assert_filled(p, 100, 10 + i);
    }
    assert_filled(y, later.size(), 30);
    // SAFETY: each block is live with its layout.
    unsafe {
        talc.free(y, later);
        for p in keep {
            talc.free(p, small);
        }
    }
    // Both heaps serve again without growth.
    let pages = memory_pages();
    let z = must_malloc(&mut talc, later, 31);
    assert_eq!(memory_pages(), pages, "the separate heap's freed memory was not reused");
    assert!(heap.contains(z.as_ptr()));
    // SAFETY: live, with its layout.
    unsafe { talc.free(z, later) };
}

/// `__heap_base..__heap_end`: the initial memory that the global allocator
/// (`TalckWasm`, made with the unsafe `with_initial_memory`) owns.
#[cfg(not(feature = "tiny"))]
fn initial_memory() -> std::ops::Range<usize> {
    extern "C" {
        static __heap_base: u8;
        static __heap_end: u8;
    }
    (&raw const __heap_base) as usize..(&raw const __heap_end) as usize
}

/// Safe code makes allocators with `WasmHandler::default()` and
/// `WasmHandler::with_memory(WasmMemory::default())`: their blocks never
/// overlap the global allocator's, nor the initial memory it owns.
#[cfg(not(feature = "tiny"))]
#[wasm_bindgen_test]
fn a_default_handler_leaves_the_initial_memory_to_the_global_allocator() {
    let initial = initial_memory();
    assert!(initial.start < initial.end, "no initial memory to test with");
    // The global allocator's blocks, in its first heap (the initial memory).
    let globals: Vec<Box<[u64; 8]>> = (0..64u64).map(|i| Box::new([i; 8])).collect();
    let mut ranges: Vec<std::ops::Range<usize>> = globals
        .iter()
        .map(|b| &**b as *const [u64; 8] as usize..(&**b as *const _ as usize) + 64)
        .collect();
    assert!(
        ranges.iter().any(|r| initial.contains(&r.start)),
        "the global allocator does not use the initial memory: the test would prove nothing"
    );
    let mut a = Talc::new(WasmHandler::default());
    let mut b = Talc::new(WasmHandler::with_memory(WasmMemory::default()));
    let layout = Layout::from_size_align(64, 8).unwrap();
    let mut locals = Vec::new();
    for i in 0..64 {
        for (talc, tag) in [(&mut a, 1000 + i), (&mut b, 2000 + i)] {
            let p = must_malloc(talc, layout, tag);
            let r = p.as_ptr() as usize..p.as_ptr() as usize + 64;
            assert!(
                r.start >= initial.end || r.end <= initial.start,
                "a safely made allocator handed out {:#x}, inside the initial memory {:#x}..{:#x}",
                r.start,
                initial.start,
                initial.end
            );
            ranges.push(r);
            locals.push((p, tag));
        }
    }
    wasm_tests::assert_disjoint(&mut ranges);
    for (i, g) in globals.iter().enumerate() {
        assert_eq!(**g, [i as u64; 8], "a global block was overwritten");
    }
    for &(p, tag) in &locals {
        assert_filled(p, 64, tag);
    }
}
