//! Adversarial tests of feature `fast` (the front end of held blocks).
//!
//! A review's attack on the front end (issue 24). Tests marked `FAILED ON
//! 87bbc02` showed a defect of the commit under review: the in-place
//! growth into a held neighbour (`realloc` and `Allocator::grow`), the
//! small request that split the largest held block, and a block moved by
//! `Allocator::grow` that stayed held are fixed; the two marked `open` are
//! ignored with their reason (README, "The fast front end"). The others
//! pin behaviour that held up under attack.
#![cfg(feature = "fast")]

mod common;

use std::alloc::Layout;
use std::ptr::NonNull;

use common::sim::SimMemory;
use common::{Arena, Rng, MIRI};
use talcum::{ErrOnOom, Span, Talc, WasmHandler, WASM_PAGE_SIZE as PAGE};

const WORD: usize = core::mem::size_of::<usize>();
const GRAIN: usize = 2 * WORD;

fn l(size: usize, align: usize) -> Layout {
    Layout::from_size_align(size, align).unwrap()
}

/// The chunk size of a block of `size` bytes (as the crate computes it).
fn chunk(size: usize) -> usize {
    ((size + WORD + GRAIN - 1) & !(GRAIN - 1)).max(4 * WORD)
}

/// Bytes of the free top of `heap` (from its allocated span's end to its
/// acme, sentinel words included).
unsafe fn top_bytes<O: talcum::OomHandler>(talc: &Talc<O>, heap: Span) -> usize {
    heap.acme().addr() - unsafe { talc.get_allocated_span(heap) }.acme().addr()
}

/// Fills the free top of `heap` with one block; returns it and its layout.
unsafe fn fill_top<O: talcum::OomHandler>(talc: &mut Talc<O>, heap: Span) -> (NonNull<u8>, Layout) {
    // The sentinel takes the last word(s): the top chunk ends at
    // `(acme & !(GRAIN-1)) - WORD`.
    let base = unsafe { talc.get_allocated_span(heap) }.acme().addr();
    let sentinel = (heap.acme().addr() & !(GRAIN - 1)) - WORD;
    let layout = l(sentinel - base - WORD, 8);
    let p = unsafe { talc.malloc(layout) }.expect("the free top holds this");
    assert_eq!(unsafe { top_bytes(talc, heap) }, heap.acme().addr() - sentinel, "top not filled");
    (p, layout)
}

// ---------------------------------------------------------------------------
// Finding 1: a held block directly above a block stops `realloc` from
// growing in place; after the held block is given back, `realloc` never
// tries in place again.
// ---------------------------------------------------------------------------

/// FAILED ON 87bbc02. Memory is full: `[V 64 B][H 64 B][Z rest]`. `H` is
/// freed (held). `realloc(V, 128)` fits in place in `V + H` (what the
/// default build does: `H` is a free chunk there), but with `fast`,
/// `grow_in_place` fails (H is allocated for the core), no chunk fits,
/// `release_held_for` frees H (now a free chunk right above V), and the loop
/// goes on to the OOM handler without trying in place again: `ErrOnOom`
/// fails the call, although the core could serve it.
#[test]
fn realloc_grows_in_place_into_a_held_neighbour() {
    let mut arena = Arena::new(4 << 10);
    let mut talc = Talc::new(ErrOnOom);
    // SAFETY: the arena outlives `talc`; every block is freed once.
    unsafe {
        let heap = talc.init(arena.span()).unwrap();
        let v = talc.malloc(l(64, 8)).unwrap();
        v.as_ptr().write_bytes(0x5C, 64);
        let h = talc.malloc(l(64, 8)).unwrap();
        let (z, zl) = fill_top(&mut talc, heap);
        talc.free(h, l(64, 8)); // held: V and Z stay live
        let r = talc.realloc(v, l(64, 8), 128);
        assert!(
            r.is_ok(),
            "realloc of V into V + (held, then released) H failed with ErrOnOom; \
             the default build grows it in place"
        );
        let v = r.unwrap();
        assert!(std::slice::from_raw_parts(v.as_ptr(), 64).iter().all(|&b| b == 0x5C));
        talc.free(v, l(128, 8));
        talc.free(z, zl);
    }
}

