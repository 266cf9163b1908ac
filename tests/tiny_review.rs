//! Review of the tiny allocator (`src/tiny.rs`) and of the handler's
//! growth after foreign pages (`src/wasm.rs`), 2026-11-30.
//!
//! Tests that expose a defect fail against the code they were written for
//! (one only under Miri, see its docs); the bloat and slowness bounds that
//! the design does not promise are `#[ignore]`d with the numbers measured.
//! The rest pass, and pin what was attacked without finding anything.
//! `a_buffer_rebuilt_bigger_each_round_reuses_its_memory` came later, with
//! issue 22 (2026-12-06).
//!
//! Run: `cargo test -p talcum --features checks --test tiny_review`
//! (`-- --include-ignored` for the bounds; `--release` for the timings).

#![cfg_attr(not(feature = "checks"), allow(dead_code))]

mod common;

use std::alloc::Layout;
use std::time::{Duration, Instant};

use common::sim::SimMemory;
use talcum::tiny::Tiny;
use talcum::{LinearMemory, WASM_PAGE_SIZE as PAGE};

type SimTiny<'a> = Tiny<&'a SimMemory>;

const WORD: usize = core::mem::size_of::<usize>();

fn l(size: usize, align: usize) -> Layout {
    Layout::from_size_align(size, align).unwrap()
}

fn walk<M: LinearMemory>(t: &Tiny<M>) {
    #[cfg(feature = "checks")]
    t.check();
    let _ = t;
}

// ---------------------------------------------------------------------------
// Defects

/// A request whose chunk is one word more than the address where a free
/// chunk ends, when that chunk is at least half that address long (so that
/// it lies in a bin the search walks; ordinary on wasm32, where heaps start
/// low): `end - need` wraps to one word below the top of the address space
/// and `block.addr() + WORD` (src/tiny.rs, malloc's fit test) overflows: a
/// panic inside `malloc` in any build with overflow checks (the test
/// profile, a debug wasm build). Release builds wrap, and get it right.
#[test]
#[cfg_attr(miri, ignore = "a fixed-address mmap, which Miri does not support")]
fn a_request_one_word_past_a_free_chunks_end_address_gets_null_not_a_panic() {
    // 48 pages at 1 MiB, as a wasm32 heap would lie.
    let Some(mem) = LowMem::at(0x10_0000, 48) else {
        eprintln!("the address 1 MiB is mapped already: skipped");
        return;
    };
    let mut t = Tiny::new(&mem);
    // One region of 47 pages, ending at 0x3F_0000: after a free, one free
    // chunk from past the heads up to the sentinel at 0x3E_FFF8, in bin 21.
    let p = t.malloc(l(46 * PAGE, 8));
    assert!(!p.is_null());
    // SAFETY: live.
    unsafe { t.free(p) };
    assert_eq!((&mem).end(), 0x3F_0000);
    let end = 0x3F_0000 - WORD;
    // Its chunk, `end + WORD` = 0x3F_0000, is in bin 21 too.
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| t.malloc(l(end, 8))));
    assert!(r.is_ok(), "malloc({end:#x} bytes) panicked");
    assert!(r.unwrap().is_null(), "48 pages cannot hold {end:#x} bytes more");
}

/// The list head of bin 0 lies one word before the bins' heads. When the
/// first region starts its allocation (a `LinearMemory` over a buffer of its
/// own, first grown at its start: `SimMemory::new(_, 0)` would do it too
/// when its buffer is two-word aligned), `head(0)` points before the
/// allocation, and `add_region`'s `set_link` (and `check`'s `link_of`)
/// offset it with `add`: out-of-bounds pointer arithmetic, UB. Natively this
/// passes; under Miri it fails:
/// `cargo +nightly miri test -p talcum --test tiny_review the_first_region`
/// reports "in-bounds pointer arithmetic failed: ... points to before the
/// beginning of the allocation" at src/tiny.rs:137 (from add_region, 424).
#[test]
fn the_first_region_may_start_its_allocation() {
    let mem = OffMem::new(2, 0, false);
    let mut t = Tiny::new(&mem);
    let p = t.malloc(l(24, 8));
    assert!(!p.is_null());
    // SAFETY: live.
    unsafe { t.free(p) };
    walk(&t);
}

