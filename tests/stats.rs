//! Feature `stats`: the block's figures against the counters and the heap
//! walk, its layout, the walk's bound, and the figures that only move
//! sometimes (peak, failures, growth, the change counter).

mod common;

use core::mem::offset_of;
use std::alloc::Layout;
use std::ptr::NonNull;

use common::sim::SimMemory;
use common::Arena;
use talcum::{Chunk, ChunkState, ErrOnOom, OomHandler, Stats, Talc, WasmHandler, STATS_VERSION};

fn layout(size: usize) -> Layout {
    Layout::from_size_align(size, 8).unwrap()
}

fn chunks<O: OomHandler>(talc: &Talc<O>) -> Vec<Chunk> {
    let mut v = Vec::new();
    talc.walk(usize::MAX, |c| v.push(c));
    v
}

/// Every figure of the block against the counters, and the free figures
/// against the walk, which must tile the heaps exactly.
fn assert_consistent<O: OomHandler>(talc: &Talc<O>) {
    let s = talc.get_stats();
    let c = talc.get_counters();
    assert_eq!(s.version, STATS_VERSION);
    assert_eq!(s.live_bytes as usize, c.allocated_bytes);
    assert_eq!(s.live_allocations as usize, c.allocation_count);
    assert_eq!(s.free_bytes as usize, c.available_bytes);
    assert_eq!(s.free_chunks as usize, c.fragment_count);
    assert_eq!(s.heaps as usize, c.heap_count);
    assert_eq!(s.claimed_bytes as usize, c.claimed_bytes);
    assert!(s.peak_live_bytes >= s.live_bytes);
    let all = chunks(talc);
    let free: Vec<&Chunk> = all.iter().filter(|c| c.state == ChunkState::Free).collect();
    assert_eq!(free.len(), c.fragment_count);
    assert_eq!(free.iter().map(|c| c.size).sum::<usize>(), c.available_bytes);
    assert_eq!(s.largest_free as usize, free.iter().map(|c| c.size).max().unwrap_or(0));
    assert_eq!(all.iter().map(|c| c.size).sum::<usize>(), c.claimed_bytes);
    let live = all.iter().filter(|c| c.state == ChunkState::Allocated).count();
    assert_eq!(live, c.allocation_count);
}

#[test]
fn layout_is_fixed() {
    assert_eq!(core::mem::size_of::<Stats>(), 56);
    let offsets = [
        offset_of!(Stats, version),
        offset_of!(Stats, size),
        offset_of!(Stats, changes),
        offset_of!(Stats, live_bytes),
        offset_of!(Stats, peak_live_bytes),
        offset_of!(Stats, free_bytes),
        offset_of!(Stats, free_chunks),
        offset_of!(Stats, largest_free),
        offset_of!(Stats, heaps),
        offset_of!(Stats, claimed_bytes),
        offset_of!(Stats, pages_grown),
        offset_of!(Stats, growth_steps),
        offset_of!(Stats, failed_allocations),
        offset_of!(Stats, live_allocations),
    ];
    assert_eq!(offsets, core::array::from_fn::<usize, 14, _>(|i| 4 * i));
    let talc = Talc::new(ErrOnOom);
    assert_eq!(talc.get_stats().version, 1);
    assert_eq!(talc.get_stats().size, 56);
}