/// FAILED ON 87bbc02. The same through `allocator_api2::Allocator::grow`
/// (TalckRef's `resize`: `grow_in_place`, else `malloc` + copy + `free`).
#[cfg(feature = "allocator-api2")]
#[test]
fn allocator_api2_grow_into_a_held_neighbour() {
    use allocator_api2::alloc::Allocator;
    let mut arena = Arena::new(4 << 10);
    let talck: talcum::Talck<spin::Mutex<()>, ErrOnOom> = Talc::new(ErrOnOom).lock();
    // SAFETY: the arena outlives `talck`; every block is freed once.
    unsafe {
        let heap = talck.lock().init(arena.span()).unwrap();
        let a = talck.allocator();
        let v = a.allocate(l(64, 8)).unwrap().cast::<u8>();
        let h = a.allocate(l(64, 8)).unwrap().cast::<u8>();
        let (z, zl) = fill_top(talck.lock().as_mut(), heap);
        a.deallocate(h, l(64, 8));
        let r = a.grow(v, l(64, 8), l(128, 8));
        assert!(r.is_ok(), "Allocator::grow failed although V + H (held) holds it in place");
        a.deallocate(r.unwrap().cast(), l(128, 8));
        a.deallocate(z, zl);
    }
}

/// FAILED ON 87bbc02. With WebAssembly's handler the same defect grows
/// memory: `[V 400 B][H 64 B][free top]`, and V grows to exactly what
/// `V + H + top` holds. The default build grows V in place with no
/// growth; with `fast`, H is held, no chunk fits, H is released (merging
/// with the top, still too small for the whole request), and the handler
/// is asked for what V lacks at the top: a page more.
#[test]
fn realloc_next_to_a_held_block_grows_memory() {
    let sim = SimMemory::new(8, 1);
    let mut talc: Talc<WasmHandler<&SimMemory>> = Talc::new(WasmHandler::with_memory(&sim));
    // SAFETY: the simulated memory outlives `talc`; every block freed once.
    unsafe {
        let keep = talc.malloc(l(8, 8)).unwrap();
        let heap = talc.get_arena();
        let v = talc.malloc(l(400, 8)).unwrap();
        let h = talc.malloc(l(64, 8)).unwrap();
        let heap = Span::new(heap.base(), talc.get_last_heap_acme());
        let (z, zl) = fill_top(&mut talc, heap);
        let z_chunk = chunk(zl.size());
        talc.free(h, l(64, 8)); // held
        talc.free(z, zl); // large: to the core, the free top again
        let pages = sim.pages();
        // Exactly V + H + top: fits in place, not in H + top.
        let new_size = chunk(400) + chunk(64) + z_chunk - WORD;
        let v2 = talc.realloc(v, l(400, 8), new_size).unwrap();
        assert_eq!(v2, v, "moved");
        assert_eq!(
            sim.pages(),
            pages,
            "memory grew although V + H + free top held the block in place"
        );
        talc.free(v2, l(new_size, 8));
        talc.free(keep, l(8, 8));
    }
}

// ---------------------------------------------------------------------------
// Finding 2: held blocks hide holes from the core, so requests of other
// sizes are cut from the free top; a later request that the untouched top
// would hold then grows memory (the front end costs memory, not only
// speed).
// ---------------------------------------------------------------------------

