//! Every power-of-two alignment from 8 bytes to 1 MiB: aligned, writable, reusable,
//! including alignments larger than a wasm page. A freed block's own layout is
//! served again without growing memory (also where its chunk is no bigger than
//! the request, with a local allocator), and in a fixed arena an aligned request
//! succeeds exactly when an aligned address with room lies in it.
#![cfg(target_arch = "wasm32")]

use std::alloc::Layout;
use std::ptr::NonNull;

use talcum::{ErrOnOom, Span, Talc};
use wasm_bindgen_test::wasm_bindgen_test;
use wasm_tests::{
    acme_of, assert_disjoint, assert_filled, assert_talcum_is_global, base_of, fill, local_talc,
    memory_bytes, memory_pages, must_malloc, Block, LocalTalc, XorShift64, MIB, WASM_PAGE,
};

const WORD: usize = core::mem::size_of::<usize>();

fn alignments() -> impl DoubleEndedIterator<Item = usize> {
    (3..=20).map(|shift| 1usize << shift)
}

/// Sizes around the alignment, where rounding mistakes show.
fn sizes_for(align: usize) -> [usize; 6] {
    [1, 7, align - 1, align, align + 1, 3 * align + 5]
}

#[wasm_bindgen_test]
fn each_alignment_alone() {
    assert_talcum_is_global();
    assert_eq!(alignments().count(), 18);
    // The global allocator: the block just freed still holds its own layout, so
    // asking for that layout again must be served without growing memory.
    for align in alignments() {
        for size in sizes_for(align) {
            // Block::new asserts alignment, fills every byte; drop checks and frees.
            let b = Block::new(size, align, align + size);
            assert!(b.range().end as u64 <= memory_bytes());
            drop(b);
            let before = memory_pages();
            let again = Block::new(size, align, size);
            assert_eq!(
                memory_pages(),
                before,
                "{size} bytes aligned {align}: asking again for a block just freed grew memory"
            );
            again.assert_intact();
        }
    }

    // A local allocator, where the freed block is the only free memory there is,
    // and its payload sits aligned with no padding below it: its chunk is only as
    // big as the request itself, below the bins where any chunk fits the
    // alignment. Growing memory instead of taking it is the defect this catches.
    let mut talc = local_talc();
    // The arena first, cut down to what it holds:
    // every later growth then starts a heap of its own at the end of memory.
    let first = must_malloc(&mut talc, Layout::new::<u64>(), 0);
    // SAFETY: the arena as it now is; its only block stays allocated.
    let arena = unsafe { talc.truncate(talc.get_arena(), Span::empty()) };
    assert!(arena.contains(first.as_ptr()));
    for align in alignments() {
        for size in sizes_for(align) {
            reuse_in_a_tight_heap(&mut talc, size, align);
        }
    }
    assert_eq!(talc.get_arena(), arena, "the arena changed");
    assert_filled(first, 8, 0);
}

/// One case of `each_alignment_alone` on `talc`, whose heaps hold no free memory.
fn reuse_in_a_tight_heap(talc: &mut LocalTalc, size: usize, align: usize) {
    let layout = Layout::from_size_align(size, align).unwrap();
    let tag = size * 7 + align;
    // Growth starts a heap at the end of memory, its first chunk a word past
    // it (chunks start a word past two words). A filler chunk from there
    // (two words a step, four at least) ends where the block's header goes
    // when its payload is aligned with no room below it.
    let base = memory_bytes() as usize;
    let first = base | WORD;
    let mut filler = (align - (first + WORD) % align) % align;
    while filler < 4 * WORD {
        filler += align.max(2 * WORD);
    }
    let f_layout = Layout::from_size_align(filler - WORD, WORD).unwrap();
    let f = must_malloc(talc, f_layout, tag + 1);
    let heap = wasm_tests::last_heap(talc, first);
    assert_eq!(base_of(heap), first, "setup: the filler did not start a heap at the end of memory");
    assert_eq!(f.as_ptr() as usize, first + WORD, "setup: the filler is not at the heap's base");
    let p = must_malloc(talc, layout, tag);
    let at = p.as_ptr() as usize;
    assert_eq!(
        at,
        first + filler + WORD,
        "setup: {size} B aligned {align} is not right above the filler"
    );
    // No free memory left anywhere but in the block, once it is freed.
    // SAFETY: the last heap as it now is.
    let heap = unsafe { talc.truncate(wasm_tests::last_heap(talc, first), Span::empty()) };
    // SAFETY: `heap` as just returned.
    assert_eq!(acme_of(unsafe { talc.get_allocated_span(heap) }), acme_of(heap) - WORD);
    // SAFETY: `p` is live with `layout`.
    unsafe { talc.free(p, layout) };
    let before = memory_pages();
    // SAFETY: the heaps are valid.
    let q = unsafe { talc.malloc(layout) }.unwrap_or_else(|()| {
        panic!("{size} B aligned {align}: the freed block's own layout failed")
    });
    assert_eq!(
        memory_pages(),
        before,
        "{size} B aligned {align}: memory grew although the block just freed at {at:#x} fits"
    );
    assert_eq!(q, p, "{size} B aligned {align}: not served from the only free block");
    // SAFETY: `q` is live, `size` bytes; then each block is freed once.
    unsafe {
        fill(q.as_ptr(), size, tag + 2);
        assert_filled(f, filler - WORD, tag + 1);
        assert_filled(q, size, tag + 2);
        talc.free(q, layout);
        talc.free(f, f_layout);
        // With feature `fast`, the front end holds the two blocks (other
        // heaps hold live ones) until it gives them back.
        #[cfg(feature = "fast")]
        talc.release_held();
        // Empty now, and not the arena: the heap goes (its pages stay grown).
        assert!(talc.truncate(heap, Span::empty()).is_empty(), "an empty heap was kept");
    }
}

