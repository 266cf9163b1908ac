//! The tiny allocator (`talcum::tiny::Tiny`, what `TalckWasm` is with
//! feature `tiny`) over a simulated linear memory: blocks keep their bytes
//! and never overlap; free neighbours merge, across growth steps too;
//! foreign pages are never touched; the 4 GiB end, refusals and impossible
//! requests get a null and leave the heap usable. With `checks`, every
//! operation is followed by a walk of every region and free list.

mod common;

use std::alloc::Layout;

use common::sim::SimMemory;
use common::{Rng, MIRI};
use talcum::tiny::Tiny;
use talcum::WASM_PAGE_SIZE as PAGE;

type SimTiny<'a> = Tiny<&'a SimMemory>;

const WORD: usize = core::mem::size_of::<usize>();

/// Walks the heap (with `checks`) and returns (free chunks, free bytes,
/// largest free chunk, regions), or `None` without `checks`.
fn walk(t: &SimTiny<'_>) -> Option<(usize, usize, usize, usize)> {
    #[cfg(feature = "checks")]
    {
        let c = t.check();
        Some((c.free, c.free_bytes, c.largest_free, c.regions))
    }
    #[cfg(not(feature = "checks"))]
    {
        let _ = t;
        None
    }
}

/// The byte indices of a block of `len` bytes that are written and
/// checked: all of them, or under Miri (where each byte costs) the first and
/// the last 64.
fn sampled(len: usize) -> impl Iterator<Item = usize> {
    let head = if MIRI { len.min(64) } else { len };
    (0..head).chain(len.saturating_sub(64).max(head)..len)
}

#[derive(Clone, Copy, Debug)]
struct Block {
    ptr: *mut u8,
    size: usize,
    align: usize,
    seed: u8,
}

fn byte(seed: u8, i: usize) -> u8 {
    seed ^ (i as u8).wrapping_mul(31)
}

impl Block {
    fn fill(&self) {
        for i in sampled(self.size) {
            // SAFETY: the block is live and `size` bytes long.
            unsafe { *self.ptr.add(i) = byte(self.seed, i) };
        }
    }
    /// Checks the bytes that a fill of a block of `written` bytes (this one,
    /// or the one it was moved or resized from) put where this one lies.
    fn verify(&self, written: usize) {
        assert_eq!(self.ptr.addr() % self.align, 0, "{self:?} misaligned");
        for i in sampled(written).filter(|&i| i < self.size) {
            // SAFETY: the block is live and `size` bytes long.
            let b = unsafe { *self.ptr.add(i) };
            assert_eq!(b, byte(self.seed, i), "{self:?}: byte {i} changed");
        }
    }
}

fn malloc(t: &mut SimTiny<'_>, size: usize, align: usize, seed: u8) -> Option<Block> {
    let p = t.malloc(Layout::from_size_align(size, align).unwrap());
    if p.is_null() {
        return None;
    }
    let b = Block { ptr: p, size, align, seed };
    b.fill();
    Some(b)
}

fn free(t: &mut SimTiny<'_>, b: Block) {
    b.verify(b.size);
    // SAFETY: `b` is live, from this allocator.
    unsafe { t.free(b.ptr) };
}

fn no_overlap(blocks: &[Block]) {
    let mut spans: Vec<(usize, usize)> =
        blocks.iter().map(|b| (b.ptr.addr(), b.ptr.addr() + b.size.max(1))).collect();
    spans.sort_unstable();
    for w in spans.windows(2) {
        assert!(w[0].1 <= w[1].0, "blocks overlap: {w:?}");
    }
}