/// A shrinking `realloc` kept the whole chunk: `Vec::shrink_to_fit`,
/// `into_boxed_slice` after a big reserve, a buffer trimmed after use, all
/// kept their peak size for good. Measured: 10 blocks of 1 MiB shrunk to 16
/// bytes held 11 141 120 bytes grown (10 growths) for 160 live bytes; the
/// full allocator, 1 114 112 (1 growth). Fixed: a shrunk block gives the
/// rest of its chunk back (it stays in place: blocks are cut from the
/// bottom of free memory, so the rest joins the free memory above it).
#[test]
#[cfg_attr(miri, ignore = "minutes under Miri: natively only (Miri runs the_first_region)")]
fn a_shrunk_block_gives_its_tail_back() {
    for to in [16, 400 << 10] {
        let sim = SimMemory::new(256, 1);
        let mut t = Tiny::new(&sim);
        let p = t.malloc(l(1 << 20, 8));
        assert!(!p.is_null());
        fill(p, to, 5);
        // SAFETY: live, with this layout.
        let q = unsafe { t.realloc(p, l(1 << 20, 8), to) };
        assert_eq!(q, p, "shrunk to {to}: moved");
        verify(q, to, 5);
        let grows = sim.grows.get();
        // The rest serves a block of nearly its size without growth.
        let r = t.malloc(l((1 << 20) - to - 4096, 8));
        assert!(!r.is_null());
        assert_eq!(sim.grows.get(), grows, "shrunk to {to}: the rest was not given back");
        walk(&t);
    }
}

/// Blocks came from the top of their chunk, so a block shrunk in place
/// stayed between the free memory below it and its given-back tail: each
/// round of a 1 MiB block shrunk to 16 bytes then needed memory anew (the
/// free top counts for half). Measured: 6 422 528 bytes grown for 160 live
/// bytes in 10 rounds (full allocator: 1 114 112). Fixed then: a block
/// shrunk to half its chunk or less moved to a free chunk that held it.
/// Since issue 23 blocks are cut from the bottom of free memory, so a block
/// shrunk in place gives back a tail that joins the free memory above it.
#[test]
#[cfg_attr(miri, ignore = "minutes under Miri: natively only (Miri runs the_first_region)")]
fn shrunk_blocks_in_rounds() {
    let sim = SimMemory::new(256, 1);
    let mut t = Tiny::new(&sim);
    for _ in 0..10 {
        let p = t.malloc(l(1 << 20, 8));
        assert!(!p.is_null());
        // SAFETY: live, with this layout.
        assert!(!unsafe { t.realloc(p, l(1 << 20, 8), 16) }.is_null());
        walk(&t);
    }
    let grown = sim.grown_pages.get() * PAGE;
    assert!(grown <= (1 << 20) + 2 * PAGE, "{grown} bytes grown for 160 live");
}

