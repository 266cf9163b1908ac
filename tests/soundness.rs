//! Regression tests for the defects an adversarial review confirmed in
//! 0.1 (f0bd81f): each failed there and passes now. (The stale handler
//! state is tested in `wasm_handler.rs`, the `checks` hang in
//! `checks_global_*.rs`, safe-code misuse by `compile_fail` doctests.)

mod common;

use std::alloc::Layout;

use common::{Arena, Model, MIRI};
use talcum::{ErrOnOom, Span, Talc};

const WORD: usize = core::mem::size_of::<usize>();

fn layout(size: usize, align: usize) -> Layout {
    Layout::from_size_align(size, align).unwrap()
}

/// Fills `talc` with blocks of `l` until it fails; returns them by address.
fn fill(talc: &mut Talc<ErrOnOom>, model: &mut Model, l: Layout) {
    // SAFETY: the heap is valid.
    while let Ok(p) = unsafe { talc.malloc(l) } {
        model.insert(p, l);
    }
}

/// Defect 1: an aligned request skipped a free chunk that fits it, because
/// the search started at the bin where every chunk fits.
#[test]
fn an_aligned_request_takes_a_free_chunk_that_fits() {
    let mut arena = Arena::new(if MIRI { 3 << 10 } else { 16 << 10 });
    let mut talc = Talc::new(ErrOnOom);
    // SAFETY: the arena outlives `talc`.
    unsafe { talc.init(arena.span()).unwrap() };
    let mut model = Model::default();
    let l = layout(24, 16);
    fill(&mut talc, &mut model, l);
    assert!(model.len() > 40);
    // Free one block in the middle: its chunk is the only free one that
    // fits, and it fits exactly.
    let addrs = model.addrs();
    let b = model.remove(addrs[addrs.len() / 2]);
    // SAFETY: live, with its layout.
    unsafe { talc.free(b.ptr, b.layout) };
    // SAFETY: the heap is valid.
    let p = unsafe { talc.malloc(l) }.expect("the freed chunk fits the same layout");
    assert_eq!(p, b.ptr);
    model.insert(p, l);
    common::free_all(&mut talc, &mut model);
}

/// Defect 1, the other way in: a four-word chunk whose payload happens to
/// be 16-aligned serves a 16-aligned request, as it serves an 8-aligned one.
#[test]
fn a_small_chunk_whose_payload_is_aligned_serves_an_aligned_request() {
    let mut arena = Arena::new(if MIRI { 3 << 10 } else { 16 << 10 });
    let span = arena.span();
    let mut talc = Talc::new(ErrOnOom);
    let word_aligned = layout(24, WORD);
    // Four-word chunks tile the arena, so their payloads are all alike mod
    // 16: shift the arena a word if they would not be 16-aligned.
    // SAFETY: the arena outlives `talc`; a second `init` forgets the first.
    unsafe {
        talc.init(span).unwrap();
        let p = talc.malloc(word_aligned).unwrap();
        if p.as_ptr().addr() % 16 != 0 {
            talc.init(Span::new(span.base().wrapping_add(WORD), span.acme())).unwrap();
        }
    }
    let mut model = Model::default();
    fill(&mut talc, &mut model, word_aligned);
    let addrs = model.addrs();
    let at = addrs[1..addrs.len() - 1].iter().copied().find(|a| a % 16 == 0).unwrap();
    let b = model.remove(at);
    // SAFETY: live, with its layout.
    unsafe { talc.free(b.ptr, b.layout) };
    // SAFETY: the heap is valid.
    let p = unsafe { talc.malloc(layout(24, 16)) }.expect("a free chunk fits");
    assert_eq!(p, b.ptr);
    model.insert(p, layout(24, 16));
    common::free_all(&mut talc, &mut model);
}

/// Defect 2: a span at the top of the address space rounded its base up to
/// address 0, and `claim` built a heap there.
#[test]
fn memory_at_the_top_of_the_address_space_is_refused_untouched() {
    for (base, acme) in [
        (usize::MAX - 2, usize::MAX),
        (usize::MAX - WORD + 2, usize::MAX),
        (usize::MAX - 20, usize::MAX),
        (usize::MAX - 1, usize::MAX - 1),
    ] {
        // No provenance: any access through these pointers is undefined
        // behaviour (and a crash natively), so the calls must not touch them.
        let span = Span::new(
            std::ptr::without_provenance_mut(base),
            std::ptr::without_provenance_mut(acme),
        );
        let mut talc = Talc::new(ErrOnOom);
        // SAFETY: claims and inits of memory too small to use touch nothing.
        unsafe {
            assert!(talc.claim(span).is_err(), "{span:?}");
            assert!(talc.init(span).is_err(), "{span:?}");
        }
        assert!(talc.get_arena().is_empty());
    }
    // A null-based span is lifted off address 0, so it can never be taken
    // for the continuation of a heap whose (null) top it equals.
    let mut talc = Talc::new(ErrOnOom);
    let null = Span::new(std::ptr::null_mut(), std::ptr::without_provenance_mut(2 * WORD));
    // SAFETY: as above: too small, refused untouched.
    assert!(unsafe { talc.claim(null) }.is_err());
}