#[test]
fn figures_match_counters_and_walk() {
    let mut arena = Arena::new(16 << 10);
    let mut talc = Talc::new(ErrOnOom);
    // SAFETY: the arena outlives the allocator and is used for nothing else.
    unsafe { talc.init(arena.span()).unwrap() };
    assert_consistent(&talc);
    let mut live: Vec<(NonNull<u8>, Layout)> = Vec::new();
    for i in 0..12 {
        let l = layout(24 + 40 * i);
        // SAFETY: the heap is valid; the block is freed once, below.
        live.push((unsafe { talc.malloc(l) }.unwrap(), l));
        assert_consistent(&talc);
    }
    // Holes of different sizes: several free chunks, not one.
    for i in [1, 4, 6, 9] {
        let (p, l) = live[i];
        // SAFETY: live, freed once.
        unsafe { talc.free(p, l) };
        assert_consistent(&talc);
    }
    assert!(talc.get_stats().free_chunks >= 4);
    // A resize in place and a move.
    let (p, l) = live[0];
    // SAFETY: live with `l`; the old pointer is not used again.
    let p = unsafe { talc.realloc(p, l, 1000) }.unwrap();
    live[0] = (p, layout(1000));
    assert_consistent(&talc);
    for (i, &(p, l)) in live.iter().enumerate() {
        if ![1, 4, 6, 9].contains(&i) {
            // SAFETY: live, freed once.
            unsafe { talc.free(p, l) };
        }
    }
    assert_consistent(&talc);
    assert_eq!(talc.get_stats().live_bytes, 0);
    // With feature `fast`, the blocks the front end holds are free chunks of
    // their own until it gives them back.
    // SAFETY: the heap is valid.
    #[cfg(feature = "fast")]
    unsafe {
        talc.release_held();
    }
    assert_consistent(&talc);
    assert_eq!(talc.get_stats().free_chunks, 1);
}

#[test]
fn peak_failures_and_changes_move_when_they_should() {
    let mut arena = Arena::new(8 << 10);
    let mut talc = Talc::new(ErrOnOom);
    // SAFETY: as above.
    unsafe { talc.init(arena.span()).unwrap() };
    let changes = talc.get_stats().changes;
    let big = layout(3000);
    // SAFETY: the heap is valid; freed once.
    let p = unsafe { talc.malloc(big) }.unwrap();
    assert_ne!(talc.get_stats().changes, changes);
    assert_eq!(talc.get_stats().peak_live_bytes, 3000);
    let changes = talc.get_stats().changes;
    // SAFETY: live, freed once.
    unsafe { talc.free(p, big) };
    assert_ne!(talc.get_stats().changes, changes);
    assert_eq!(talc.get_stats().live_bytes, 0);
    assert_eq!(talc.get_stats().peak_live_bytes, 3000, "the peak stays");
    let small = layout(100);
    // SAFETY: as above.
    let q = unsafe { talc.malloc(small) }.unwrap();
    assert_eq!(talc.get_stats().peak_live_bytes, 3000);
    assert_eq!(talc.get_stats().failed_allocations, 0);
    let changes = talc.get_stats().changes;
    // SAFETY: the heap is valid.
    assert!(unsafe { talc.malloc(layout(1 << 20)) }.is_err());
    assert_eq!(talc.get_stats().failed_allocations, 1);
    assert_ne!(talc.get_stats().changes, changes);
    // A failed reallocation counts too.
    // SAFETY: `q` is live with `small`; it stays live on failure.
    assert!(unsafe { talc.realloc(q, small, 1 << 20) }.is_err());
    assert_eq!(talc.get_stats().failed_allocations, 2);
    // So does one to an impossible size, refused before any search.
    // SAFETY: as above.
    assert!(unsafe { talc.realloc(q, small, usize::MAX - 8) }.is_err());
    assert_eq!(talc.get_stats().failed_allocations, 3);
    // SAFETY: live, freed once.
    unsafe { talc.free(q, small) };
    assert_consistent(&talc);
}

