//! The real `WasmHandler`, driven natively over a simulated linear memory
//! (`common::sim`): growth, extension across steps, the free top counted
//! toward growth, foreign growth between `memory.size` and `memory.grow`,
//! refusals, the top of the address space, and its interplay with `init`,
//! `claim` and `truncate`.

mod common;

use std::alloc::Layout;
use std::ptr::NonNull;

use common::sim::SimMemory;
use common::{Model, Rng, MIRI};
use talcum::{Span, Talc, WasmHandler, WASM_PAGE_SIZE as PAGE};

const WORD: usize = core::mem::size_of::<usize>();

type SimTalc<'a> = Talc<WasmHandler<&'a SimMemory>>;

fn talc(sim: &SimMemory) -> SimTalc<'_> {
    Talc::new(WasmHandler::with_memory(sim))
}

fn layout(size: usize, align: usize) -> Layout {
    Layout::from_size_align(size, align).unwrap()
}

/// Allocates, writes the block, and checks it lies in our pages.
fn alloc(talc: &mut SimTalc<'_>, sim: &SimMemory, l: Layout) -> NonNull<u8> {
    // SAFETY: the heaps are the simulated memory's, alive as long as `sim`.
    let p = unsafe { talc.malloc(l) }.expect("allocation");
    assert_eq!(p.as_ptr().addr() % l.align(), 0);
    assert!(sim.span().contains(p.as_ptr()));
    assert!(!sim.overlaps_foreign(p.as_ptr().addr(), l.size()), "block on a foreign page");
    // Under Miri, its ends only: every byte written there costs.
    let (head, tail) =
        if MIRI { (l.size().min(64), l.size().saturating_sub(64)) } else { (l.size(), l.size()) };
    // SAFETY: the block is ours, `l.size()` bytes.
    unsafe {
        p.as_ptr().write_bytes(0xC3, head);
        p.as_ptr().add(tail).write_bytes(0xC3, l.size() - tail);
    }
    p
}

/// Where a heap's first chunk starts in memory from `addr`: a word past
/// two words.
fn first_chunk(addr: usize) -> usize {
    addr | WORD
}

#[test]
fn first_growth_makes_the_arena_then_growth_extends_it() {
    let sim = SimMemory::new(64, 1);
    let mut talc = talc(&sim);
    let small = layout(1, 1);
    let p = alloc(&mut talc, &sim, small);
    // One page: a byte fits in it.
    assert_eq!((sim.grows.get(), sim.grown_pages.get()), (1, 1));
    let arena = talc.get_arena();
    // A heap's chunks start a word past two words.
    assert_eq!(arena.base().addr(), first_chunk(sim.page_addr(1)));
    assert_eq!(arena.acme().addr(), sim.page_addr(1) + PAGE);
    assert_eq!(talc.get_last_heap_acme(), arena.acme());

    let big = layout(5 * PAGE, 8);
    let blocks: Vec<_> = (0..6).map(|_| alloc(&mut talc, &sim, big)).collect();
    // Every step extended the one heap.
    assert_eq!(talc.get_last_heap_acme(), talc.get_arena().acme());
    assert_eq!(talc.get_arena().acme().addr(), sim.end_addr());
    let grows = sim.grows.get();
    // SAFETY: each block is live with its layout.
    unsafe {
        for b in blocks {
            talc.free(b, big);
        }
        talc.free(p, small);
    }
    // Freed memory merged across the growth steps: all of it fits again.
    let whole = layout(talc.get_allocatable_span().size() - WORD, WORD);
    let q = alloc(&mut talc, &sim, whole);
    assert_eq!(sim.grows.get(), grows, "no growth for memory that is already free");
    // SAFETY: live, with its layout.
    unsafe { talc.free(q, whole) };
    sim.check_foreign();
}

#[test]
fn the_free_top_counts_toward_growth() {
    let sim = SimMemory::new(64, 1);
    let mut talc = talc(&sim);
    let eight = layout(8 * PAGE, 8);
    let p = alloc(&mut talc, &sim, eight);
    // SAFETY: live, with its layout.
    unsafe { talc.free(p, eight) };
    let before = sim.grown_pages.get();
    let twelve = layout(12 * PAGE, 8);
    let q = alloc(&mut talc, &sim, twelve);
    let grown = sim.grown_pages.get() - before;
    // The top counts for up to half the request: 6 pages (7 with the
    // overhead's rounding), where counting none would grow 12 or 13.
    assert!((6..=7).contains(&grown), "grew {grown} pages for 12 over a free top of 8");
    // SAFETY: live, with its layout.
    unsafe { talc.free(q, twelve) };
    sim.check_foreign();
}