/// Random malloc, free and realloc over a memory of `cap` pages: every byte
/// kept, nothing overlapping, no foreign page touched, every heap walk
/// consistent; a failure only when the memory is at its maximum.
fn random(sim: &SimMemory, seed: u64, ops: usize, max_size: usize) {
    let mut t = Tiny::new(sim);
    let mut rng = Rng::new(seed);
    let mut blocks: Vec<Block> = Vec::new();
    for op in 0..ops {
        let r = rng.range(0, 99);
        if r < 45 || blocks.is_empty() {
            let size = rng.size(max_size);
            let align = if rng.chance(10) { 1 << rng.range(0, 12) } else { 1 << rng.range(0, 3) };
            if rng.chance(3) {
                sim.foreign_next.set(1);
            }
            let grown = sim.pages();
            match malloc(&mut t, size, align, op as u8) {
                Some(b) => blocks.push(b),
                None => assert!(
                    sim.pages() + (size + align).div_ceil(PAGE) + 1 > sim.max.get(),
                    "malloc({size}, {align}) failed with {} of {} pages grown (from {grown})",
                    sim.pages(),
                    sim.max.get()
                ),
            }
        } else if r < 85 {
            let b = blocks.swap_remove(rng.range(0, blocks.len() - 1));
            free(&mut t, b);
        } else {
            let i = rng.range(0, blocks.len() - 1);
            let b = blocks[i];
            b.verify(b.size);
            let new_size = rng.size(max_size);
            // SAFETY: live, with its layout; the size is valid.
            let q = unsafe {
                t.realloc(b.ptr, Layout::from_size_align(b.size, b.align).unwrap(), new_size)
            };
            if q.is_null() {
                assert!(new_size > b.size, "shrinking failed");
                b.verify(b.size);
            } else {
                let moved = Block { ptr: q, size: new_size, ..b };
                moved.verify(b.size);
                moved.fill();
                blocks[i] = moved;
            }
        }
        if !MIRI || op % 16 == 0 {
            walk(&t);
        }
        if op % 64 == 0 {
            no_overlap(&blocks);
            sim.check_foreign();
        }
    }
    no_overlap(&blocks);
    for b in blocks.drain(..) {
        free(&mut t, b);
    }
    sim.check_foreign();
    if let Some((free, _, _, regions)) = walk(&t) {
        assert_eq!(free, regions, "everything merged: one free chunk per region");
    }
}

#[test]
fn random_operations_keep_every_byte() {
    let (seeds, ops) = if MIRI { (2, 120) } else { (12, 4000) };
    for seed in 0..seeds {
        let sim = SimMemory::new(if MIRI { 24 } else { 96 }, 1);
        random(
            &sim,
            seed,
            ops,
            if seed % 2 == 0 {
                300
            } else if MIRI {
                4000
            } else {
                40_000
            },
        );
    }
}

#[test]
fn random_operations_at_the_top_of_the_address_space() {
    let (seeds, ops) = if MIRI { (1, 120) } else { (6, 4000) };
    for seed in 0..seeds {
        let sim = SimMemory::at_top_of_address_space(if MIRI { 16 } else { 40 }, 1);
        random(&sim, 100 + seed, ops, if MIRI { 6000 } else { 60_000 });
    }
}

#[test]
fn freed_memory_merges_across_growth_steps() {
    let sim = SimMemory::new(64, 1);
    let mut t = Tiny::new(&sim);
    // Many growth steps, each extending the region before.
    let mut blocks: Vec<Block> =
        (0..40).map(|i| malloc(&mut t, 20_000, 8, i as u8).unwrap()).collect();
    let grows = sim.grows.get();
    assert!(grows >= 4, "{grows} growths");
    let grown = sim.pages() - 1;
    // Free in an order that leaves holes first, then fills them.
    let odd: Vec<Block> = blocks.iter().copied().skip(1).step_by(2).collect();
    blocks = blocks.into_iter().step_by(2).collect();
    for b in odd {
        free(&mut t, b);
    }
    for b in blocks {
        free(&mut t, b);
    }
    if let Some((free, bytes, largest, _)) = walk(&t) {
        assert_eq!(free, 1, "one free chunk after freeing everything");
        assert_eq!(largest, bytes);
        // Less a region's two ends, and a grain of rounding when memory is
        // only word aligned (as under Miri).
        assert!(bytes + 6 * WORD >= grown * PAGE, "{bytes} free of {grown} pages");
    }
    // A block of nearly everything fits without growth.
    let big = malloc(&mut t, grown * PAGE - 8 * WORD, 8, 7).expect("the merged memory");
    assert_eq!(sim.grows.get(), grows, "no growth for memory that is free");
    free(&mut t, big);
    sim.check_foreign();
}

#[test]
fn foreign_pages_make_a_separate_region_and_stay_untouched() {
    let sim = SimMemory::new(64, 2);
    let mut t = Tiny::new(&sim);
    let a = malloc(&mut t, 3 * PAGE, 8, 1).unwrap();
    // Someone else grows memory before our next growth.
    sim.foreign_next.set(2);
    let b = malloc(&mut t, 3 * PAGE, 8, 2).unwrap();
    sim.foreign_next.set(1);
    let c = malloc(&mut t, 5 * PAGE, 64, 3).unwrap();
    sim.check_foreign();
    for b in [a, b, c] {
        assert!(!sim.overlaps_foreign(b.ptr.addr(), b.size));
        free(&mut t, b);
    }
    if let Some((free, ..)) = walk(&t) {
        assert_eq!(free, 3, "three regions, each one free chunk");
    }
    sim.check_foreign();
}

