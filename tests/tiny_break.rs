//! Attacks on the tiny allocator (`src/tiny.rs`) as rewritten for issue 23
//! (heads in the struct, blocks cut from the bottom, one chunk per bin).
//!
//! Findings fail against the code they were written for, with the numbers
//! measured in their docs; a documented trade-off is `#[ignore]`d with its
//! numbers. The tests under "Attacked, holds" pass, and pin what was tried
//! without finding anything.
//!
//! Run: `cargo test -p talcum --features checks --release --test tiny_break`.

#![cfg(feature = "checks")]

mod common;

use std::alloc::Layout;

use common::sim::SimMemory;
use talcum::tiny::Tiny;
use talcum::{LinearMemory, Span, WASM_PAGE_SIZE as PAGE};

const WORD: usize = core::mem::size_of::<usize>();

fn l(size: usize, align: usize) -> Layout {
    Layout::from_size_align(size, align).unwrap()
}

fn malloc<M: LinearMemory>(t: &mut Tiny<M>, size: usize, align: usize) -> *mut u8 {
    let p = t.malloc(l(size, align));
    assert!(!p.is_null(), "malloc({size}, {align}) failed");
    assert_eq!(p.addr() % align, 0);
    p
}

/// A memory where someone else grows a page just before each of our
/// growths: between the allocator's `end()` and its `memory.grow`, as
/// `SimMemory::foreign_next` does once (`LinearMemory::end` only promises
/// where the next growth starts "if nobody else grew the memory first").
struct Crowded<'a>(&'a SimMemory, std::cell::Cell<bool>);

impl<'a> Crowded<'a> {
    fn new(sim: &'a SimMemory) -> Self {
        Self(sim, std::cell::Cell::new(true))
    }
}

// SAFETY: every call is `&SimMemory`'s, which keeps the contract; the
// foreign page is grown by the `SimMemory` itself, outside any region it
// handed out.
unsafe impl LinearMemory for Crowded<'_> {
    fn end(&self) -> usize {
        self.0.end_addr()
    }
    fn grow(&mut self, pages: usize) -> Option<Span> {
        if self.1.get() {
            self.0.foreign_next.set(1);
        }
        let mut m = self.0;
        m.grow(pages)
    }
}

// ---------------------------------------------------------------------------
// Findings

/// A free top stranded by foreign pages. When a growth lands after pages
/// someone else grew, the new pages make a region of their own and its
/// chunk becomes the free top, first in the last bin; the old region's
/// free top stays in the last bin, behind it, and a search looks at that
/// bin's first chunk only. So the old free top serves nothing (until its
/// lower neighbour is freed, or the newer free top is used up whole), of
/// any size. Ten rounds of "someone grows a page; a buffer of 1 MiB + i *
/// 128 KiB is allocated, then shrunk to 16 bytes (`shrink_to_fit`)" leave
/// 10 regions with 17 628 704 free bytes, in free tops of 1.1 to 2.2 MiB
/// each; twenty requests of 512 KiB (10 MiB: every one of those tops holds
/// two) then grow 125 pages (8 MiB) more. `surely_fits` is false for them,
/// so the promise holds: the chunk is in no place a search looks.
///
/// Fixed: when a growth starts a new region, the old free top (the free
/// chunk under the old sentinel, if any) moves to its size's bin. (The old tops
/// then serve the later rounds too: 6 094 480 bytes are left free in 3
/// chunks, and the twenty requests grow 81 pages, what the free chunks do
/// not hold. With `checks`, `Tiny::check` asserts that the last bin holds
/// the free top alone.)
#[test]
#[cfg_attr(
    miri,
    ignore = "natively only: too long under Miri (Miri runs short_sequences_for_miri)"
)]
fn a_free_top_left_behind_by_foreign_pages_serves_again() {
    let sim = SimMemory::new(4096, 1);
    let mut t = Tiny::new(&sim);
    for i in 0..10 {
        sim.foreign_next.set(1);
        let size = (1 << 20) + i * (128 << 10);
        let a = malloc(&mut t, size, 8);
        // SAFETY: live, with this layout.
        assert!(!unsafe { t.realloc(a, l(size, 8), 16) }.is_null());
    }
    let before = t.check();
    let grown = sim.grown_pages.get();
    for _ in 0..20 {
        malloc(&mut t, 512 << 10, 8);
    }
    let more = sim.grown_pages.get() - grown;
    // Growth only for what the free chunks do not hold: at most a page per
    // request for the part of a chunk too small for a block.
    let asked = 20 * (512 << 10);
    assert!(
        more * PAGE + before.free_bytes <= asked + 20 * PAGE,
        "{more} pages grown for 10 MiB with {} bytes free in {} chunks",
        before.free_bytes,
        before.free
    );
    t.check();
}