#[test]
fn walk_respects_its_bound() {
    let mut arena = Arena::new(8 << 10);
    let mut talc = Talc::new(ErrOnOom);
    // SAFETY: as above.
    unsafe { talc.init(arena.span()).unwrap() };
    let l = layout(64);
    // SAFETY: the heap is valid; the blocks are never freed (the arena goes).
    let blocks: Vec<_> = (0..5).map(|_| unsafe { talc.malloc(l) }.unwrap()).collect();
    // five blocks, the free top, the sentinel
    let all = chunks(&talc);
    assert_eq!(all.len(), 7);
    assert_eq!(all[6].state, ChunkState::Allocator);
    assert_eq!(all[5].state, ChunkState::Free);
    // Each block lies in its chunk, above the tag (and any padding, which
    // 8-byte alignment may need on 32-bit targets).
    for (c, b) in all[..5].iter().zip(&blocks) {
        let b = b.as_ptr().addr();
        assert!(c.state == ChunkState::Allocated && c.addr < b && b + 64 <= c.addr + c.size);
    }
    let mut seen = 0;
    assert_eq!(talc.walk(3, |_| seen += 1), 3);
    assert_eq!(seen, 3);
    assert_eq!(talc.walk(0, |_| panic!("bound 0")), 0);
    // The map: two words per chunk, as many as fit, nothing written past.
    let mut buf = [usize::MAX; 7];
    assert_eq!(talc.write_map(&mut buf), 3);
    assert_eq!(buf[6], usize::MAX);
    for (i, c) in all.iter().take(3).enumerate() {
        assert_eq!(buf[2 * i], c.addr | c.state as usize);
        assert_eq!(buf[2 * i + 1], c.size);
    }
}

#[test]
fn growth_is_counted_and_every_heap_walked() {
    let sim = SimMemory::new(8, 1);
    let mut talc = Talc::new(WasmHandler::with_memory(&sim));
    let l = layout(40_000);
    // SAFETY: the simulated memory outlives the allocator; never freed.
    unsafe { talc.malloc(l) }.unwrap();
    // Someone else grows memory: the next growth is a heap of its own.
    sim.foreign_next.set(1);
    // SAFETY: as above.
    unsafe { talc.malloc(layout(100_000)) }.unwrap();
    let s = *talc.get_stats();
    assert_eq!(s.growth_steps as usize, sim.grows.get());
    assert_eq!(s.pages_grown as usize, sim.grown_pages.get());
    assert!(s.heaps >= 2, "{s:?}");
    assert_consistent(&talc);
    // A refused growth is a failed allocation.
    sim.max.set(sim.pages());
    // SAFETY: as above.
    assert!(unsafe { talc.malloc(layout(1 << 20)) }.is_err());
    assert_eq!(talc.get_stats().failed_allocations, 1);
    assert_eq!(talc.get_stats().growth_steps, s.growth_steps);
}

#[test]
fn largest_free_is_bounded_when_a_bin_is_long() {
    let mut arena = Arena::new(16 << 10);
    let mut talc = Talc::new(ErrOnOom);
    // SAFETY: as above.
    unsafe { talc.init(arena.span()).unwrap() };
    // Twelve holes of 64 to 75 words (one bin: 64 to 79 words), kept apart
    // by live blocks; the largest freed first, so it lies deepest in the
    // bin's list, past the eight chunks looked at.
    let word = core::mem::size_of::<usize>();
    let mut holes = Vec::new();
    for i in 0..12 {
        let l = layout((75 - i) * word - word);
        // SAFETY: the heap is valid; freed below, or never (the arena goes).
        holes.push((unsafe { talc.malloc(l) }.unwrap(), l));
        // SAFETY: as above; a separator, never freed.
        unsafe { talc.malloc(layout(8)) }.unwrap();
    }
    for &(p, l) in &holes {
        // SAFETY: live, freed once.
        unsafe { talc.free(p, l) };
    }
    let free: Vec<usize> =
        chunks(&talc).iter().filter(|c| c.state == ChunkState::Free).map(|c| c.size).collect();
    // The free top is the largest free chunk here: exact.
    let s = *talc.get_stats();
    assert_eq!(s.largest_free as usize, *free.iter().max().unwrap());
    // Without the free top: fill it, and the holes' bins decide.
    let top = s.largest_free as usize - 2 * core::mem::size_of::<usize>();
    // SAFETY: as above; never freed.
    unsafe { talc.malloc(layout(top)) }.unwrap();
    let truth =
        chunks(&talc).iter().filter(|c| c.state == ChunkState::Free).map(|c| c.size).max().unwrap();
    let seen = talc.get_stats().largest_free as usize;
    assert!(seen <= truth && seen * 5 >= truth * 4, "largest free {seen}, truth {truth}");
    // This is the inexact case (the largest is the twelfth chunk, among
    // others within a fifth of it).
    assert!(seen < truth, "largest free {seen}, truth {truth}");
    assert!(!assert_largest_free_promise(&talc));
}

