//! Bad input gets a defined answer: `Err`/null, never a wrap, trap or
//! corrupted heap.

mod common;

use std::alloc::{GlobalAlloc, Layout};

use common::{Arena, Model, MIRI};
use talcum::{ErrOnOom, Span, Talc, Talck};

const W: usize = std::mem::size_of::<usize>();

fn talc_over(arena: &mut Arena) -> Talc<ErrOnOom> {
    let mut talc = Talc::new(ErrOnOom);
    // SAFETY: the arena outlives the returned `Talc` in every test.
    unsafe { talc.init(arena.span()).unwrap() };
    talc
}

#[test]
fn sizes_near_the_top_of_usize_fail_cleanly() {
    let mut arena = Arena::new(64 << 10);
    let mut talc = talc_over(&mut arena);
    for shift in 0..=20 {
        let align = 1usize << shift;
        for size in [
            isize::MAX as usize - align + 1,
            isize::MAX as usize / 2,
            usize::MAX / 4,
            1 << (usize::BITS - 2),
        ] {
            let Ok(layout) = Layout::from_size_align(size, align) else { continue };
            // SAFETY: the heap is valid.
            assert!(unsafe { talc.malloc(layout) }.is_err(), "{layout:?} must fail");
        }
    }
    // The heap is intact: a normal allocation still works.
    let layout = Layout::from_size_align(100, 8).unwrap();
    // SAFETY: the heap is valid; the block is freed with its layout.
    unsafe {
        let p = talc.malloc(layout).unwrap();
        talc.free(p, layout);
    }
}

#[test]
fn huge_resizes_fail_and_keep_the_block() {
    let mut arena = Arena::new(64 << 10);
    let mut talc = talc_over(&mut arena);
    let mut model = Model::default();
    let layout = Layout::from_size_align(40, 8).unwrap();
    // SAFETY: the heap is valid.
    let p = unsafe { talc.malloc(layout).unwrap() };
    model.insert(p, layout);
    // The first is the largest valid size at this alignment; the next two
    // make no valid layout.
    for new_size in [
        isize::MAX as usize - 7,
        isize::MAX as usize - 6,
        isize::MAX as usize + 1,
        usize::MAX - 100,
        usize::MAX,
    ] {
        // SAFETY: `p` is live with `layout`; the new sizes are larger.
        unsafe {
            assert!(talc.grow_in_place(p, layout, new_size).is_err());
            assert!(talc.grow(p, layout, new_size).is_err());
            assert!(talc.realloc(p, layout, new_size).is_err());
        }
        common::verify(&model.blocks[&(p.as_ptr() as usize)], 40);
    }
    common::free_all(&mut talc, &mut model);
}

#[test]
fn global_alloc_returns_null_for_impossible_requests() {
    static mut ARENA: [u64; 8192] = [0; 8192];
    let talck: Talck<spin::Mutex<()>, ErrOnOom> = Talc::new(ErrOnOom).lock();
    // SAFETY: ARENA is used by this test only.
    unsafe { talck.lock().init(Span::from_base_size((&raw mut ARENA).cast(), 8192 * 8)).unwrap() };
    let huge = Layout::from_size_align(isize::MAX as usize - 63, 64).unwrap();
    // SAFETY: nonzero sizes; the block is freed with its layout.
    unsafe {
        assert!(talck.alloc(huge).is_null());
        assert!(talck.alloc_zeroed(huge).is_null());
        let small = Layout::from_size_align(16, 8).unwrap();
        let p = talck.alloc(small);
        assert!(!p.is_null());
        p.write_bytes(0xAB, 16);
        assert!(talck.realloc(p, small, isize::MAX as usize - 64).is_null());
        assert_eq!(*p.add(15), 0xAB, "a failed realloc keeps the block");
        talck.dealloc(p, small);
    }
}

#[test]
fn large_alignments_work_or_fail_cleanly() {
    let mut arena = Arena::new(if MIRI { 3 << 20 } else { 8 << 20 });
    let mut talc = talc_over(&mut arena);
    let heap = talc.get_arena();
    let mut model = Model::default();
    for shift in 0..=20 {
        let layout = Layout::from_size_align(24, 1 << shift).unwrap();
        // SAFETY: the heap is valid.
        let p =
            unsafe { talc.malloc(layout) }.unwrap_or_else(|_| panic!("align 2^{shift} must fit"));
        assert!(heap.contains(p.as_ptr()));
        model.insert(p, layout);
    }
    // Alignments near or beyond the heap's size: they succeed only where an
    // aligned address lies in the heap, and (with `checks`) only when a
    // free chunk holds one with room, and surely when one surely does.
    for shift in [22, 24, 30, usize::BITS - 2] {
        let layout = Layout::from_size_align(1, 1 << shift).unwrap();
        let aligned = (heap.base().addr() + 1).next_multiple_of(layout.align());
        let in_heap = aligned < heap.acme().addr();
        #[cfg(feature = "checks")]
        let (fits, surely) = (common::fits(&talc, layout), common::surely_fits(&talc, layout));
        // SAFETY: the heap is valid.
        let result = unsafe { talc.malloc(layout) };
        #[cfg(feature = "checks")]
        assert!(
            (result.is_ok() || !surely) && (result.is_err() || fits),
            "align 2^{shift}: {result:?}, fits {fits}, surely {surely}"
        );
        if let Ok(p) = result {
            assert!(in_heap && heap.contains(p.as_ptr()));
            model.insert(p, layout);
        }
    }
    common::free_all(&mut talc, &mut model);
}