#[test]
fn a_refused_growth_returns_null_and_the_next_request_succeeds() {
    let sim = SimMemory::new(16, 1);
    let mut t = Tiny::new(&sim);
    sim.refuse_next.set(true);
    assert!(malloc(&mut t, 100, 8, 1).is_none(), "a refused growth gives null");
    let a = malloc(&mut t, 100, 8, 1).expect("the next growth is granted");
    // The maximum: a request beyond it fails, without growing, and the
    // heap goes on.
    let grows = sim.grows.get();
    assert!(malloc(&mut t, 20 * PAGE, 8, 2).is_none());
    assert_eq!(sim.grows.get(), grows, "no growth for what cannot fit");
    let b = malloc(&mut t, 1000, 8, 3).expect("small requests still fit");
    walk(&t);
    free(&mut t, a);
    free(&mut t, b);
}

#[test]
fn impossible_requests_get_null() {
    let sim = SimMemory::new(8, 1);
    let mut t = Tiny::new(&sim);
    let max_align = 1usize << (usize::BITS - 2);
    for (size, align) in [
        (isize::MAX as usize - 64, 8),
        (isize::MAX as usize - (1 << 20), 1 << 20),
        (8, max_align),
        (isize::MAX as usize / 2, max_align / 2),
        (9 * PAGE, 8),
    ] {
        let l = Layout::from_size_align(size, align).unwrap();
        assert!(t.malloc(l).is_null(), "{l:?}");
    }
    assert_eq!(sim.grows.get(), 0, "nothing grown for impossible requests");
    let a = malloc(&mut t, 5000, 4096, 1).expect("a possible request");
    free(&mut t, a);
    walk(&t);
}

#[test]
fn the_initial_memory_is_left_alone_and_growth_starts_the_heap() {
    // The tiny allocator does not take `__heap_base..__heap_end` (it would
    // cost a hundred bytes): it grows memory from the first request.
    let sim = SimMemory::with_gap(16, 2, PAGE / 2);
    let mut t = Tiny::new(&sim);
    let a = malloc(&mut t, 200, 8, 1).unwrap();
    assert!(!sim.gap_taken.get(), "the initial memory is not taken");
    assert_eq!(sim.grows.get(), 1, "one growth serves the first request");
    assert!(a.ptr.addr() >= sim.page_addr(2), "the block lies in grown pages");
    // The next growth extends the first region: everything merges.
    let b = malloc(&mut t, 2 * PAGE, 8, 2).unwrap();
    assert_eq!(sim.grows.get(), 2);
    free(&mut t, a);
    free(&mut t, b);
    if let Some((free, ..)) = walk(&t) {
        assert_eq!(free, 1, "the two growths merged");
    }
    sim.check_foreign();
}

#[test]
fn realloc_keeps_the_bytes_and_stays_in_place_when_it_fits() {
    let sim = SimMemory::new(32, 1);
    let mut t = Tiny::new(&sim);
    let a = malloc(&mut t, 100, 16, 9).unwrap();
    let layout = Layout::from_size_align(100, 16).unwrap();
    // SAFETY: live, with its layout.
    let same = unsafe { t.realloc(a.ptr, layout, 60) };
    assert_eq!(same, a.ptr, "a shrink stays in place");
    let mut b = Block { ptr: same, size: 60, ..a };
    b.verify(60);
    let pin = malloc(&mut t, 8, 8, 3).unwrap();
    // SAFETY: live, with its layout (size 60).
    let grown = unsafe { t.realloc(b.ptr, Layout::from_size_align(60, 16).unwrap(), 5000) };
    assert!(!grown.is_null());
    b = Block { ptr: grown, size: 5000, ..b };
    b.verify(60);
    b.fill();
    free(&mut t, b);
    free(&mut t, pin);
    walk(&t);
}

#[test]
fn over_aligned_blocks_leave_usable_holes() {
    let sim = SimMemory::new(64, 1);
    let mut t = Tiny::new(&sim);
    let mut blocks = Vec::new();
    for (i, align) in [32, 64, 4096, 16, 1 << 16, 128, 8].into_iter().enumerate() {
        blocks.push(malloc(&mut t, 24 + i * 40, align, i as u8).unwrap());
        walk(&t);
    }
    no_overlap(&blocks);
    let grows = sim.grows.get();
    // The chunks cut below aligned blocks serve small requests: when the
    // free chunks (at most 8) hold 50 * 256 bytes, 50 blocks of 100 fit.
    let roomy = walk(&t).is_some_and(|(free, bytes, ..)| free <= 8 && bytes >= 50 * 256);
    let small: Vec<Block> = (0..50).map(|i| malloc(&mut t, 100, 8, i).unwrap()).collect();
    if roomy {
        assert_eq!(sim.grows.get(), grows, "the holes serve small blocks");
    }
    for b in blocks.into_iter().chain(small) {
        free(&mut t, b);
    }
    walk(&t);
}