/// Runs the sequence; with `give_back`, every held block is given back
/// right after the frees (what the default build's frees amount to).
/// Returns the pages grown by the last request.
fn holes_then_other_sizes(give_back: bool) -> usize {
    let n = if MIRI { 40 } else { 1000 };
    let sim = SimMemory::new(64, 1);
    let mut talc: Talc<WasmHandler<&SimMemory>> = Talc::new(WasmHandler::with_memory(&sim));
    // SAFETY: the simulated memory outlives `talc`.
    unsafe {
        let mut holes = Vec::new();
        let mut keep = Vec::new();
        for _ in 0..n {
            holes.push(talc.malloc(l(64, 8)).unwrap());
            keep.push(talc.malloc(l(8, 8)).unwrap());
        }
        // A large free top: a big block, given back (to the core: too big
        // for the front end).
        let big = l(if MIRI { 16 << 10 } else { 4 * PAGE }, 8);
        let z = talc.malloc(big).unwrap();
        talc.free(z, big);
        for &p in &holes {
            talc.free(p, l(64, 8)); // 80 B chunks, between live blocks
        }
        if give_back {
            talc.release_held();
        }
        let heap = Span::new(talc.get_arena().base(), talc.get_last_heap_acme());
        let top = top_bytes(&talc, heap);
        // Blocks of another size: 64 B chunks, that fit the 80 B holes.
        for _ in 0..n {
            keep.push(talc.malloc(l(48, 8)).unwrap());
        }
        let pages = sim.pages();
        // A request that the top held before those blocks came.
        let p = talc.malloc(l(top - 64, 8)).unwrap();
        let grown = sim.pages() - pages;
        talc.free(p, l(top - 64, 8));
        grown
    }
}

/// FAILED ON 87bbc02. See `holes_then_other_sizes`: 1000 freed 64 B blocks
/// between live ones, then 1000 requests of 48 B. The default build puts
/// them in the holes; with `fast` the holes are held (exact class 80 B,
/// the requests are 64 B chunks), so they come from the top (64 KB of it),
/// and a request that the top held before grows memory by two pages.
#[test]
#[ignore = "open: held holes are invisible to other sizes until memory would grow, so the top is cut first"]
fn held_blocks_hide_holes_and_memory_grows() {
    assert_eq!(holes_then_other_sizes(true), 0, "control: holes given back, no growth");
    let grown = holes_then_other_sizes(false);
    assert_eq!(
        grown, 0,
        "with held holes, memory grew by {grown} pages where the default build grows none"
    );
}

// ---------------------------------------------------------------------------
// Finding 3: allocator_api2 `grow`/`shrink` that move free the old block
// through `free`, so it is held; `realloc` gives a moved block to the core
// at once (by design: it merges with the free memory around it).
// ---------------------------------------------------------------------------