/// Issue 22, defect 3: a buffer rebuilt a little bigger each round (4 MiB,
/// then 256 KiB more each round, 20 rounds: allocated, filled, freed), with
/// one small block (64 B) kept per round. When the small block comes after
/// the buffer is freed (or, the same, before the next one), the free top is
/// the only free chunk, and the block was cut from its top: right under the
/// last sentinel, where it kept the next growth from joining the free top.
/// Each round then grew memory for the whole buffer: 112 459 776 bytes
/// grown in 18 growths for 9 176 256 live at the peak (12.3x). The other
/// orders (the small block while the buffer is live, or first in each
/// round) grew 1.08x and 1.09x. Fixed: a block of less than a fifth of its
/// chunk is cut from the chunk's bottom, and the free top serves only when
/// no other chunk holds a request: 9 895 936 bytes (1.08x) in every order,
/// in 3 or 4 growths.
///
/// Since issue 23 every block is cut from the bottom of its chunk (so that
/// a block that grows finds the rest above it: two buffers grown in turn
/// copied 39 MiB, now 0.5). The free top still serves last. Orders 1 and 2
/// stay at 1.08x; in order 0 the first small block lands right above the
/// first buffer, whose 4 MiB hole then serves only small blocks, as with
/// dlmalloc: 14 745 600 bytes (1.61x), in 4 growths.
#[test]
#[cfg_attr(miri, ignore = "a 128 MiB simulated memory and 130 MB of buffers: natively only")]
fn a_buffer_rebuilt_bigger_each_round_reuses_its_memory() {
    // 0: the small block while the buffer is live; 1: before it; 2: after
    // the buffer is freed.
    for order in 0..3 {
        let sim = SimMemory::new(2048, 1);
        let mut t = Tiny::new(&sim);
        let mut kept = 0;
        let mut peak = 0;
        let small = |t: &mut SimTiny<'_>, kept: &mut usize| {
            let p = t.malloc(l(64, 8));
            assert!(!p.is_null());
            fill(p, 64, 1);
            *kept += 64;
        };
        for r in 0..20 {
            let size = (4 << 20) + r * (256 << 10);
            if order == 1 {
                small(&mut t, &mut kept);
            }
            let b = t.malloc(l(size, 8));
            assert!(!b.is_null(), "order {order}, round {r}: null");
            fill(b, size, r as u64);
            if order == 0 {
                small(&mut t, &mut kept);
            }
            peak = peak.max(size + kept);
            // SAFETY: live.
            unsafe { t.free(b) };
            if order == 2 {
                small(&mut t, &mut kept);
            }
            walk(&t);
        }
        let grown = sim.grown_pages.get() * PAGE;
        // Within a quarter of the peak and a few pages of rounding; in
        // order 0, the first buffer's hole more (dlmalloc on the report's
        // `rebuild` pattern: 1.9x).
        let hole = if order == 0 { 4 << 20 } else { 0 };
        assert!(
            grown <= peak + peak / 4 + hole + 4 * PAGE,
            "order {order}: {grown} bytes grown in {} growths for {peak} live at the peak",
            sim.grows.get()
        );
    }
}

// ---------------------------------------------------------------------------
// Bloat and slowness (numbers in the docs; ignored where the design accepts
// them, the rest fixed after the review)

/// `Tiny::grow` asks for the whole chunk even when the new pages will join
/// the free chunk on top of the last region (the full allocator's handler
/// counts that free top). A block freed and allocated again a page larger
/// each time, up to 100 pages: tiny grows 12 517 376 bytes (191 pages),
/// the full allocator 9 109 504 (139). Two blocks leapfrogging by 1.5x up
/// to 25 MB (42 MB live at the peak): 66.6 MB against 43.8 MB. A realloc at
/// the top from 100 KiB to 1 MiB when foreign pages land first: 32 pages
/// grown (the second growth, for the move, again in full over the 15 that
/// joined), where 17 would do.
///
/// Fixed: the free top counts for up to half the request, as in the full
/// allocator's handler.
#[test]
#[cfg_attr(miri, ignore = "minutes under Miri: natively only (Miri runs the_first_region)")]
fn growth_counts_the_free_top_it_joins() {
    let sim = SimMemory::new(1024, 1);
    let mut t = Tiny::new(&sim);
    for i in 1..=100 {
        let p = t.malloc(l(i * PAGE, 8));
        assert!(!p.is_null());
        // SAFETY: live.
        unsafe { t.free(p) };
    }
    let pages = sim.grown_pages.get();
    assert!(pages <= 150, "{pages} pages grown for a block of at most 100");
}