#[wasm_bindgen_test]
fn alignments_fit_exactly_where_the_arena_has_room() {
    // A one-page arena that itself starts on a page boundary. The only address
    // in it aligned to a page or more is its base, below its first chunk:
    // those requests must fail (the handler adds nothing). Addresses aligned to
    // half a page or less lie above that with room for 24 bytes, more of
    // them the smaller the alignment: asked for from the largest alignment down
    // (each block takes at most one or two slots of a smaller alignment), every
    // such request must succeed.
    let arena_layout = Layout::from_size_align(WASM_PAGE, WASM_PAGE).unwrap();
    // SAFETY: a nonzero size; freed at the end, after the local allocator's last use.
    let mem = unsafe { std::alloc::alloc(arena_layout) };
    assert!(!mem.is_null());
    assert_eq!(mem as usize % WASM_PAGE, 0);
    let mut talc = Talc::new(ErrOnOom);
    // SAFETY: the page is ours until it is deallocated below.
    let heap = unsafe { talc.init(Span::from_base_size(mem, WASM_PAGE)) }.unwrap();
    let mut blocks: Vec<(NonNull<u8>, Layout)> = Vec::with_capacity(32);
    for shift in (0..=30).rev() {
        let align = 1usize << shift;
        let layout = Layout::from_size_align(24, align).unwrap();
        // SAFETY: the arena is valid.
        let r = unsafe { talc.malloc(layout) };
        if align < WASM_PAGE {
            let p = r.unwrap_or_else(|()| {
                panic!("24 B aligned {align} did not fit in a 64 KiB arena at {mem:p}")
            });
            assert_eq!(p.as_ptr() as usize % align, 0);
            assert!(heap.contains(p.as_ptr()) && heap.contains(p.as_ptr().wrapping_add(23)));
            // SAFETY: a fresh 24-byte block.
            unsafe { fill(p.as_ptr(), 24, shift) };
            blocks.push((p, layout));
        } else {
            assert!(
                r.is_err(),
                "24 B aligned {align} returned {r:?} from a 64 KiB arena at {mem:p}"
            );
        }
    }
    assert_eq!(blocks.len(), 16);
    for &(p, layout) in &blocks {
        assert_filled(p, 24, layout.align().trailing_zeros() as usize);
        // SAFETY: live, with its layout.
        unsafe { talc.free(p, layout) };
    }
    // All free again: the same boundary holds.
    // SAFETY: the arena is valid; the block is freed with its layout.
    unsafe {
        let half = Layout::from_size_align(24, WASM_PAGE / 2).unwrap();
        let p = talc.malloc(half).expect("24 B aligned 32 KiB in an empty 64 KiB arena");
        assert_eq!(p.as_ptr() as usize, mem as usize + WASM_PAGE / 2);
        assert!(talc.malloc(Layout::from_size_align(1, WASM_PAGE).unwrap()).is_err());
        talc.free(p, half);
        std::alloc::dealloc(mem, arena_layout);
    }
}

#[wasm_bindgen_test]
fn all_alignments_alive_together() {
    let mut blocks = Vec::new();
    for round in 0..3 {
        for align in alignments() {
            let size = if align >= 64 * 1024 { align / 2 + round } else { 3 * align + round };
            blocks.push(Block::new(size, align, blocks.len()));
            // A small unaligned neighbour between the aligned ones.
            blocks.push(Block::new(13 + round, 1, blocks.len()));
        }
    }
    let mut ranges: Vec<_> = blocks.iter().map(Block::range).collect();
    assert_disjoint(&mut ranges);
    for b in &blocks {
        b.assert_intact();
    }
    // Free every other one and reallocate with the alignments in reverse order.
    let mut keep = false;
    blocks.retain(|_| {
        keep = !keep;
        keep
    });
    for align in alignments().rev() {
        blocks.push(Block::new(align + 3, align, 1000 + align));
    }
    let mut ranges: Vec<_> = blocks.iter().map(Block::range).collect();
    assert_disjoint(&mut ranges);
}

#[wasm_bindgen_test]
fn big_alignments_do_not_waste_memory_without_bound() {
    // 200 allocations of 1 byte aligned to 1 MiB need ~200 MiB of address space at most
    // (plus slack); an allocator that grows a full extra alignment's worth per request on
    // top of that would still pass, but one that leaks the padding for good would not
    // survive the second pass without growing far beyond it.
    let start = memory_bytes();
    for pass in 0..2 {
        let blocks: Vec<Block> = (0..100).map(|i| Block::new(1 + i, MIB, pass * 100 + i)).collect();
        let mut ranges: Vec<_> = blocks.iter().map(Block::range).collect();
        assert_disjoint(&mut ranges);
    }
    let grown = memory_bytes() - start;
    assert!(
        grown <= 260 * MIB as u64,
        "two passes of 100 x 1 MiB-aligned bytes grew memory by {grown} bytes"
    );
}

#[wasm_bindgen_test]
fn random_alignments_and_sizes() {
    let mut rng = XorShift64::new(0xA11C);
    let mut blocks: Vec<Block> = Vec::new();
    for i in 0..3000 {
        if !blocks.is_empty() && rng.percent(45) {
            let k = rng.below(blocks.len());
            drop(blocks.swap_remove(k));
        } else {
            let shift = if rng.percent(90) { rng.below(13) } else { 13 + rng.below(8) };
            let align = 1usize << shift;
            let size = rng.between(1, 2 * align.min(64 * 1024) + 100);
            blocks.push(Block::new(size, align, i));
        }
    }
    let mut ranges: Vec<_> = blocks.iter().map(Block::range).collect();
    assert_disjoint(&mut ranges);
}