/// Defect 3: `extend` wrote the new memory through the old heap's
/// provenance. Under Miri (Stacked and Tree Borrows) the sentinel write was
/// undefined behaviour; natively this only runs the path.
#[test]
fn extend_uses_the_provenance_of_the_span_it_is_given() {
    // 32 KiB on every target (a `u64` buffer: word aligned on both).
    let mut buffer = vec![0u64; 4096];
    let whole: *mut [u64] = buffer.as_mut_slice();
    let base = whole.cast::<u8>();
    // The first KiB, through a pointer whose provenance covers only it.
    // SAFETY: in bounds.
    let first = unsafe { std::slice::from_raw_parts_mut(base, 1024) };
    let mut talc = Talc::new(ErrOnOom);
    // SAFETY: the buffer outlives `talc` and serves nothing else.
    let heap = unsafe { talc.init(Span::from(first)) }.unwrap();
    let mut model = Model::default();
    fill(&mut talc, &mut model, layout(40, 8));
    // Now the whole buffer, through a pointer with provenance over all of it.
    let wide = Span::from_slice_ptr(std::ptr::slice_from_raw_parts_mut(base, 4096 * 8));
    // SAFETY: the memory above the heap is unused and handed over.
    let heap = unsafe { talc.extend(heap, wide) };
    assert_eq!(heap.acme(), wide.acme());
    let big = layout(16 << 10, 8);
    // SAFETY: the heap is valid.
    let p = unsafe { talc.malloc(big) }.expect("the extension serves a big block");
    model.insert(p, big);
    common::free_all(&mut talc, &mut model);
    // Everything merged: one block of all the allocatable space fits.
    let all = layout(talc.get_allocatable_span().size() - WORD, WORD);
    // SAFETY: the heap is valid; freed at once.
    unsafe {
        let p = talc.malloc(all).unwrap();
        talc.free(p, all);
    }
    drop(buffer);
}

/// The OOM handler's documented bound: a free chunk of the block's chunk
/// size (its size and a header word, rounded up to two words, at least
/// four words), plus the alignment and two words for an alignment past two
/// words, always fits.
#[test]
fn the_documented_chunk_bound_fits_every_layout() {
    let cases: &[(usize, usize)] = if MIRI {
        &[(1, 1), (24, 16), (100, 64)]
    } else {
        &[(0, 1), (1, 1), (8, 8), (17, 1), (24, 16), (100, 64), (1, 4096)]
    };
    for &(size, align) in cases {
        let l = layout(size, align);
        let grain = 2 * WORD;
        let pad = if l.align() > grain { l.align() + grain } else { 0 };
        let bound = (l.size() + WORD).next_multiple_of(grain).max(4 * WORD) + pad;
        // The worst base for alignment: every place a chunk can start (a
        // word past two), against the alignment.
        for skew in (0..align.max(grain)).step_by(grain) {
            let mut arena = Arena::new(if MIRI { 4 << 10 } else { 16 << 10 });
            let mut talc = Talc::new(ErrOnOom);
            let span = arena.span();
            // SAFETY: the arena outlives `talc`.
            unsafe { talc.init(span).unwrap() };
            // Carve everything but one chunk of `bound` bytes at `skew`.
            let free = talc.get_allocatable_span();
            let first = (free.base().addr() + 256).next_multiple_of(align.max(grain)) + WORD + skew;
            let below = layout(first - free.base().addr() - WORD, WORD);
            // SAFETY: the heap is valid.
            let a = unsafe { talc.malloc(below) }.unwrap();
            let above_size = free.acme().addr() - first - bound - WORD;
            // SAFETY: the heap is valid.
            let c = unsafe { talc.malloc(layout(bound - WORD, WORD)) }.unwrap();
            // SAFETY: the heap is valid.
            let d = unsafe { talc.malloc(layout(above_size, WORD)) }.unwrap();
            // SAFETY: live, with its layout.
            unsafe { talc.free(c, layout(bound - WORD, WORD)) };
            // SAFETY: the heap is valid.
            let p = unsafe { talc.malloc(l) }.unwrap_or_else(|()| panic!("{l:?} at skew {skew}"));
            // SAFETY: live blocks with their layouts.
            unsafe {
                talc.free(p, l);
                talc.free(a, below);
                talc.free(d, layout(above_size, WORD));
            }
        }
    }
}