/// The block's chunk keeps the slack between its end and the chunk's top
/// (blocks come from the top of a free chunk, aligned down): up to
/// `align - 2 words` per block that nothing else can use. 1000 blocks of
/// (16, 4096) then 1000 of (2048, 8): 6 356 992 bytes grown (97 growths);
/// the full allocator 4 128 768 (the small blocks fill the gaps). With
/// (16, 256) then (128, 8): 458 752 against 262 144.
///
/// Fixed: what is left above an aligned block goes back to the free lists.
#[test]
#[cfg_attr(miri, ignore = "minutes under Miri: natively only (Miri runs the_first_region)")]
fn aligned_blocks_give_their_tail_slack_back() {
    let sim = SimMemory::new(1024, 1);
    let mut t = Tiny::new(&sim);
    for _ in 0..1000 {
        assert!(!t.malloc(l(16, 4096)).is_null());
    }
    for _ in 0..1000 {
        assert!(!t.malloc(l(2048, 8)).is_null());
    }
    walk(&t);
    let grown = sim.grown_pages.get() * PAGE;
    // The aligned blocks need 1000 strides of 4096 bytes; the others fit in them.
    assert!(grown <= 1000 * 4096 + 8 * PAGE, "{grown} bytes grown");
}

/// Frees `n` chunks of `hole` bytes, each pinned by a block of `pin` above
/// it, so that none merges.
fn holes(sim: &SimMemory, n: usize, hole: usize, pin: usize) -> SimTiny<'_> {
    let mut t = Tiny::new(sim);
    let mut hs = Vec::new();
    for _ in 0..n {
        hs.push(t.malloc(l(hole, 8)));
        assert!(!t.malloc(l(pin, 8)).is_null());
    }
    for h in hs {
        assert!(!h.is_null());
        // SAFETY: live.
        unsafe { t.free(h) };
    }
    t
}

/// Time per call of `f`, over `n` calls.
fn per_call(n: u32, mut f: impl FnMut()) -> Duration {
    let t0 = Instant::now();
    for _ in 0..n {
        f();
    }
    t0.elapsed() / n
}

/// The adversary of issue 22: every request walked its whole bin of
/// too-small chunks. 40 000 free chunks of 1120 bytes (bin 10), then
/// requests of 2000 (bin 10, served from above): 463-913 µs per malloc
/// (release build; 3.7 µs with 1000 chunks, 50 µs with 10 000); 423-463 µs
/// on 2026-12-06, after issue 22. Fixed in issue 23: a search looks at the
/// first chunk of each bin only (memory then grows only when no chunk
/// *surely* holds the request, see `Tiny::surely_fits`): 0.71-0.74 µs.
/// A timing, so run by hand (`--release -- --ignored`).
#[test]
#[ignore = "a timing (fixed in issue 23): run by hand, in release"]
fn a_bin_of_too_small_chunks_costs_every_request() {
    let sim = SimMemory::new(16384, 1);
    let mut t = holes(&sim, 40_000, 1100, 8);
    let dt = per_call(200, || assert!(!t.malloc(l(2000, 8)).is_null()));
    assert!(dt < Duration::from_micros(20), "{dt:?} per malloc");
}

/// Documented in issue 22: an aligned request (above two words) walked
/// every chunk of every bin from its own up, not just its own bin's, since
/// the first chunk of a bigger bin need not hold an aligned block. 10 000
/// free chunks of 1008 bytes between pins of 3072: 265-285 µs per
/// malloc(16, 4096) (release build; 8-20 µs with 1000 chunks); 234-237 µs
/// on 2026-12-06, after issue 22. Fixed in issue 23: one chunk per bin, at
/// most 32 (64) in all: 2.9-3.3 µs, growth included. A timing, so run by
/// hand (`--release -- --ignored`).
#[test]
#[ignore = "a timing (fixed in issue 23): run by hand, in release"]
fn aligned_requests_walk_every_bin() {
    let sim = SimMemory::new(16384, 1);
    let mut t = holes(&sim, 10_000, 1000, 3050);
    let dt = per_call(200, || assert!(!t.malloc(l(16, 4096)).is_null()));
    assert!(dt < Duration::from_micros(20), "{dt:?} per malloc");
}