#[test]
fn a_creeping_scratch_buffer_does_not_grow_memory_at_every_use() {
    let sim = SimMemory::new(if MIRI { 160 } else { 1024 }, 1);
    let mut talc = talc(&sim);
    // A scratch buffer, freed after each use, one page bigger every time:
    // growing only the shortfall would call `memory.grow` at every use.
    let uses = if MIRI { 24 } else { 100 };
    for i in 1..=uses {
        let l = layout(i * PAGE, 8);
        let p = alloc(&mut talc, &sim, l);
        // SAFETY: live, with its layout.
        unsafe { talc.free(p, l) };
    }
    let grows = sim.grows.get();
    assert!(grows * 4 <= uses, "{grows} growths for {uses} uses");
    // And no more memory than twice the biggest use.
    assert!(sim.grown_pages.get() <= 2 * uses + 2, "grew {} pages", sim.grown_pages.get());
    sim.check_foreign();
}

#[test]
fn the_initial_memory_serves_before_anything_grows() {
    // Two initial pages (data and stack, say), of which the last 40 KiB are free.
    let gap = 40 * 1024;
    let sim = SimMemory::with_gap(64, 2, gap);
    let mut talc = talc(&sim);
    let small = layout(100, 8);
    let mut blocks = Vec::new();
    // ~36 KiB of blocks fit in the gap.
    for _ in 0..300 {
        blocks.push(alloc(&mut talc, &sim, small));
    }
    assert_eq!(sim.grows.get(), 0, "grew memory while the initial memory had room");
    assert!(sim.gap_taken.get());
    let arena = talc.get_arena();
    assert_eq!(arena.acme().addr(), sim.page_addr(2));
    assert!(arena.base().addr() >= sim.page_addr(2) - gap);
    for b in &blocks {
        assert!(arena.contains(b.as_ptr()));
    }
    // Past it, growth extends the same heap: the gap and the new pages join.
    let big = layout(3 * PAGE, 8);
    let p = alloc(&mut talc, &sim, big);
    assert_eq!(sim.grows.get(), 1);
    assert_eq!(talc.get_arena().acme().addr(), sim.end_addr());
    // SAFETY: each block is live with its layout.
    unsafe {
        talc.free(p, big);
        for b in blocks {
            talc.free(b, small);
        }
    }
    let whole = layout(talc.get_allocatable_span().size() - WORD, WORD);
    let q = alloc(&mut talc, &sim, whole);
    assert_eq!(sim.grows.get(), 1, "the gap and the grown pages are one free chunk");
    // SAFETY: live, with its layout.
    unsafe { talc.free(q, whole) };
    sim.check_foreign();
}

#[test]
fn initial_memory_too_small_or_not_at_the_end() {
    // Too small for a chunk and the sentinel: left alone; the first growth
    // makes the arena.
    let sim = SimMemory::with_gap(16, 1, 4 * WORD);
    let mut talc = talc(&sim);
    let l = layout(64, 8);
    let p = alloc(&mut talc, &sim, l);
    assert!(sim.gap_taken.get());
    assert_eq!(sim.grows.get(), 1);
    assert_eq!(talc.get_arena().base().addr(), first_chunk(sim.page_addr(1)));
    // SAFETY: live, with its layout.
    unsafe { talc.free(p, l) };
    sim.check_foreign();

    // Memory grown by someone else before the first allocation: the gap is a
    // heap below the end of memory, so growth makes a separate heap.
    let sim = SimMemory::with_gap(16, 1, 8 * 1024);
    sim.grow_foreign(1);
    let mut talc = self::talc(&sim);
    let small = layout(64, 8);
    let p = alloc(&mut talc, &sim, small);
    assert_eq!(sim.grows.get(), 0);
    let arena = talc.get_arena();
    assert_eq!(arena.acme().addr(), sim.page_addr(1));
    let big = layout(PAGE, 8);
    let q = alloc(&mut talc, &sim, big);
    assert_eq!(sim.grows.get(), 1);
    assert_eq!(talc.get_arena(), arena, "the foreign page lies between: no extension");
    assert!(q.as_ptr().addr() >= sim.page_addr(2));
    // SAFETY: live, with their layouts.
    unsafe {
        talc.free(q, big);
        talc.free(p, small);
    }
    sim.check_foreign();
}