/// The largest free chunk, from the walk.
fn largest_free_chunk<O: OomHandler>(talc: &Talc<O>) -> usize {
    chunks(talc).iter().filter(|c| c.state == ChunkState::Free).map(|c| c.size).max().unwrap_or(0)
}

/// What the docs of `Stats` promise of `largest_free`: never more than the
/// largest free chunk, at least four fifths of it, and exact when every
/// other free chunk is at most four fifths of it, or when it is the free
/// top of the heap added last. Returns whether it was exact.
fn assert_largest_free_promise<O: OomHandler>(talc: &Talc<O>) -> bool {
    let free: Vec<Chunk> =
        chunks(talc).into_iter().filter(|c| c.state == ChunkState::Free).collect();
    let truth = free.iter().map(|c| c.size).max().unwrap_or(0);
    let seen = talc.get_stats().largest_free as usize;
    assert!(seen <= truth, "largest free {seen}, more than the truth {truth}");
    assert!(seen * 5 >= truth * 4, "largest free {seen}, under four fifths of the truth {truth}");
    let close = free.iter().filter(|c| c.size * 5 > truth * 4).count();
    let last_top = talc.get_last_heap_acme().addr();
    let is_last_top = free
        .iter()
        .any(|c| c.size == truth && c.addr + c.size + core::mem::size_of::<usize>() == last_top);
    if close <= 1 || is_last_top {
        assert_eq!(
            seen,
            truth,
            "largest free (alone: {}, the last top: {is_last_top})",
            close <= 1
        );
    }
    seen == truth
}

/// The smallest chunk size (bytes) of the last size bin: the bins split
/// every power of two of sizes, in words, in four; the last one starts at
/// `5 << 15` words (1.25 MiB on 64-bit targets, 640 KiB on 32-bit ones).
const LAST_BIN_LOWER: usize = (5 << 15) * core::mem::size_of::<usize>();

/// A free chunk of `big` bytes (payload) deep in the last size bin's list:
/// freed first, then eight chunks of `small` bytes, all kept apart by live
/// blocks, so the big one is the ninth in the list, past the eight chunks
/// that are looked at. The heap's free top stays smaller than `small`.
fn deep_in_the_last_bin(small: usize, big: usize) {
    assert!(small >= LAST_BIN_LOWER && big > small);
    let word = core::mem::size_of::<usize>();
    let mut arena = Arena::new(big + 8 * small + (64 << 10));
    let mut talc = Talc::new(ErrOnOom);
    // SAFETY: the arena outlives the allocator and is used for nothing else.
    unsafe { talc.init(arena.span()).unwrap() };
    let mut blocks = Vec::new();
    for size in core::iter::once(big).chain([small; 8]) {
        let l = layout(size);
        // SAFETY: the heap is valid; freed below.
        blocks.push((unsafe { talc.malloc(l) }.unwrap(), l));
        // SAFETY: as above; a separator, never freed (the arena goes).
        unsafe { talc.malloc(layout(8)) }.unwrap();
    }
    for &(p, l) in &blocks {
        // SAFETY: live, freed once.
        unsafe { talc.free(p, l) };
    }
    let free: Vec<Chunk> =
        chunks(&talc).into_iter().filter(|c| c.state == ChunkState::Free).collect();
    assert_eq!(free.len(), 10, "nine holes and the free top");
    assert!(free.last().unwrap().size < small, "the free top is not the largest");
    // The big block's chunk: its tag, and padding to 8 bytes on 32-bit targets.
    let truth = largest_free_chunk(&talc);
    assert!(truth > big && truth <= big + 2 * word, "{truth}");
    assert!(assert_largest_free_promise(&talc), "exact: the big chunk is alone in its class");
}