/// A growth counts the free top for up to half the request before it
/// knows the new pages will join it. When someone else grows memory between
/// the allocator's `end()` and its growth (here: before every growth), the
/// new region holds only what the free top was to make up, the search
/// fails, and `malloc` grows again, counting the new region as the free
/// top: a region of half the request each time, never enough. Measured: a
/// 16-byte block (1 page), then `malloc(2 MiB)`: 32 pages, then 17 pages
/// again and again until the memory's maximum (512 pages: 27 growths, 474
/// pages in all), then null. Realloc at the top does the same through its move.
/// (On single-threaded wasm nothing runs between the two calls; but the
/// trait allows it, `SimMemory` and the fuzzer model it, and a wrapper
/// memory that grows for someone else on each growth would do it.)
///
/// Fixed: `malloc` counts the free top in its first growth only; a second
/// growth holds the request by itself.
#[test]
#[cfg_attr(
    miri,
    ignore = "natively only: too long under Miri (Miri runs short_sequences_for_miri)"
)]
fn growth_after_foreign_pages_ends() {
    let sim = SimMemory::new(512, 1);
    let mut t = Tiny::new(Crowded::new(&sim));
    malloc(&mut t, 16, 8);
    let (g, pages) = (sim.grows.get(), sim.grown_pages.get());
    let p = t.malloc(l(2 << 20, 8));
    let (grows, grown) = (sim.grows.get() - g, sim.grown_pages.get() - pages);
    assert!(
        !p.is_null() && grows <= 2,
        "malloc(2 MiB): {p:?} after {grows} growths of {grown} pages in all ({} of {} pages used)",
        sim.pages(),
        sim.max.get()
    );
    t.check();
}

/// The same through `realloc`: a block at the top grows memory (counting
/// the free top), the pages land after a foreign page, and the block moves,
/// through `malloc`, into regions of half its size. Measured: null after
/// 27 growths, 505 of 512 pages used.
#[test]
#[cfg_attr(
    miri,
    ignore = "natively only: too long under Miri (Miri runs short_sequences_for_miri)"
)]
fn realloc_growth_after_foreign_pages_ends() {
    let sim = SimMemory::new(512, 1);
    let mut t = Tiny::new(Crowded::new(&sim));
    let a = malloc(&mut t, 16, 8);
    let g = sim.grows.get();
    // SAFETY: live, with this layout.
    let b = unsafe { t.realloc(a, l(16, 8), 2 << 20) };
    let grows = sim.grows.get() - g;
    assert!(
        !b.is_null() && grows <= 3,
        "realloc to 2 MiB: {b:?} after {grows} growths ({} of {} pages used)",
        sim.pages(),
        sim.max.get()
    );
    t.check();
}