// ---------------------------------------------------------------------------
// Attacked, nothing found (these pass)

/// Region bases that are one word but not two-word aligned (as Miri's
/// buffers may be), regions at the top of the address space, foreign pages
/// before our growths, large alignments, reallocs up and down: every byte
/// kept, nothing overlapping, every walk consistent, foreign pages intact.
#[cfg(feature = "checks")]
#[test]
#[cfg_attr(miri, ignore = "minutes under Miri: natively only (Miri runs the_first_region)")]
fn unaligned_bases_and_the_top_of_the_address_space() {
    let ops = if common::MIRI { 100 } else { 4000 };
    for (offset, top) in [(8, false), (8, true), (0, true), (0, false)] {
        for seed in 0..3u64 {
            let mem = OffMem::new(24 + 8 * seed as usize, offset, top);
            let mut t = Tiny::new(&mem);
            stress(
                &mut t,
                seed,
                ops,
                |t| {
                    t.check();
                },
                || mem.foreign_next.set(1),
            );
            mem.check_foreign();
        }
    }
}

/// A growth always holds the request: at most one growth per malloc (with
/// sizes up to two pages, most grow), also when the
/// region is the first, extends another, starts at an odd
/// word, or ends one word short at the top of the address space, for sizes
/// just around page multiples and alignments up to 4096.
#[cfg(feature = "checks")]
#[test]
#[cfg_attr(miri, ignore = "minutes under Miri: natively only (Miri runs the_first_region)")]
fn one_growth_per_request_at_the_boundaries() {
    for offset in [0, WORD] {
        for top in [false, true] {
            for align in [1usize, 16, 32, 64, 4096] {
                for k in 1..3usize {
                    for d in (0..200usize).step_by(if common::MIRI { 50 } else { 1 }) {
                        for first in [true, false] {
                            let size = (k * PAGE).saturating_sub(d);
                            let need =
                                ((size + WORD + 2 * WORD - 1) & !(2 * WORD - 1)).max(4 * WORD);
                            // What a growth asks for: the chunk, its
                            // alignment and three grains (a region's two
                            // ends, and the free chunk an aligned block may
                            // leave below it).
                            let pages = (need + align + 6 * WORD).div_ceil(PAGE);
                            let mem = OffMem::new(pages + 2, offset, top);
                            let mut t = Tiny::new(&mem);
                            if !first {
                                assert!(!t.malloc(l(100, 8)).is_null());
                            }
                            let g = mem.grows.get();
                            // This growth ends at the top of the address space.
                            mem.top_at.set(mem.pages.get() + pages);
                            let p = t.malloc(l(size, align));
                            let what = format!(
                                "offset {offset} top {top} first {first} size {size} align {align}"
                            );
                            assert!(!p.is_null(), "{what}");
                            assert_eq!(p.addr() % align, 0, "{what}");
                            assert!(
                                mem.grows.get() - g <= 1,
                                "{what}: {} growths",
                                mem.grows.get() - g
                            );
                            t.check();
                        }
                    }
                }
            }
        }
    }
}