/// A scratch buffer grown by `step` bytes at each of `steps` uses, with a
/// small block allocated after every `pin_every`-th step (never freed until
/// the end). Returns (moves, bytes grown).
fn creep(steps: usize, step: usize, pin_every: usize, pages: usize) -> (usize, usize) {
    let sim = SimMemory::new(pages, 1);
    let mut t = Tiny::new(&sim);
    let mut buf = malloc(&mut t, step, 8, 1).unwrap();
    let mut small = Vec::new();
    let mut moves = 0;
    for i in 2..=steps {
        let new_size = i * step;
        // SAFETY: live, with its layout.
        let q =
            unsafe { t.realloc(buf.ptr, Layout::from_size_align(buf.size, 8).unwrap(), new_size) };
        assert!(!q.is_null(), "step {i}: {} pages grown", sim.pages());
        if q != buf.ptr {
            moves += 1;
        }
        let moved = Block { ptr: q, size: new_size, ..buf };
        moved.verify(buf.size);
        moved.fill();
        buf = moved;
        if i % pin_every == 0 {
            small.push(malloc(&mut t, 24, 8, i as u8).unwrap());
        }
    }
    walk(&t);
    free(&mut t, buf);
    for b in small {
        free(&mut t, b);
    }
    walk(&t);
    sim.check_foreign();
    (moves, sim.grown_pages.get() * PAGE)
}

#[test]
fn a_buffer_that_creeps_up_at_the_top_grows_in_place() {
    // Alone at the top of the heap, it moves only into free memory that
    // holds it (a few times, early); else the pages it lacks are grown under
    // it, and memory grows by no more than the buffer.
    let steps = if MIRI { 25 } else { 2000 };
    let step = if MIRI { 4000 } else { 1000 };
    let (moves, grown) = creep(steps, step, usize::MAX, if MIRI { 8 } else { 64 });
    assert!(moves <= 8, "the buffer moved {moves} times");
    assert!(grown <= steps * step + 2 * PAGE, "grew {grown} bytes for {} B", steps * step);
}

#[test]
fn a_creeping_buffer_with_blocks_pinned_above_it() {
    // The adversary of a first fit: a small block cut from the free memory
    // just above the buffer would make it move every few steps (34 MB grown
    // for a 2 MB buffer, measured, before blocks came from the top of their
    // chunk and a block grown at the top kept what was grown under it).
    let steps = if MIRI { 25 } else { 2000 };
    let step = if MIRI { 4000 } else { 1000 };
    let (moves, grown) = creep(steps, step, 10, if MIRI { 8 } else { 64 });
    assert!(moves <= 8, "the buffer moved {moves} times");
    assert!(grown <= steps * step + 2 * PAGE, "grew {grown} bytes for {} B", steps * step);
}

#[test]
#[cfg_attr(miri, ignore = "seconds per block under Miri (filling memory byte by byte)")]
fn a_freed_aligned_block_is_taken_again_when_memory_is_full() {
    // An aligned request fits exactly the chunk an equal one freed: no
    // slack is asked of a free chunk (only of new pages).
    for align in [16, 64, 4096] {
        let sim = SimMemory::new(if MIRI { 3 } else { 8 }, 1);
        let mut t = Tiny::new(&sim);
        let mut blocks = Vec::new();
        while let Some(b) = malloc(&mut t, 3000, align, blocks.len() as u8) {
            blocks.push(b);
        }
        let big = blocks.len();
        // Then memory is filled up: what is left cannot hold the request.
        while let Some(b) = malloc(&mut t, 256, 8, 0) {
            blocks.push(b);
        }
        let grows = sim.grows.get();
        for i in [0, big / 2, big - 1] {
            let old = blocks[i];
            free(&mut t, old);
            let again = malloc(&mut t, 3000, align, 9).expect("the freed chunk fits");
            // In the freed chunk (merged with what was free beside it).
            assert!(
                again.ptr.addr().abs_diff(old.ptr.addr()) < 3000 + 2 * align,
                "align {align}: {:p} is not where {:p} was",
                again.ptr,
                old.ptr
            );
            blocks[i] = again;
        }
        assert_eq!(sim.grows.get(), grows);
        walk(&t);
        for b in blocks {
            free(&mut t, b);
        }
    }
}