/// A block that grows memory under itself keeps all it got, which the docs
/// call "less than a page"; but the growth counted the free top for up to
/// half the request, so the block keeps up to half its growth more than it
/// asked for, out of every other request's reach. Measured: a 16-byte
/// block under a free top of 8 MiB (and a page), resized to 12 MiB: 6 MiB
/// grown, and the block keeps 2 228 224 bytes beyond its 12 MiB; a request
/// of 1 MiB then grows 17 pages more (about 15 MiB grown for 13 MiB live,
/// where 14.1 would do).
///
/// Fixed: the block's growth asks exactly what it lacks (the free top above it is counted whole), so
/// it keeps less than a page more (65 536 bytes here), and the 1 MiB
/// after it grows what it needs (17 pages): 13 MiB and two pages grown in
/// all, where the old growth grew 14.1 MiB.
#[test]
#[cfg_attr(
    miri,
    ignore = "natively only: too long under Miri (Miri runs short_sequences_for_miri)"
)]
fn a_block_grown_at_the_top_keeps_less_than_a_page_more() {
    let sim = SimMemory::new(1024, 1);
    let mut t = Tiny::new(&sim);
    let a = malloc(&mut t, 16, 8);
    let b = malloc(&mut t, 8 << 20, 8);
    // SAFETY: live blocks, with these layouts.
    let a = unsafe {
        t.free(b);
        t.realloc(a, l(16, 8), 12 << 20)
    };
    assert!(!a.is_null());
    let grown = sim.grown_pages.get();
    let c = t.check();
    // What the heap holds beyond the block's 12 MiB and the free chunks.
    let kept = grown * PAGE - (12 << 20) - c.free_bytes;
    malloc(&mut t, 1 << 20, 8);
    let all = sim.grown_pages.get() * PAGE;
    assert!(
        kept < 2 * PAGE && all <= (13 << 20) + 4 * PAGE,
        "the 12 MiB block keeps {kept} bytes more; {all} bytes grown for 13 MiB"
    );
}

/// Documented trade-off (the search looks at one chunk per bin): a bin
/// whose first chunk is too small hides every chunk behind it that fits.
/// 2000 free chunks of 2016 bytes (bin 10), each pinned, then one of 1120
/// (bin 10) freed last: 2000 requests of 2000 bytes all come from the
/// free top, and grow 4 063 232 bytes (62 pages) with 4 032 000 bytes free
/// in chunks that fit. In all, 8 192 000 bytes grown in 125 growths for
/// 4 096 000 live (the full allocator: 4 128 768). `surely_fits` says false for each request:
/// no promise broken.
///
/// Fix (if wanted): when the own bin's first chunk is too small, move it
/// behind its successor (O(1)), so that a bin's fitting chunks come up.
#[test]
#[ignore = "documented trade-off (one chunk per bin): 2x the full allocator's memory"]
fn a_too_small_first_chunk_hides_its_bin() {
    let sim = SimMemory::new(1024, 1);
    let mut t = Tiny::new(&sim);
    let n = 2000;
    let holes: Vec<_> = (0..n)
        .map(|_| {
            let h = malloc(&mut t, 2000, 8);
            malloc(&mut t, 16, 8);
            h
        })
        .collect();
    let small = malloc(&mut t, 1100, 8);
    malloc(&mut t, 16, 8);
    // SAFETY: live blocks.
    unsafe {
        for h in holes {
            t.free(h);
        }
        t.free(small);
    }
    let grown = sim.grown_pages.get();
    for _ in 0..n {
        malloc(&mut t, 2000, 8);
    }
    let more = (sim.grown_pages.get() - grown) * PAGE;
    assert!(more <= 2 * PAGE, "{more} bytes grown with {n} free chunks that fit");
}

// ---------------------------------------------------------------------------
// Attacked, holds (these pass)