#[test]
fn largest_free_deep_in_the_last_bin() {
    deep_in_the_last_bin(LAST_BIN_LOWER, 2 * LAST_BIN_LOWER);
}

#[test]
#[cfg_attr(miri, ignore = "50 MiB of memory; the test above is the same, smaller")]
fn largest_free_deep_in_the_last_bin_32_mib() {
    deep_in_the_last_bin(2 << 20, 32 << 20);
}

/// A `Talc` with the first arena as its arena and the others claimed, in
/// order.
fn over_heaps(arenas: &mut [Arena]) -> Talc<ErrOnOom> {
    let mut talc = Talc::new(ErrOnOom);
    for (i, a) in arenas.iter_mut().enumerate() {
        // SAFETY: the arenas outlive the allocator (the callers keep them
        // until the end), are used for nothing else and do not overlap.
        unsafe {
            if i == 0 {
                talc.init(a.span()).unwrap();
            } else {
                talc.claim(a.span()).unwrap();
            }
        }
    }
    talc
}

/// Ten heaps claimed one after the other, the largest first after the
/// arena: its free top was the top bin's until the next heap came (the
/// top bin once kept every former last heap's free top, the largest ninth
/// there; now they go to their sizes' bins).
#[test]
fn largest_free_among_many_heap_tops() {
    let mut arenas: Vec<Arena> = Vec::new();
    arenas.push(Arena::new(4 << 10));
    arenas.push(Arena::new(256 << 10));
    for _ in 0..8 {
        arenas.push(Arena::new(4 << 10));
    }
    let talc = over_heaps(&mut arenas);
    assert_eq!(talc.get_stats().heaps, 10);
    assert!(largest_free_chunk(&talc) > 200 << 10);
    assert!(assert_largest_free_promise(&talc), "exact: the big chunk is alone in its class");
}

/// The promise of `largest_free` after every operation of `steps` of a
/// random mix over four heaps of `heap` bytes: blocks of `max` bytes or a
/// little less (so that free chunks of one size class gather), and small
/// blocks between them.
fn churn(steps: usize, max: usize, heap: usize) {
    let mut arenas: Vec<Arena> = (0..4).map(|_| Arena::new(heap)).collect();
    let mut talc = over_heaps(&mut arenas);
    let mut rng = common::Rng::new(22);
    let mut live: Vec<(NonNull<u8>, Layout)> = Vec::new();
    for _ in 0..steps {
        if live.is_empty() || rng.chance(55) {
            let size = if rng.chance(50) { rng.range(max * 7 / 8, max) } else { rng.range(8, 64) };
            let l = layout(size);
            // SAFETY: the heaps are valid; freed below, or never (the arenas go).
            if let Ok(p) = unsafe { talc.malloc(l) } {
                live.push((p, l));
            }
        } else {
            let (p, l) = live.swap_remove(rng.range(0, live.len() - 1));
            if rng.chance(20) {
                let size = rng.range(8, max);
                // SAFETY: live with `l`; on success the old pointer is not used again.
                match unsafe { talc.realloc(p, l, size) } {
                    Ok(q) => live.push((q, layout(size))),
                    Err(()) => live.push((p, l)),
                }
            } else {
                // SAFETY: live, freed once.
                unsafe { talc.free(p, l) };
            }
        }
        assert_largest_free_promise(&talc);
    }
}

#[test]
fn largest_free_keeps_its_promise_under_churn() {
    if cfg!(miri) {
        churn(300, 2 << 10, 64 << 10);
    } else {
        churn(20_000, 16 << 10, 2 << 20);
    }
}

/// As above, with chunks past the last size bin's bound.
#[test]
#[cfg_attr(miri, ignore = "40 MiB of memory")]
fn largest_free_keeps_its_promise_under_churn_past_the_last_bin() {
    churn(20_000, 2 * LAST_BIN_LOWER, 10 << 20);
}