/// Impossible requests get null, without a panic or a growth.
#[test]
fn impossible_requests_get_null() {
    let sim = SimMemory::new(8, 1);
    let mut t = Tiny::new(&sim);
    let top_align = 1usize << (usize::BITS - 1);
    for (size, align) in [
        (0, top_align),
        (isize::MAX as usize, 1),
        (isize::MAX as usize - 15, 16),
        (1, top_align >> 1),
    ] {
        assert!(t.malloc(l(size, align)).is_null(), "({size}, {align})");
    }
    let p = t.malloc(l(100, 64));
    assert!(!p.is_null());
    // SAFETY: live; the size is valid for the alignment.
    unsafe {
        assert!(t.realloc(p, l(100, 64), isize::MAX as usize - 63).is_null());
        let p = t.realloc(p, l(100, 64), 0);
        assert!(!p.is_null() && p.addr() % 64 == 0);
        t.free(p);
    }
    walk(&t);
}

/// A realloc at the top when the growth lands after foreign pages, or is
/// refused: the block moves, keeps its bytes, and at most two growths are
/// made.
#[cfg(feature = "checks")]
#[test]
#[cfg_attr(miri, ignore = "minutes under Miri: natively only (Miri runs the_first_region)")]
fn realloc_at_the_top_after_foreign_pages_or_a_refusal() {
    for foreign in [0usize, 1] {
        for refuse in [false, true] {
            for (old, new) in
                [(100usize << 10, 1usize << 20), (1000, 200 << 10), (60 << 10, 70 << 10)]
            {
                let sim = SimMemory::new(256, 1);
                let mut t = Tiny::new(&sim);
                let a = t.malloc(l(old, 8));
                fill(a, old, 7);
                let g = sim.grows.get();
                sim.foreign_next.set(foreign);
                sim.refuse_next.set(refuse);
                // SAFETY: live, with this layout.
                let b = unsafe { t.realloc(a, l(old, 8), new) };
                assert!(!b.is_null());
                verify_upto(b, old, new, 7);
                assert!(sim.grows.get() - g <= 2);
                t.check();
                sim.check_foreign();
            }
        }
    }
}

/// The full allocator's realloc at the top when foreign pages land first:
/// the handler's second growth extends the first (`full`), at most two
/// growths in all. Measured: 100 KiB -> 1 MiB with 500 KiB free on top,
/// 2 growths and 23 pages (8 pages, 1 growth, without the foreign page).
#[test]
#[cfg_attr(miri, ignore = "minutes under Miri: natively only (Miri runs the_first_region)")]
fn talc_realloc_at_the_top_after_foreign_pages() {
    for (a_size, x_size, new) in [
        (100usize << 10, 500usize << 10, 1usize << 20),
        (100 << 10, 300 << 10, 1 << 20),
        (10 << 10, 100 << 10, 200 << 10),
    ] {
        let sim = SimMemory::new(256, 1);
        let mut t = talcum::Talc::new(talcum::WasmHandler::with_memory(&sim));
        // SAFETY: live blocks, with their layouts.
        unsafe {
            let a = t.malloc(l(a_size, 8)).unwrap();
            fill(a.as_ptr(), a_size, 3);
            let x = t.malloc(l(x_size, 8)).unwrap();
            t.free(x, l(x_size, 8));
            let g = sim.grows.get();
            sim.foreign_next.set(1);
            let b = t.realloc(a, l(a_size, 8), new).unwrap();
            verify_upto(b.as_ptr(), a_size, new, 3);
            assert!(sim.grows.get() - g <= 2, "{} growths", sim.grows.get() - g);
            t.free(b, l(new, 8));
        }
        sim.check_foreign();
    }
}

// ---------------------------------------------------------------------------
// Memories

/// A linear memory over a 16-aligned host buffer whose pages start `offset`
/// bytes in (8: a base that is word aligned but not two-word aligned, as
/// Miri's buffers may be; 0 with no pages before: the first region starts
/// the allocation), optionally ending at the simulated top of the address
/// space, with foreign pages grown before ours on demand.
struct OffMem {
    buf: *mut u128,
    len: usize,
    base: *mut u8,
    cap: usize,
    pages: std::cell::Cell<usize>,
    top: bool,
    foreign_next: std::cell::Cell<usize>,
    foreign: std::cell::RefCell<Vec<(usize, usize)>>,
    grows: std::cell::Cell<usize>,
    /// Where the top of the address space is (in pages), when `top`.
    top_at: std::cell::Cell<usize>,
}