/// Every power-of-two alignment from 1 to 2^20 with sizes near 0, near
/// page multiples and near `isize::MAX`, on a fresh heap and on one with
/// chunks of every bin free, at the simulated top of the address space
/// too: aligned blocks or null, never a panic (run it in a debug build for
/// the overflow checks), at most one growth for a request that can be met,
/// none for one that cannot (the memory refuses it), and `surely_fits`
/// kept: no growth when it says a chunk fits.
#[test]
#[cfg_attr(
    miri,
    ignore = "natively only: too long under Miri (Miri runs short_sequences_for_miri)"
)]
fn every_alignment_and_extreme_size() {
    for top in [false, true] {
        for used in [false, true] {
            let sim = if top {
                SimMemory::at_top_of_address_space(600, 1)
            } else {
                SimMemory::new(600, 1)
            };
            let mut t = Tiny::new(&sim);
            if used {
                // Free chunks in many bins, each pinned.
                let mut hs = Vec::new();
                for k in 5..18 {
                    hs.push(malloc(&mut t, (1 << k) - 3 * WORD, 8));
                    malloc(&mut t, 1, 1);
                }
                for h in hs {
                    // SAFETY: live.
                    unsafe { t.free(h) };
                }
            }
            for a in 0..=20 {
                let align = 1usize << a;
                let max = isize::MAX as usize - (align - 1);
                for size in [0, 1, WORD, 2 * WORD - 1, 2 * WORD + 1, 3 * WORD]
                    .into_iter()
                    .chain([1, 2, 3].into_iter().flat_map(|k| {
                        [
                            k * PAGE - 3 * WORD,
                            k * PAGE - 2 * WORD,
                            k * PAGE - 1,
                            k * PAGE,
                            k * PAGE + 1,
                        ]
                    }))
                    .chain([max, max - 1, max / 2, max - PAGE])
                {
                    let layout = l(size, align);
                    let fits = t.surely_fits(layout);
                    let g = sim.grows.get();
                    let p = t.malloc(layout);
                    let grows = sim.grows.get() - g;
                    let what = format!("top {top} used {used} malloc({size}, {align})");
                    if fits {
                        assert!(
                            !p.is_null() && grows == 0,
                            "{what}: {p:?}, {grows} growths with a fit"
                        );
                    }
                    if size > 1 << 30 {
                        assert!(p.is_null() && grows == 0, "{what}: {p:?}, {grows} growths");
                        continue;
                    }
                    assert!(grows <= 1, "{what}: {grows} growths");
                    if p.is_null() {
                        assert!(
                            sim.pages() + (size + align).div_ceil(PAGE) + 1 > sim.max.get(),
                            "{what}: null"
                        );
                        continue;
                    }
                    assert_eq!(p.addr() % align, 0, "{what}");
                    // SAFETY: live, `size` bytes.
                    unsafe { p.write_bytes(0xC3, size) };
                    // Huge reallocs fail and keep the block.
                    // SAFETY: live, with this layout; the sizes are valid.
                    unsafe {
                        assert!(t.realloc(p, layout, max).is_null(), "{what}: realloc to {max}");
                        assert!(
                            t.realloc(p, layout, max / 2).is_null(),
                            "{what}: realloc to {max}/2"
                        );
                        if size > 0 {
                            assert_eq!(*p.add(size - 1), 0xC3, "{what}");
                        }
                        t.free(p);
                    }
                    t.check();
                }
            }
        }
    }
}

/// More than 64 regions (foreign pages before each growth: `check` stops
/// recording regions at 64): blocks in 100 regions, freed in an order that
/// merges every neighbour, then the memory serves again without growth.
#[test]
#[cfg_attr(
    miri,
    ignore = "natively only: too long under Miri (Miri runs short_sequences_for_miri)"
)]
fn a_hundred_regions() {
    let sim = SimMemory::new(1024, 1);
    let mut t = Tiny::new(&sim);
    let mut blocks = Vec::new();
    for i in 0..100 {
        sim.foreign_next.set(1);
        let size = 40_000 + i * 16;
        let p = malloc(&mut t, size, 8);
        // SAFETY: live, `size` bytes.
        unsafe { p.write_bytes(i as u8, size) };
        blocks.push((p, size));
        blocks.push((malloc(&mut t, 16, 8), 16));
    }
    assert_eq!(t.check().regions, 64);
    let grown = sim.grown_pages.get();
    // Odd blocks first, then even ones.
    for parity in [1, 0] {
        for (i, &(p, _)) in blocks.iter().enumerate().filter(|(i, _)| i % 2 == parity) {
            if parity == 0 {
                // SAFETY: live, written above.
                assert_eq!(unsafe { *p }, (i / 2) as u8);
            }
            // SAFETY: live.
            unsafe { t.free(p) };
            t.check();
        }
    }
    for _ in 0..100 {
        malloc(&mut t, 40_000, 8);
    }
    assert_eq!(sim.grown_pages.get(), grown, "100 blocks freed and asked for again grew memory");
    sim.check_foreign();
}

