//! `malloc_zeroed`: every byte of every zeroed block reads zero, whether it
//! comes from reused memory, from a merge with dirty neighbours, from fresh
//! pages (which it does not clear again), from pages grown after someone
//! else's, or straddles old and fresh memory. With `checks`, every
//! operation also verifies that the memory the allocator believes fresh is
//! zero.

mod common;

use std::alloc::Layout;
use std::ptr::NonNull;

use common::sim::SimMemory;
use common::{Arena, Rng, MIRI};
use talcum::{ErrOnOom, Talc, WasmHandler, WASM_PAGE_SIZE as PAGE};

type SimTalc<'a> = Talc<WasmHandler<&'a SimMemory>>;

fn layout(size: usize, align: usize) -> Layout {
    Layout::from_size_align(size, align).unwrap()
}

/// Allocates zeroed, checks every byte (under Miri, the ends and a stride),
/// then dirties the block so that its memory is dirty when reused.
fn zeroed<O: talcum::OomHandler>(talc: &mut Talc<O>, l: Layout) -> Option<NonNull<u8>> {
    // SAFETY: the heaps are valid; the block is ours, `l.size()` bytes.
    unsafe {
        let p = talc.malloc_zeroed(l).ok()?;
        let step = if MIRI { 61 } else { 1 };
        let bytes = std::slice::from_raw_parts(p.as_ptr(), l.size());
        for i in (0..l.size()).step_by(step).chain(l.size().checked_sub(1)) {
            assert_eq!(bytes[i], 0, "byte {i} of a zeroed block of {} B is not zero", l.size());
        }
        p.as_ptr().write_bytes(0xC5, l.size());
        Some(p)
    }
}

/// Blocks alternate between plain (dirtied) and zeroed allocations of all
/// sizes, freed at random, over memory grown on demand with someone else's
/// pages in between: reuse, merges with dirty neighbours, fresh pages, and
/// blocks that straddle the boundary between used and fresh memory.
#[test]
fn zeroed_blocks_read_zero_however_their_memory_was_used() {
    let sim = SimMemory::new(if MIRI { 48 } else { 1024 }, 1);
    let mut talc: SimTalc<'_> = Talc::new(WasmHandler::with_memory(&sim));
    let mut rng = Rng::new(11);
    let mut live: Vec<(NonNull<u8>, Layout)> = Vec::new();
    let max = if MIRI { 6000 } else { 200_000 };
    for step in 0..if MIRI { 150 } else { 20_000 } {
        if step % 500 == 250 {
            sim.foreign_next.set(1);
        }
        if live.len() < 64 && rng.chance(60) {
            let size = if rng.chance(10) { rng.range(1, max) } else { rng.range(1, 600) };
            let l = layout(size, 1 << rng.range(0, 5));
            if rng.chance(50) {
                if let Some(p) = zeroed(&mut talc, l) {
                    live.push((p, l));
                }
            } else if let Ok(p) = unsafe { talc.malloc(l) } {
                // SAFETY: the block is ours.
                unsafe { p.as_ptr().write_bytes(0xA7, size) };
                live.push((p, l));
            }
        } else if !live.is_empty() {
            let (p, l) = live.swap_remove(rng.range(0, live.len() - 1));
            // SAFETY: live, with its layout.
            unsafe { talc.free(p, l) };
        }
    }
    for (p, l) in live {
        // SAFETY: live, with its layout.
        unsafe { talc.free(p, l) };
    }
    sim.check_foreign();
}

/// A block cut from the free top right where used memory ends: its first
/// bytes were used (a freed block merged into the top), the rest is fresh.
#[test]
fn a_zeroed_block_straddling_used_and_fresh_memory() {
    let sim = SimMemory::new(64, 1);
    let mut talc: SimTalc<'_> = Talc::new(WasmHandler::with_memory(&sim));
    let first = layout(40_000, 8);
    // SAFETY: the heap is valid; the block is ours and freed once.
    unsafe {
        let p = talc.malloc(first).unwrap();
        p.as_ptr().write_bytes(0xEE, first.size());
        talc.free(p, first);
    }
    // The freed bytes merged into the free top; a larger zeroed block now
    // covers them and the fresh memory above, and the growth it needs.
    for size in [20_000, 100_000, 3 * PAGE] {
        let l = layout(size, 8);
        let p = zeroed(&mut talc, l).unwrap();
        // SAFETY: live, with its layout.
        unsafe { talc.free(p, l) };
    }
}

/// Memory handed over by `init` or `claim` is not known to be zero: all of
/// a zeroed block is cleared.
#[test]
fn zeroed_blocks_from_memory_that_was_not_zero() {
    let mut arena = Arena::new(64 << 10);
    let span = arena.span();
    // SAFETY: the arena is ours.
    unsafe { span.base().write_bytes(0xFF, span.size()) };
    let mut talc = Talc::new(ErrOnOom);
    // SAFETY: the arena outlives `talc`.
    unsafe { talc.init(span).unwrap() };
    let mut blocks = Vec::new();
    for size in [1, 24, 1000, 9000, 30_000] {
        let l = layout(size, 8);
        blocks.push((zeroed(&mut talc, l).unwrap(), l));
    }
    for (p, l) in blocks {
        // SAFETY: live, with its layout.
        unsafe { talc.free(p, l) };
    }
}

/// A zeroed block that takes the whole free top, up to the sentinel: its
/// last word held the free top's size, and must read zero.
#[test]
fn a_zeroed_block_that_takes_the_whole_free_top() {
    const WORD: usize = core::mem::size_of::<usize>();
    let sim = SimMemory::new(16, 1);
    let mut talc: SimTalc<'_> = Talc::new(WasmHandler::with_memory(&sim));
    let small = layout(64, 8);
    let a = zeroed(&mut talc, small).unwrap();
    let heap = talc.get_arena();
    // SAFETY: the arena is the only heap, as last returned.
    let top_base = unsafe { talc.get_allocated_span(heap) }.acme().addr();
    // The chunk runs from the top's base to the sentinel (at the last chunk
    // boundary a word or two below the acme); its payload starts one word
    // (the header) in.
    let sentinel = (heap.acme().addr() & !(2 * WORD - 1)) - WORD;
    let size = sentinel - (top_base + WORD);
    let grows = sim.grows.get();
    let whole = layout(size, WORD);
    let p = zeroed(&mut talc, whole).unwrap();
    assert_eq!(sim.grows.get(), grows, "the block fits the free top");
    assert_eq!(p.as_ptr().addr() + size, sentinel, "it ends at the sentinel");
    // SAFETY: live, with their layouts.
    unsafe {
        talc.free(p, whole);
        talc.free(a, small);
    }
}