#[test]
fn zero_size_via_the_raw_api_gets_unique_pointers() {
    let mut arena = Arena::new(16 << 10);
    let mut talc = talc_over(&mut arena);
    let mut model = Model::default();
    for align in [1, 8, 64] {
        let layout = Layout::from_size_align(0, align).unwrap();
        for _ in 0..10 {
            // SAFETY: the heap is valid.
            let p = unsafe { talc.malloc(layout).unwrap() };
            model.insert(p, layout);
        }
    }
    assert_eq!(model.len(), 30);
    common::free_all(&mut talc, &mut model);
}

#[test]
fn arenas_too_small_for_a_chunk_are_refused() {
    let mut arena = Arena::new(4096);
    let span = arena.span();
    // From a base aligned to two words (the buffer is word aligned only):
    // a heap starts a word past it, and needs a free chunk of four words
    // and the sentinel.
    let base = span.base().wrapping_add(span.base().addr().wrapping_neg() & (2 * W - 1));
    for size in [0, 1, W, 4 * W, 5 * W, 6 * W - 1] {
        let mut talc = Talc::new(ErrOnOom);
        // SAFETY: the arena outlives `talc`.
        let r = unsafe { talc.init(Span::from_base_size(base, size)) };
        assert!(r.is_err(), "an arena of {size} bytes cannot hold a chunk");
        assert!(talc.get_arena().is_empty());
        // SAFETY: no heap: fails cleanly.
        assert!(unsafe { talc.malloc(Layout::new::<u8>()) }.is_err());
    }
    // Just big enough: one minimal allocation fits.
    let mut talc = Talc::new(ErrOnOom);
    // SAFETY: as above.
    let heap = unsafe { talc.init(Span::from_base_size(base, 6 * W)) }.unwrap();
    let layout = Layout::from_size_align(2 * W, W).unwrap();
    // SAFETY: the heap is valid.
    unsafe {
        let p = talc.malloc(layout).unwrap();
        assert!(heap.contains(p.as_ptr()));
        talc.free(p, layout);
    }
    // A second heap needs as much.
    // SAFETY: a distinct part of the arena.
    unsafe {
        let rest = Span::new(base.wrapping_add(2048), span.acme());
        assert!(talc.claim(Span::from_base_size(rest.base(), 6 * W - 1)).is_err());
        assert!(talc.claim(Span::from_base_size(rest.base(), 6 * W)).is_ok());
    }
}

#[test]
fn arenas_at_address_zero_are_lifted_off_it() {
    // A span starting at address 0 is lifted to start one word up; a small
    // one is then too small and refused without any memory being touched.
    let zero = std::ptr::null_mut::<u8>();
    let mut talc = Talc::new(ErrOnOom);
    // SAFETY: too small: nothing is written.
    assert!(unsafe { talc.init(Span::new(zero, zero.wrapping_add(2 * W))) }.is_err());
    // SAFETY: as above.
    assert!(unsafe { talc.claim(Span::new(zero, zero.wrapping_add(4 * W))) }.is_err());
}

#[test]
fn unaligned_arena_ends_are_trimmed() {
    let mut arena = Arena::new(8192);
    let span = arena.span();
    let odd = Span::new(span.base().wrapping_add(3), span.acme().wrapping_sub(5));
    let mut talc = Talc::new(ErrOnOom);
    // SAFETY: inside the arena, which outlives `talc`.
    let heap = unsafe { talc.init(odd) }.unwrap();
    assert_eq!(heap.base() as usize % W, 0);
    assert_eq!(heap.acme() as usize % W, 0);
    assert!(odd.contains_span(heap));
    assert!(heap.size() >= odd.size() - 2 * W);
    let mut model = Model::default();
    let layout = Layout::from_size_align(100, 1).unwrap();
    // SAFETY: the heap is valid.
    while let Ok(p) = unsafe { talc.malloc(layout) } {
        assert!(heap.contains(p.as_ptr()) && heap.contains(p.as_ptr().wrapping_add(99)));
        model.insert(p, layout);
    }
    assert!(model.len() > 50);
    common::free_all(&mut talc, &mut model);
}

#[test]
#[cfg(feature = "checks")]
#[should_panic(expected = "double free")]
fn double_free_is_caught_under_checks() {
    let mut arena = Arena::new(8192);
    let mut talc = talc_over(&mut arena);
    let layout = Layout::from_size_align(64, 8).unwrap();
    // SAFETY: the second free is the bug under test; `checks` catches it
    // before touching memory.
    unsafe {
        let p = talc.malloc(layout).unwrap();
        talc.free(p, layout);
        talc.free(p, layout);
    }
}

#[test]
#[cfg(feature = "checks")]
#[should_panic(expected = "outside every heap")]
fn foreign_pointer_is_caught_under_checks() {
    let mut arena = Arena::new(8192);
    let mut talc = talc_over(&mut arena);
    let mut other = [0u64; 8];
    let p = std::ptr::NonNull::new(other.as_mut_ptr().wrapping_add(2).cast::<u8>()).unwrap();
    // SAFETY: the bug under test; `checks` catches it before any write.
    unsafe { talc.free(p, Layout::new::<u64>()) };
}

#[test]
#[cfg(feature = "checks")]
#[should_panic(expected = "not the start of an allocation")]
fn interior_pointer_is_caught_under_checks() {
    let mut arena = Arena::new(8192);
    let mut talc = talc_over(&mut arena);
    let layout = Layout::from_size_align(64, 8).unwrap();
    // SAFETY: the bug under test; `checks` catches it before any write.
    unsafe {
        let p = talc.malloc(layout).unwrap();
        talc.free(std::ptr::NonNull::new_unchecked(p.as_ptr().add(16)), layout);
    }
}
