//! Where blocks go, and how far a request looks: the free top of the last
//! heap is kept for when nothing else fits; a request looks at a few chunks
//! of its own bin before it takes a bigger chunk, and at no more before
//! the heap grows (or fails).

mod common;

use std::alloc::Layout;
use std::ptr::NonNull;

use common::sim::SimMemory;
use common::{Arena, MIRI};
use talcum::{ErrOnOom, Talc, WasmHandler, WASM_PAGE_SIZE as PAGE};

const WORD: usize = core::mem::size_of::<usize>();

fn layout(size: usize) -> Layout {
    Layout::from_size_align(size, 8).unwrap()
}

fn malloc(talc: &mut Talc<ErrOnOom>, size: usize) -> NonNull<u8> {
    // SAFETY: the arena outlives `talc`.
    unsafe { talc.malloc(layout(size)) }.expect("room in the arena")
}

fn free(talc: &mut Talc<ErrOnOom>, p: NonNull<u8>, size: usize) {
    // SAFETY: `p` is live with this layout.
    unsafe { talc.free(p, layout(size)) }
}

/// A small block goes into a hole below, not onto the free top, even when
/// the hole and the top are of a size class (both past the last bin's
/// bound) and the top was filed last.
#[test]
fn small_blocks_fill_holes_before_the_top() {
    let mut arena = Arena::new(8 << 20);
    let mut talc = Talc::new(ErrOnOom);
    // SAFETY: the arena outlives `talc`.
    unsafe { talc.init(arena.span()).unwrap() };
    let a = malloc(&mut talc, 2 << 20);
    let pin = malloc(&mut talc, 16);
    free(&mut talc, a, 2 << 20);
    // Too big for the hole: carved from the top, which is filed again.
    let x = malloc(&mut talc, 3 << 20);
    let small = malloc(&mut talc, 16);
    let hole = a.as_ptr().addr()..a.as_ptr().addr() + (2 << 20);
    assert!(hole.contains(&small.as_ptr().addr()), "a small block was carved from the top");
    free(&mut talc, small, 16);
    free(&mut talc, x, 3 << 20);
    free(&mut talc, pin, 16);
}

/// A block that grows step by step, with a small block pinned after each
/// step, in memory grown on demand (the real `WasmHandler` over a simulated
/// memory): the small blocks fill the holes the block leaves, and the free
/// top stays whole for the next step. (With small blocks carved from the
/// top, every hole stayed too small for the next step: on wasm32, 247 MiB
/// grown for 6 MiB live.)
#[test]
#[cfg_attr(miri, ignore = "thousands of steps, each checked")]
fn a_growing_block_with_pinned_blocks_reuses_its_old_places() {
    let (steps, step) = (3000, 1000);
    let sim = SimMemory::new(1024, 1);
    let mut talc = Talc::new(WasmHandler::with_memory(&sim));
    let l = |size| Layout::from_size_align(size, 8).unwrap();
    let mut pins = Vec::new();
    // SAFETY: the memory outlives `talc`; each block is freed once, with
    // its layout.
    unsafe {
        let mut block = talc.malloc(l(step)).unwrap();
        for i in 2..=steps {
            let next = talc.malloc(l(i * step)).expect("the memory is big enough");
            talc.free(block, l((i - 1) * step));
            block = next;
            pins.push(talc.malloc(l(16)).unwrap());
        }
        talc.free(block, l(steps * step));
        for p in pins {
            talc.free(p, l(16));
        }
    }
    // The peak holds the last two steps and the pins: about 6 MiB; before,
    // this grew past the simulated 64 MiB.
    let grown = sim.grown_pages.get() * PAGE;
    assert!(grown <= 12 << 20, "grew {} KiB for about 6 MiB live", grown >> 10);
    sim.check_foreign();
}

/// Sets up one bin holding `small` chunks too small for a 1200 B request
/// (1100 B) in front of one that fits (1250 B), each kept apart by a pin;
/// with `bigger`, also a free 4 KiB chunk in a higher bin. Fills the rest
/// of the arena, so the free top is too small for the request. Returns the
/// fitting chunk's block and, if any, the bigger one's.
fn deep_fit(
    talc: &mut Talc<ErrOnOom>,
    small: usize,
    bigger: bool,
) -> (NonNull<u8>, Option<NonNull<u8>>) {
    let deep = malloc(talc, 1250);
    malloc(talc, 16);
    let smalls: Vec<_> = (0..small)
        .map(|_| {
            let p = malloc(talc, 1100);
            malloc(talc, 16);
            p
        })
        .collect();
    let big = bigger.then(|| {
        let p = malloc(talc, 4096);
        malloc(talc, 16);
        p
    });
    // One block takes the whole free top (from its base, past the header,
    // to the sentinel, at the last chunk boundary a word or two below the
    // heap's acme), so that it cannot serve the request.
    let heap = talc.get_arena();
    // SAFETY: the arena is `talc`'s only heap, as last returned.
    let top = unsafe { talc.get_allocated_span(heap) }.acme().addr();
    let sentinel = (heap.acme().addr() & !(2 * WORD - 1)) - WORD;
    let rest = Layout::from_size_align(sentinel - (top + WORD), WORD).unwrap();
    // SAFETY: the arena outlives `talc`.
    unsafe { talc.malloc(rest) }.expect("the block fits the free top");
    // The fitting chunk first, so that it ends up behind the others (a bin
    // is a stack).
    free(talc, deep, 1250);
    for p in smalls {
        free(talc, p, 1100);
    }
    if let Some(p) = big {
        free(talc, p, 4096);
    }
    (deep, big)
}

/// The bound on the search: past a few chunks of its own bin that are too
/// small, a request takes the first chunk of a higher bin, where every
/// chunk fits, instead of walking on.
#[test]
fn a_request_looks_at_a_few_chunks_of_its_bin_then_takes_a_bigger_one() {
    let mut arena = Arena::new(64 << 10);
    let mut talc = Talc::new(ErrOnOom);
    // SAFETY: the arena outlives `talc`.
    unsafe { talc.init(arena.span()).unwrap() };
    let (deep, big) = deep_fit(&mut talc, 20, true);
    let p = malloc(&mut talc, 1200);
    assert_eq!(Some(p), big, "walked the bin past its first chunks");
    assert_ne!(p, deep);
}

/// The search looks at the first two chunks of a bin whose chunks may not
/// fit, never at every one: a fitting chunk among them is found; behind two
/// too-small ones it is not looked for, and the request goes to the OOM
/// handler (here it fails), as `Talc::malloc` promises: the work per request
/// stays bounded, also while memory grows.
#[test]
fn a_fitting_chunk_is_found_among_the_first_two_of_its_bin_only() {
    for (count, found) in [(0, true), (1, true), (2, false), (if MIRI { 12 } else { 30 }, false)] {
        let mut arena = Arena::new(64 << 10);
        let mut talc = Talc::new(ErrOnOom);
        // SAFETY: the arena outlives `talc`.
        unsafe { talc.init(arena.span()).unwrap() };
        let (deep, _) = deep_fit(&mut talc, count, false);
        #[cfg(feature = "checks")]
        assert!(!talc.surely_fits(layout(1200)), "no chunk surely fits");
        // SAFETY: the arena outlives `talc`.
        let got = unsafe { talc.malloc(layout(1200)) };
        if found {
            assert_eq!(got, Ok(deep), "behind {count} too-small chunks");
        } else {
            assert!(got.is_err(), "looked past a bin's first two chunks: behind {count}, found");
        }
    }
}