/// Random malloc, free and realloc with alignments up to 64 KiB, while
/// someone else grows pages before our growths (between `end` and `grow`,
/// on and off), refusals and a lowered maximum, at the top of the address
/// space or not: bytes kept, no overlap, foreign pages intact, every walk
/// consistent, and `surely_fits` kept (no growth when it says a chunk
/// fits). A failure is allowed only with little memory left, since the
/// growth loop of `growth_after_foreign_pages_ends` eats what is left.
#[test]
#[cfg_attr(
    miri,
    ignore = "natively only: too long under Miri (Miri runs short_sequences_for_miri)"
)]
fn random_with_crowding_refusals_and_maximum() {
    let ops = if common::MIRI { 200 } else { 20_000 };
    for seed in 0..4u64 {
        let top = seed % 2 == 1;
        let sim =
            if top { SimMemory::at_top_of_address_space(256, 1) } else { SimMemory::new(256, 1) };
        let mem = Crowded::new(&sim);
        mem.1.set(false);
        let mut t = Tiny::new(mem);
        let mut rng = common::Rng::new(seed + 100);
        let mut live: Vec<(*mut u8, usize, usize, u8)> = Vec::new();
        for op in 0..ops {
            let tag = op as u8;
            match rng.range(0, 99) {
                0..=2 => t.memory_crowd(rng.chance(50)),
                3 => sim.refuse_next.set(true),
                4 => sim.foreign_next.set(rng.range(1, 3)),
                5 => sim.max.set((sim.pages() + rng.range(0, 20)).min(256)),
                6..=50 => {
                    let size = if rng.chance(10) { rng.range(0, 300_000) } else { rng.size(4000) };
                    let align =
                        1 << if rng.chance(15) { rng.range(0, 16) } else { rng.range(0, 4) };
                    let layout = l(size, align);
                    let fits = t.surely_fits(layout);
                    let g = sim.grows.get();
                    let p = t.malloc(layout);
                    if fits {
                        assert!(
                            !p.is_null() && sim.grows.get() == g,
                            "malloc({size}, {align}) with a fit"
                        );
                    }
                    if !p.is_null() {
                        assert_eq!(p.addr() % align, 0);
                        fill(p, size, tag);
                        live.push((p, size, align, tag));
                    }
                }
                51..=80 if !live.is_empty() => {
                    let (p, size, _, s) = live.swap_remove(rng.range(0, live.len() - 1));
                    verify(p, size, size, s);
                    // SAFETY: live.
                    unsafe { t.free(p) };
                }
                81..=99 if !live.is_empty() => {
                    let i = rng.range(0, live.len() - 1);
                    let (p, size, align, s) = live[i];
                    let new = if rng.chance(50) {
                        rng.range(0, 2 * size + 64)
                    } else {
                        rng.size(200_000)
                    };
                    // SAFETY: live, with this layout; the size is valid.
                    let q = unsafe { t.realloc(p, l(size, align), new) };
                    if q.is_null() {
                        assert!(new > size, "shrinking failed");
                        verify(p, size, size, s);
                    } else {
                        assert_eq!(q.addr() % align, 0);
                        verify(q, size, new, s);
                        fill(q, new, tag);
                        live[i] = (q, new, align, tag);
                    }
                }
                _ => {}
            }
            t.check();
            if op % 64 == 0 {
                let mut spans: Vec<_> =
                    live.iter().map(|b| (b.0.addr(), b.0.addr() + b.1.max(1))).collect();
                spans.sort_unstable();
                assert!(spans.windows(2).all(|w| w[0].1 <= w[1].0), "overlap");
                sim.check_foreign();
            }
        }
        for (p, size, _, s) in live {
            verify(p, size, size, s);
            // SAFETY: live.
            unsafe { t.free(p) };
        }
        let c = t.check();
        assert_eq!(c.allocated, 0);
        if c.regions < 64 {
            assert_eq!(c.free, c.regions, "seed {seed}: one free chunk per region at the end");
        }
        sim.check_foreign();
    }
}