/// FAILED ON 87bbc02 (lower severity: an inconsistency, memory is not lost).
/// `Talc::realloc` gives a moved block straight to the core; the same move
/// through `Allocator::grow` leaves the old buffer held, apart from the
/// free chunk below it, so a request that the merged chunk holds goes to
/// the top.
#[cfg(feature = "allocator-api2")]
#[test]
fn allocator_api2_moved_block_goes_to_the_core_like_realloc() {
    use allocator_api2::alloc::Allocator;
    for via_api2 in [false, true] {
        let mut arena = Arena::new(64 << 10);
        let talck: talcum::Talck<spin::Mutex<()>, ErrOnOom> = Talc::new(ErrOnOom).lock();
        // SAFETY: the arena outlives `talck`; every block is freed once.
        unsafe {
            talck.lock().init(arena.span()).unwrap();
            let a = talck.allocator();
            let keep = a.allocate(l(8, 8)).unwrap().cast::<u8>();
            let f = a.allocate(l(1024, 8)).unwrap().cast::<u8>();
            let v = a.allocate(l(64, 8)).unwrap().cast::<u8>();
            let k = a.allocate(l(8, 8)).unwrap().cast::<u8>();
            a.deallocate(f, l(1024, 8)); // too big to hold: a free chunk
            let moved = if via_api2 {
                a.grow(v, l(64, 8), l(2048, 8)).unwrap().cast::<u8>()
            } else {
                talck.lock().realloc(v, l(64, 8), 2048).unwrap()
            };
            assert_ne!(moved, v);
            // 1088 B chunk: more than F's 1040, within F + V's 1120.
            let p = a.allocate(l(1080, 8)).unwrap().cast::<u8>();
            assert_eq!(
                p,
                f,
                "via {}: the old buffer was not given back to the core",
                if via_api2 { "Allocator::grow" } else { "Talc::realloc" }
            );
            for (p, s) in [(p, 1080), (moved, 2048), (k, 8), (keep, 8)] {
                a.deallocate(p, l(s, 8));
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Held up: the live-block count through every path, moving a Talc, aligned
// requests over several heaps, a chunk a grain larger than its request,
// zeroed blocks, and a randomized model run.
// ---------------------------------------------------------------------------

/// Every allocation path, failed calls included; after the last free,
/// nothing is held (the heap is one free chunk), so the count was right.
#[test]
fn the_live_count_survives_every_path() {
    let mut arena = Arena::new(64 << 10);
    let mut talc = Talc::new(ErrOnOom);
    // SAFETY: the arena outlives `talc`; every block is freed once.
    unsafe {
        let heap = talc.init(arena.span()).unwrap();
        let mut live: Vec<(NonNull<u8>, Layout)> = Vec::new();
        // Failed requests count nothing.
        assert!(talc.malloc(l(1 << 30, 8)).is_err());
        assert!(talc.malloc_zeroed(l(1 << 30, 8)).is_err());
        assert!(talc.malloc(l(128 << 10, 64)).is_err());
        for i in 0..40 {
            let layout = l(i * 13 % 300, [1, 8, 16, 32, 64, 256][i % 6]);
            let p = if i % 3 == 0 { talc.malloc_zeroed(layout) } else { talc.malloc(layout) };
            live.push((p.unwrap(), layout));
        }
        // Free every other one (held), then realloc/grow/shrink the rest.
        let mut i = 0;
        live.retain(|&(p, layout)| {
            i += 1;
            if i % 2 == 0 {
                talc.free(p, layout);
                false
            } else {
                true
            }
        });
        for (n, (p, layout)) in live.iter_mut().enumerate() {
            let new_size = match n % 4 {
                0 => layout.size() * 3 + 40,
                1 => layout.size() / 2,
                2 => layout.size() + 1,
                _ => 0,
            };
            let resized = match n % 3 {
                0 => Some(talc.realloc(*p, *layout, new_size).unwrap()),
                1 if new_size >= layout.size() => Some(talc.grow(*p, *layout, new_size).unwrap()),
                1 => {
                    talc.shrink(*p, *layout, new_size);
                    Some(*p)
                }
                _ => talc.grow_in_place(*p, *layout, new_size).ok(),
            };
            let q = resized.unwrap_or(*p);
            if resized.is_some() {
                *layout = l(new_size, layout.align());
            }
            *p = q;
            // A failing realloc of this block changes nothing.
            assert!(talc.realloc(*p, *layout, 1 << 30).is_err());
        }
        assert!(!talc.get_allocated_span(heap).is_empty());
        for &(p, layout) in &live {
            talc.free(p, layout);
        }
        assert!(
            talc.get_allocated_span(heap).is_empty(),
            "blocks still held or counted live after the last free"
        );
    }
}

/// The same through `Talck`'s `GlobalAlloc` and `allocator_api2` paths,
/// alignment changes included.
#[cfg(feature = "allocator-api2")]
#[test]
fn the_live_count_survives_talck_paths() {
    use allocator_api2::alloc::Allocator;
    use std::alloc::GlobalAlloc;
    let mut arena = Arena::new(64 << 10);
    let talck: talcum::Talck<spin::Mutex<()>, ErrOnOom> = Talc::new(ErrOnOom).lock();
    // SAFETY: the arena outlives `talck`; every block is freed once.
    unsafe {
        let heap = talck.lock().init(arena.span()).unwrap();
        let a = talck.allocator();
        let mut blocks = Vec::new();
        for i in 0..30usize {
            let layout = l(i * 7 % 200, 8);
            let p = if i % 2 == 0 {
                a.allocate_zeroed(layout).unwrap().cast::<u8>()
            } else {
                NonNull::new(talck.alloc_zeroed(layout)).unwrap()
            };
            blocks.push((p, layout));
        }
        assert!(a.allocate(l(1 << 30, 8)).is_err());
        assert!(talck.alloc(l(1 << 30, 8)).is_null());
        for (n, (p, layout)) in blocks.iter_mut().enumerate() {
            let new = l(layout.size() * 2 + 8, [8, 64, 4][n % 3]);
            *p = if n % 2 == 0 {
                a.grow(*p, *layout, new).unwrap().cast()
            } else {
                let new = l(new.size(), layout.align());
                NonNull::new(talck.realloc(p.as_ptr(), *layout, new.size())).unwrap()
            };
            *layout = if n % 2 == 0 { new } else { l(new.size(), layout.align()) };
            if n % 4 == 0 {
                let small = l(layout.size() / 3, 1);
                *p = a.shrink(*p, *layout, small).unwrap().cast();
                *layout = small;
            }
        }
        for (n, &(p, layout)) in blocks.iter().enumerate() {
            if n % 2 == 0 {
                a.deallocate(p, layout);
            } else {
                talck.dealloc(p.as_ptr(), layout);
            }
        }
        assert!(talck.lock().get_allocated_span(heap).is_empty(), "held or live blocks left");
    }
}

/// A `Talc` with held blocks moved (boxed, then moved out and boxed again)
/// keeps serving them: its lists hold no pointer into itself.
#[test]
fn a_moved_talc_serves_its_held_blocks() {
    let mut arena = Arena::new(16 << 10);
    let mut talc = Box::new(Talc::new(ErrOnOom));
    // SAFETY: the arena outlives every `Talc`; every block is freed once.
    unsafe {
        talc.init(arena.span()).unwrap();
        let keep = talc.malloc(l(8, 8)).unwrap();
        let mut held = Vec::new();
        for _ in 0..20 {
            held.push(talc.malloc(l(40, 8)).unwrap());
        }
        let aligned: Vec<_> =
            held.iter().copied().filter(|p| p.as_ptr().addr() % 64 == 0).collect();
        for &p in &held {
            talc.free(p, l(40, 8));
        }
        let moved: Talc<ErrOnOom> = *talc;
        let mut talc = Box::new(moved);
        // The last held first; an aligned one among the first 16.
        assert_eq!(talc.malloc(l(40, 8)).unwrap(), held[19]);
        let a = talc.malloc(l(40, 64)).unwrap();
        assert!(aligned.contains(&a), "an aligned held block was not reused");
        talc.free(a, l(40, 64));
        talc.free(held[19], l(40, 8));
        talc.release_held();
        talc.free(keep, l(8, 8));
    }
}

/// A block whose chunk is a grain larger than its request (a shrink that
/// left too little to stand as a chunk) is held in its chunk's class: it
/// serves a request of that chunk size, zeroed in full, and not a smaller
/// one.
#[test]
fn a_chunk_a_grain_larger_serves_its_own_class_zeroed() {
    let mut arena = Arena::new(16 << 10);
    let mut talc = Talc::new(ErrOnOom);
    // SAFETY: the arena outlives `talc`; every block is freed once.
    unsafe {
        talc.init(arena.span()).unwrap();
        let keep = talc.malloc(l(8, 8)).unwrap();
        let p = talc.malloc(l(64 + GRAIN, 8)).unwrap();
        let guard = talc.malloc(l(8, 8)).unwrap();
        p.as_ptr().write_bytes(0xEE, 64 + GRAIN);
        talc.shrink(p, l(64 + GRAIN, 8), 64); // tail of a grain stays
        talc.free(p, l(64, 8));
        let q = talc.malloc(l(64, 8)).unwrap();
        assert_ne!(q, p, "a 64 B request got the one-grain-larger held chunk");
        let z = talc.malloc_zeroed(l(64 + GRAIN, 8)).unwrap();
        assert_eq!(z, p, "not served by the held block of its class");
        assert!(std::slice::from_raw_parts(z.as_ptr(), 64 + GRAIN).iter().all(|&b| b == 0));
        for (b, s) in [(q, 64), (z, 64 + GRAIN), (guard, 8), (keep, 8)] {
            talc.free(b, l(s, 8));
        }
    }
}

/// Aligned requests over held blocks of two heaps; with `checks`, every
/// step is verified, and a request that `surely_fits` promises succeeds.
#[test]
fn aligned_requests_over_two_heaps() {
    let mut arenas = [Arena::new(8 << 10), Arena::new(8 << 10)];
    let mut talc = Talc::new(ErrOnOom);
    let mut rng = Rng::new(7);
    // SAFETY: the arenas outlive `talc`; every block is freed once.
    unsafe {
        talc.init(arenas[0].span()).unwrap();
        talc.claim(arenas[1].span()).unwrap();
        let mut live: Vec<(NonNull<u8>, Layout)> = Vec::new();
        for _ in 0..if MIRI { 100 } else { 5000 } {
            if live.is_empty() || rng.chance(55) {
                let layout = l(rng.range(0, 600), 1 << rng.range(0, 8));
                #[cfg(feature = "checks")]
                let sure = talc.surely_fits(layout);
                let result = talc.malloc(layout);
                #[cfg(feature = "checks")]
                assert!(result.is_ok() || !sure, "{layout:?} surely fits but failed");
                if let Ok(p) = result {
                    assert_eq!(p.as_ptr().addr() % layout.align(), 0);
                    live.push((p, layout));
                }
            } else {
                let (p, layout) = live.swap_remove(rng.range(0, live.len() - 1));
                talc.free(p, layout);
            }
        }
        for (p, layout) in live {
            talc.free(p, layout);
        }
        assert!(talc.get_allocated_span(talc.get_arena()).is_empty());
    }
}

/// Random small blocks over WebAssembly's handler: blocks are filled with
/// junk, zeroed requests must read zero (held blocks, released ones merged
/// into the fresh top, blocks moved by realloc).
#[test]
fn zeroed_requests_over_held_and_released_blocks() {
    let sim = SimMemory::new(if MIRI { 4 } else { 32 }, 1);
    let mut talc: Talc<WasmHandler<&SimMemory>> = Talc::new(WasmHandler::with_memory(&sim));
    let mut rng = Rng::new(11);
    // SAFETY: the simulated memory outlives `talc`; every block freed once.
    unsafe {
        let mut live: Vec<(NonNull<u8>, Layout)> = Vec::new();
        for step in 0..if MIRI { 100 } else { 20000 } {
            let r = rng.range(0, 99);
            if live.is_empty() || r < 45 {
                let size = if rng.chance(5) { rng.range(600, 5000) } else { rng.range(0, 520) };
                let layout = l(size, [1, 8, 16, 32][rng.range(0, 3)]);
                let p = talc.malloc_zeroed(layout).unwrap();
                let bytes = std::slice::from_raw_parts(p.as_ptr(), size);
                assert!(bytes.iter().all(|&b| b == 0), "step {step}: {layout:?} not zero");
                p.as_ptr().write_bytes(0xA5, size);
                live.push((p, layout));
            } else if r < 60 {
                let i = rng.range(0, live.len() - 1);
                let (p, layout) = live[i];
                let new = rng.range(0, 700);
                let q = talc.realloc(p, layout, new).unwrap();
                q.as_ptr().write_bytes(0xA5, new);
                live[i] = (q, l(new, layout.align()));
            } else {
                let (p, layout) = live.swap_remove(rng.range(0, live.len() - 1));
                talc.free(p, layout);
            }
        }
        for (p, layout) in live {
            talc.free(p, layout);
        }
    }
}

// ---------------------------------------------------------------------------
// Finding 4: giving held blocks back reverses their order in the core's
// bins (largest class first, each filed at its bin's head), and the search
// looks at two chunks per bin: a chunk that the default build finds first
// (the most recently freed) ends up behind the others.
// ---------------------------------------------------------------------------

/// FAILED ON 87bbc02. Memory full but for three freed blocks, each between
/// live ones: two 272 B chunks whose payloads are not 64-aligned (they
/// cannot hold 248 B aligned to 64) and, freed last, a 304 B chunk that
/// can (same bin: 16..19 grains). The default build files the 304 B chunk
/// at its bin's head and serves `l(248, 64)` from it. With `fast`, all
/// three are held; `release_held_for` gives the 304 B one back first (it
/// is under the "surely fits" bound, so the release goes on) and the two
/// others after it, in front of it; the search looks at the two and fails
/// with `ErrOnOom`.
#[test]
#[ignore = "open: blocks given back are filed in front of each other, and the search looks at two per bin"]
fn given_back_blocks_are_filed_in_reverse_and_a_fit_is_missed() {
    if WORD != 8 {
        return; // the sizes below are worked out for 64-bit targets
    }
    let mut arena = Arena::new(32 << 10);
    let mut talc = Talc::new(ErrOnOom);
    // SAFETY: the arena outlives `talc`; every block is freed once.
    unsafe {
        let heap = talc.init(arena.span()).unwrap();
        let mut live: Vec<(NonNull<u8>, Layout)> = Vec::new();
        let (a_l, b_l, sep) = (l(264, 8), l(296, 8), l(8, 8));
        let mut a_pick = Vec::new();
        let mut b_pick = None;
        for _ in 0..8 {
            let a = talc.malloc(a_l).unwrap();
            live.push((talc.malloc(sep).unwrap(), sep));
            if a.as_ptr().addr() % 64 != 0 && a_pick.len() < 2 {
                a_pick.push(a);
            } else {
                live.push((a, a_l));
            }
        }
        for _ in 0..8 {
            let b = talc.malloc(b_l).unwrap();
            live.push((talc.malloc(sep).unwrap(), sep));
            if b.as_ptr().addr() % 64 != 48 && b_pick.is_none() {
                b_pick = Some(b);
            } else {
                live.push((b, b_l));
            }
        }
        assert_eq!(a_pick.len(), 2);
        let b = b_pick.unwrap();
        live.push(fill_top(&mut talc, heap));
        for &a in &a_pick {
            talc.free(a, a_l);
        }
        talc.free(b, b_l);
        let want = l(248, 64);
        let p = talc.malloc(want);
        assert!(
            p.is_ok(),
            "{want:?} failed; the default build serves it from the last freed chunk"
        );
        live.push((p.unwrap(), want));
        for (p, layout) in live {
            talc.free(p, layout);
        }
    }
}

// ---------------------------------------------------------------------------
// Finding 5: before failing, `release_held_for` gives back the largest
// held block first and stops as soon as one holds the request: a small
// request splits a large held block although a small one fits, and the
// large request that comes next fails (the default build serves both).
// ---------------------------------------------------------------------------

/// FAILED ON 87bbc02. Memory full: `[keep][P 520 B][sep][Q 40 B][sep][rest]`;
/// P (528 B chunk) and Q (48 B chunk) are freed. With the default build,
/// `l(24)` takes Q whole (the smallest fit) and `l(520)` then takes P.
/// With `fast` both are held; `l(24)` (a 32 B chunk, no held block of its
/// class) makes `release_held_for` give back P first (it holds 32 B:
/// stop), the request splits P, Q stays held, and `l(520)` fails with
/// `ErrOnOom`.
#[test]
fn a_small_request_splits_the_largest_held_block() {
    let mut arena = Arena::new(8 << 10);
    let mut talc = Talc::new(ErrOnOom);
    // SAFETY: the arena outlives `talc`; every block is freed once.
    unsafe {
        let heap = talc.init(arena.span()).unwrap();
        let sep = l(8, 8);
        let keep = talc.malloc(sep).unwrap();
        let p = talc.malloc(l(520, 8)).unwrap();
        let s1 = talc.malloc(sep).unwrap();
        let q = talc.malloc(l(40, 8)).unwrap();
        let s2 = talc.malloc(sep).unwrap();
        let (z, zl) = fill_top(&mut talc, heap);
        talc.free(p, l(520, 8));
        talc.free(q, l(40, 8));
        let small = talc.malloc(l(24, 8)).expect("P or Q holds it");
        let big = talc.malloc(l(520, 8));
        assert!(
            big.is_ok(),
            "l(520) failed: the small request split P (given back first) although Q fits it; \
             the default build serves both"
        );
        for (b, layout) in [(big.unwrap(), l(520, 8)), (small, l(24, 8)), (z, zl)] {
            talc.free(b, layout);
        }
        for b in [s1, s2, keep] {
            talc.free(b, sep);
        }
    }
}