#[test]
fn foreign_growth_between_size_and_grow_makes_a_separate_heap() {
    let sim = SimMemory::new(64, 1);
    let mut talc = talc(&sim);
    let a = alloc(&mut talc, &sim, layout(100, 8));
    let arena = talc.get_arena();
    // Someone grows two pages between our `memory.size` and `memory.grow`:
    // the free top was counted, but the pages do not follow our heap.
    sim.foreign_next.set(2);
    let big = layout(3 * PAGE, 8);
    let b = alloc(&mut talc, &sim, big);
    assert_eq!(talc.get_arena(), arena, "the arena was not extended over foreign pages");
    let top = talc.get_last_heap_acme();
    assert_ne!(top, arena.acme());
    assert!(b.as_ptr().addr() >= sim.page_addr(4), "the new heap lies above the foreign pages");
    assert_eq!(top.addr(), sim.end_addr());
    // Growth goes on from the new heap.
    let c = alloc(&mut talc, &sim, big);
    assert_eq!(talc.get_last_heap_acme().addr(), sim.end_addr());
    // The free top of the new heap and the new pages made one chunk.
    let next = b.as_ptr().addr() + (3 * PAGE + WORD).next_multiple_of(2 * WORD);
    assert_eq!(c.as_ptr().addr(), next, "growth extends the new heap");
    sim.check_foreign();
    // SAFETY: live blocks with their layouts.
    unsafe {
        talc.free(a, layout(100, 8));
        talc.free(b, big);
        talc.free(c, big);
    }
    sim.check_foreign();
}

#[test]
fn refused_growth_fails_cleanly_and_allocation_recovers() {
    let sim = SimMemory::new(16, 1);
    sim.max.set(6);
    let mut talc = talc(&sim);
    let l = layout(PAGE / 2, 16);
    let mut model = if MIRI { Model::probing(64) } else { Model::default() };
    let mut id = 0;
    // SAFETY: the heaps are the simulated memory's.
    while let Ok(p) = unsafe { talc.malloc(l) } {
        model.insert_with_id(p, l, id, 0);
        id += 1;
        assert!(id < 100, "growth beyond the maximum");
    }
    assert_eq!(sim.pages(), 6);
    // A refusal once, then growth works again.
    for addr in model.addrs().into_iter().step_by(2) {
        let b = model.remove(addr);
        // SAFETY: live, with its layout.
        unsafe { talc.free(b.ptr, b.layout) };
    }
    let p = alloc(&mut talc, &sim, l);
    sim.max.set(16);
    sim.refuse_next.set(true);
    // SAFETY: the heaps are the simulated memory's.
    assert!(unsafe { talc.malloc(layout(4 * PAGE, 8)) }.is_err());
    let q = alloc(&mut talc, &sim, layout(4 * PAGE, 8));
    for addr in model.addrs() {
        let b = model.remove(addr);
        // SAFETY: live, with its layout.
        unsafe { talc.free(b.ptr, b.layout) };
    }
    // SAFETY: live blocks with their layouts.
    unsafe {
        talc.free(p, l);
        talc.free(q, layout(4 * PAGE, 8));
    }
    sim.check_foreign();
}

#[test]
fn memory_reaching_the_top_of_the_address_space() {
    let sim = SimMemory::at_top_of_address_space(8, 1);
    let mut talc = talc(&sim);
    let l = layout(PAGE - 64, 8);
    let mut blocks = Vec::new();
    // SAFETY: the heaps are the simulated memory's.
    while let Ok(p) = unsafe { talc.malloc(l) } {
        blocks.push(p);
        assert!(blocks.len() < 20);
    }
    assert_eq!(sim.pages(), 8);
    let arena = talc.get_arena();
    assert_eq!(arena.acme().addr(), sim.span().acme().addr() - WORD, "the heap stops a word short");
    for &p in &blocks {
        assert!(p.as_ptr().addr() + l.size() <= arena.acme().addr());
    }
    // SAFETY: live blocks with their layout.
    unsafe {
        for p in blocks {
            talc.free(p, l);
        }
    }
    let whole = layout(talc.get_allocatable_span().size() - WORD, WORD);
    let p = alloc(&mut talc, &sim, whole);
    // SAFETY: live, with its layout.
    unsafe { talc.free(p, whole) };
}