impl OffMem {
    fn new(cap: usize, offset: usize, top: bool) -> Self {
        let len = (cap * PAGE + offset).div_ceil(16);
        let buf = Box::into_raw(vec![0u128; len].into_boxed_slice()).cast::<u128>();
        let base = buf.cast::<u8>().wrapping_add(offset);
        Self {
            buf,
            len,
            base,
            cap,
            pages: 0.into(),
            top,
            foreign_next: 0.into(),
            foreign: Default::default(),
            grows: 0.into(),
            top_at: cap.into(),
        }
    }
    fn check_foreign(&self) {
        for &(a, b) in self.foreign.borrow().iter() {
            for i in (a * PAGE..b * PAGE).step_by(8) {
                // SAFETY: inside the buffer.
                assert_eq!(unsafe { *self.base.add(i) }, 0xA5, "foreign byte {i:#x} written");
            }
        }
    }
}

impl Drop for OffMem {
    fn drop(&mut self) {
        // SAFETY: from `Box::into_raw` in `new`.
        drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(self.buf, self.len)) });
    }
}

// SAFETY: regions are fresh pages of the buffer, beyond all handed out.
unsafe impl LinearMemory for &OffMem {
    fn end(&self) -> usize {
        if self.top && self.pages.get() == self.top_at.get() {
            0
        } else {
            self.base.addr() + self.pages.get() * PAGE
        }
    }
    fn grow(&mut self, n: usize) -> Option<talcum::Span> {
        let f = self.foreign_next.replace(0);
        if f > 0 && self.pages.get() + f <= self.cap {
            let from = self.pages.get();
            for i in (from * PAGE..(from + f) * PAGE).step_by(8) {
                // SAFETY: inside the buffer, nobody's.
                unsafe { self.base.add(i).write(0xA5) };
            }
            self.foreign.borrow_mut().push((from, from + f));
            self.pages.set(from + f);
        }
        let from = self.pages.get();
        let to = from.checked_add(n).filter(|&to| to <= self.cap.min(self.top_at.get()))?;
        self.pages.set(to);
        self.grows.set(self.grows.get() + 1);
        let mut acme = self.base.wrapping_add(to * PAGE);
        if self.top && to == self.top_at.get() {
            acme = acme.wrapping_sub(8);
        }
        Some(talcum::Span::new(self.base.wrapping_add(from * PAGE), acme))
    }
}

/// A linear memory at a low, fixed address (mapped with `mmap`), as
/// wasm32's heaps are: there chunk sizes are of the order of their
/// addresses.
struct LowMem {
    base: *mut u8,
    cap: usize,
    pages: std::cell::Cell<usize>,
}

extern "C" {
    fn mmap(addr: *mut u8, len: usize, prot: i32, flags: i32, fd: i32, off: i64) -> *mut u8;
    fn munmap(addr: *mut u8, len: usize) -> i32;
}

impl LowMem {
    /// `cap` pages at `addr`, or `None` if that address is taken.
    fn at(addr: usize, cap: usize) -> Option<Self> {
        const PROT_RW: i32 = 3;
        const MAP_PRIVATE_ANON_FIXED_NOREPLACE: i32 = 0x02 | 0x20 | 0x10_0000;
        // SAFETY: a fresh anonymous mapping, refused if anything is there.
        let p = unsafe {
            mmap(
                std::ptr::without_provenance_mut(addr),
                cap * PAGE,
                PROT_RW,
                MAP_PRIVATE_ANON_FIXED_NOREPLACE,
                -1,
                0,
            )
        };
        (p.addr() == addr).then(|| Self { base: p, cap, pages: 0.into() })
    }
}