trait Crowd {
    fn memory_crowd(&mut self, on: bool);
}

impl Crowd for Tiny<Crowded<'_>> {
    fn memory_crowd(&mut self, on: bool) {
        self.memory().1.set(on);
    }
}

fn pattern(tag: u8, i: usize) -> u8 {
    tag ^ (i as u8).wrapping_mul(29)
}

/// Writes the first and last 64 bytes of a block.
fn fill(p: *mut u8, size: usize, tag: u8) {
    for i in (0..size.min(64)).chain(size.saturating_sub(64).max(64)..size) {
        // SAFETY: the block is live and `size` bytes long.
        unsafe { *p.add(i) = pattern(tag, i) };
    }
}

/// Checks what `fill(_, written, tag)` put in the first `limit` bytes.
fn verify(p: *mut u8, written: usize, limit: usize, tag: u8) {
    for i in (0..written.min(64)).chain(written.saturating_sub(64).max(64)..written) {
        if i < limit {
            // SAFETY: the block is live and at least `limit` bytes long.
            assert_eq!(unsafe { *p.add(i) }, pattern(tag, i), "byte {i} of {p:p}");
        }
    }
}

/// Short sequences for Miri (Stacked and Tree Borrows): aligned blocks with
/// a free chunk below them, realloc in place up and down, at the top with
/// growth, after a foreign page (a new region, the free top left behind),
/// frees that merge both ways and across growth steps.
/// `cargo +nightly miri test -p talcum --features checks --test tiny_break short`
/// (and with `MIRIFLAGS=-Zmiri-tree-borrows`).
#[test]
fn short_sequences_for_miri() {
    let sim = SimMemory::new(12, 1);
    let mut t = Tiny::new(&sim);
    let a = malloc(&mut t, 24, 8);
    let b = malloc(&mut t, 100, 256);
    let c = malloc(&mut t, 40, 8);
    fill(b, 100, 1);
    // SAFETY: live blocks with these layouts; sizes valid.
    unsafe {
        let b = t.realloc(b, l(100, 256), 300);
        assert!(!b.is_null());
        verify(b, 100, 300, 1);
        let b = t.realloc(b, l(300, 256), 20);
        verify(b, 100, 20, 1);
        t.free(a);
        // At the top: grows under itself.
        let d = malloc(&mut t, 30_000, 8);
        fill(d, 30_000, 2);
        let d = t.realloc(d, l(30_000, 8), 100_000);
        assert!(!d.is_null());
        verify(d, 30_000, 100_000, 2);
        t.check();
        // A foreign page: the next growth is a region of its own.
        sim.foreign_next.set(1);
        let e = malloc(&mut t, 200_000, 16);
        fill(e, 200_000, 3);
        t.check();
        t.free(c);
        t.free(b);
        let d = t.realloc(d, l(100_000, 8), 8);
        verify(d, 30_000, 8, 2);
        t.free(d);
        verify(e, 200_000, 200_000, 3);
        t.free(e);
    }
    let end = t.check();
    assert_eq!((end.allocated, end.free, end.regions), (0, 2, 2));
    sim.check_foreign();
}