/// Defect: the handler kept the top of a heap that `init` had forgotten,
/// and "extended" it, pushing through null bins.
#[test]
fn init_that_fails_after_growth_starts_afresh() {
    let sim = SimMemory::new(16, 1);
    let mut talc = talc(&sim);
    let a = alloc(&mut talc, &sim, layout(3000, 8));
    let _ = a;
    let mut tiny = [0usize; 4];
    // SAFETY: `tiny` outlives its use: `init` refuses it (too small for
    // a chunk), and the old heap's blocks are abandoned, never used again.
    assert!(unsafe { talc.init(Span::from(&mut tiny)) }.is_err());
    assert!(talc.get_arena().is_empty() && talc.get_last_heap_acme().is_null());
    let b = alloc(&mut talc, &sim, layout(100, 8));
    let arena = talc.get_arena();
    assert!(arena.contains(b.as_ptr()));
    assert!(arena.base().addr() >= sim.page_addr(2), "a new arena in new pages");
    let c = alloc(&mut talc, &sim, layout(2 * PAGE, 8));
    // SAFETY: live blocks with their layouts.
    unsafe {
        talc.free(b, layout(100, 8));
        talc.free(c, layout(2 * PAGE, 8));
    }
}

/// Defect: after `truncate` of the grown heap, the next growth took a
/// released word for its old sentinel.
#[test]
fn growth_after_truncating_the_grown_heap() {
    let sim = SimMemory::new(16, 1);
    let mut talc = talc(&sim);
    let a = alloc(&mut talc, &sim, layout(100, 8));
    let big = layout(2 * PAGE, 8);
    let b = alloc(&mut talc, &sim, big);
    // SAFETY: live, with its layout.
    unsafe { talc.free(b, big) };
    let arena = talc.get_arena();
    // SAFETY: the arena is this `Talc`'s heap, as last returned.
    let cut = unsafe { talc.truncate(arena, Span::empty()) };
    assert!(cut.acme().addr() < arena.acme().addr());
    assert_eq!(talc.get_last_heap_acme(), cut.acme());
    // The released pages are not ours any more: growth makes a new heap.
    let c = alloc(&mut talc, &sim, big);
    assert_ne!(talc.get_last_heap_acme(), talc.get_arena().acme());
    let d = alloc(&mut talc, &sim, layout(PAGE, 8));
    // SAFETY: live blocks with their layouts.
    unsafe {
        talc.free(a, layout(100, 8));
        talc.free(c, big);
        talc.free(d, layout(PAGE, 8));
    }
}

/// A claimed heap that ends where memory does is extended by growth; one
/// elsewhere is not.
#[test]
fn claim_and_growth() {
    let sim = SimMemory::new(16, 1);
    let mut talc = talc(&sim);
    let mut elsewhere = common::Arena::new(8192);
    let a = alloc(&mut talc, &sim, layout(100, 8));
    // SAFETY: `elsewhere` outlives `talc` and serves nothing else.
    let heap = unsafe { talc.claim(elsewhere.span()) }.unwrap();
    assert_eq!(talc.get_last_heap_acme(), heap.acme());
    let big = layout(2 * PAGE, 8);
    let b = alloc(&mut talc, &sim, big);
    let grown = talc.get_last_heap_acme();
    assert!(grown != heap.acme() && grown != talc.get_arena().acme());
    assert_eq!(grown.addr(), sim.end_addr());
    // SAFETY: live blocks with their layouts.
    unsafe {
        talc.free(a, layout(100, 8));
        talc.free(b, big);
    }
    // The claimed buffer outlives the allocator.
    let _ = talc;
    drop(elsewhere);
}