impl Drop for LowMem {
    fn drop(&mut self) {
        // SAFETY: our mapping.
        unsafe { munmap(self.base, self.cap * PAGE) };
    }
}

// SAFETY: fresh zeroed pages of the mapping, beyond all handed out.
unsafe impl LinearMemory for &LowMem {
    fn end(&self) -> usize {
        self.base.addr() + self.pages.get() * PAGE
    }
    fn grow(&mut self, n: usize) -> Option<talcum::Span> {
        let from = self.pages.get();
        let to = from.checked_add(n).filter(|&to| to <= self.cap)?;
        self.pages.set(to);
        Some(talcum::Span::new(
            self.base.wrapping_add(from * PAGE),
            self.base.wrapping_add(to * PAGE),
        ))
    }
}

fn seedbyte(seed: u64, i: usize) -> u8 {
    (seed as u8).wrapping_add((i as u8).wrapping_mul(13))
}

fn fill(p: *mut u8, size: usize, seed: u64) {
    for i in (0..size.min(32)).chain(size.saturating_sub(32)..size) {
        unsafe { *p.add(i) = seedbyte(seed, i) };
    }
}

fn verify(p: *mut u8, size: usize, seed: u64) {
    verify_upto(p, size, size, seed);
}

/// Checks what a fill of `written` bytes put in the first `limit` bytes.
fn verify_upto(p: *mut u8, written: usize, limit: usize, seed: u64) {
    for i in (0..written.min(32)).chain(written.saturating_sub(32)..written).filter(|&i| i < limit)
    {
        assert_eq!(unsafe { *p.add(i) }, seedbyte(seed, i), "byte {i} of {p:p}");
    }
}

fn stress<M: LinearMemory>(
    t: &mut Tiny<M>,
    seed: u64,
    ops: usize,
    check: impl Fn(&Tiny<M>),
    foreign: impl Fn(),
) {
    let mut rng = common::Rng::new(seed);
    let mut live: Vec<(*mut u8, usize, usize, u64)> = Vec::new();
    for op in 0..ops {
        let r = rng.range(0, 99);
        if r < 45 || live.is_empty() {
            let size = if rng.chance(5) { rng.range(0, 200_000) } else { rng.size(3000) };
            let align = if rng.chance(20) { 1 << rng.range(0, 16) } else { 1 << rng.range(0, 4) };
            if rng.chance(3) {
                foreign();
            }
            let p = t.malloc(l(size, align));
            if !p.is_null() {
                assert_eq!(p.addr() % align, 0);
                fill(p, size, op as u64);
                live.push((p, size, align, op as u64));
            }
        } else if r < 80 {
            let (p, size, _, s) = live.swap_remove(rng.range(0, live.len() - 1));
            verify(p, size, s);
            unsafe { t.free(p) };
        } else {
            let i = rng.range(0, live.len() - 1);
            let (p, size, align, s) = live[i];
            verify(p, size, s);
            let new = if rng.chance(50) { rng.range(0, size * 2 + 64) } else { rng.size(100_000) };
            if rng.chance(3) {
                foreign();
            }
            let q = unsafe { t.realloc(p, l(size, align), new) };
            if q.is_null() {
                assert!(new > size);
                verify(p, size, s);
            } else {
                assert_eq!(q.addr() % align, 0);
                verify_upto(q, size, new, s);
                fill(q, new, op as u64);
                live[i] = (q, new, align, op as u64);
            }
        }
        check(t);
        if op % 32 == 0 {
            let mut spans: Vec<(usize, usize)> =
                live.iter().map(|b| (b.0.addr(), b.0.addr() + b.1.max(1))).collect();
            spans.sort_unstable();
            for w in spans.windows(2) {
                assert!(w[0].1 <= w[1].0, "overlap {w:?}");
            }
        }
    }
    for (p, size, _, s) in live {
        verify(p, size, s);
        unsafe { t.free(p) };
    }
    check(t);
}