/// Random requests with foreign growth, refusals and truncation in between;
/// with `checks` every request that a free chunk surely fits must succeed
/// without growth, and every failure must be a refusal or the maximum.
#[test]
fn random_growth_with_interference() {
    let seeds = if MIRI { 1 } else { 12 };
    for seed in 0..seeds {
        let sim = SimMemory::new(if MIRI { 24 } else { 256 }, 1);
        let mut talc = talc(&sim);
        let mut rng = Rng::new(seed + 1);
        let mut model = if MIRI { Model::probing(64) } else { Model::default() };
        let ops = if MIRI { 150 } else { 3000 };
        for i in 0..ops {
            match rng.range(0, 99) {
                0..=2 => sim.foreign_next.set(rng.range(1, 2)),
                3 => sim.refuse_next.set(true),
                4 if model.len() == 0 => {
                    let arena = talc.get_arena();
                    // SAFETY: the arena is this `Talc`'s heap, as it now is.
                    unsafe { talc.truncate(arena, Span::empty()) };
                }
                5..=54 => {
                    let max = if MIRI { PAGE / 4 } else { 5 * PAGE };
                    let align =
                        if rng.chance(80) { 1 << rng.range(0, 4) } else { 1 << rng.range(4, 17) };
                    let l = layout(rng.size(max), align);
                    #[cfg(feature = "checks")]
                    let fits = common::surely_fits(&talc, l);
                    let grows = sim.grows.get();
                    let refused = sim.refuse_next.get();
                    // SAFETY: the heaps are the simulated memory's.
                    match unsafe { talc.malloc(l) } {
                        Ok(p) => {
                            #[cfg(feature = "checks")]
                            if fits {
                                assert_eq!(
                                    sim.grows.get(),
                                    grows,
                                    "op {i}: grew for {l:?}, which surely fit"
                                );
                            }
                            assert!(!sim.overlaps_foreign(p.as_ptr().addr(), l.size()));
                            model.insert_with_id(p, l, i as u64, 0);
                        }
                        Err(()) => {
                            #[cfg(feature = "checks")]
                            assert!(!fits, "op {i}: {l:?} failed where a free chunk surely fits");
                            let room = (sim.max.get() - sim.pages()) * PAGE;
                            assert!(
                                refused || room < l.size() + l.align() + 2 * PAGE,
                                "op {i}: {l:?} failed with {room} bytes of memory left to grow"
                            );
                            let _ = grows;
                        }
                    }
                }
                _ => {
                    if let Some(addr) = model.pick(&mut rng) {
                        let b = model.remove(addr);
                        // SAFETY: live, with its layout.
                        unsafe { talc.free(b.ptr, b.layout) };
                    }
                }
            }
        }
        for addr in model.addrs() {
            let b = model.remove(addr);
            // SAFETY: live, with its layout.
            unsafe { talc.free(b.ptr, b.layout) };
        }
        sim.check_foreign();
    }
}

#[test]
fn a_block_at_the_top_of_the_heap_grows_in_place_as_memory_grows() {
    let sim = SimMemory::new(if MIRI { 64 } else { 256 }, 1);
    let mut talc = talc(&sim);
    // A small block lower down, freed: a hole the buffer does not fit later.
    let hole = alloc(&mut talc, &sim, layout(256, 8));
    let mut size = 64;
    let mut l = layout(size, 8);
    let mut p = alloc(&mut talc, &sim, l);
    // SAFETY: live, with its layout.
    unsafe { talc.free(hole, layout(256, 8)) };
    let first = p;
    let last = if MIRI { 1 << 20 } else { 8 << 20 };
    while size < last {
        size *= 2;
        // SAFETY: `p` is live with `l`; the new size is valid.
        p = unsafe { talc.realloc(p, l, size) }.expect("memory to grow");
        l = layout(size, 8);
        // Its first and last bytes, as a `Vec`'s would be.
        // SAFETY: `size` bytes are the block's.
        unsafe {
            assert_eq!(*p.as_ptr(), 0xC3, "the data moved wrongly");
            p.as_ptr().add(size - 1).write(0xC3);
        }
    }
    assert_eq!(p, first, "a block at the top of the heap was copied instead of grown");
    // Memory grown: the block, and at most half its size of headroom.
    let grown = sim.grown_pages.get() * PAGE;
    assert!(grown <= last + last / 2 + 2 * PAGE, "grew {grown} bytes for a block of {last}");
    // SAFETY: live, with its layout.
    unsafe { talc.free(p, l) };
    sim.check_foreign();
}
