//! Very large chunks: 16 MiB and more, sizes with bit 24 (and, natively on
//! 64-bit, bit 31) set. Only the first and last bytes are touched, so the
//! arenas' untouched pages are never materialised.

mod common;

use std::alloc::Layout;

use common::{Arena, MIRI};
use talcum::{ErrOnOom, Talc};

fn touch_ends(p: *mut u8, size: usize, value: u8) {
    // SAFETY: the block is live and `size` bytes long.
    unsafe {
        *p = value;
        *p.add(size - 1) = value.wrapping_add(1);
    }
}

fn check_ends(p: *mut u8, size: usize, value: u8) {
    // SAFETY: as above.
    unsafe {
        assert_eq!(*p, value);
        assert_eq!(*p.add(size - 1), value.wrapping_add(1));
    }
}

fn big_blocks(arena_bytes: usize, sizes: &[usize]) {
    let mut arena = Arena::new(arena_bytes);
    let mut talc = Talc::new(ErrOnOom);
    // SAFETY: the arena outlives `talc`.
    let heap = unsafe { talc.init(arena.span()).unwrap() };
    let mut live = Vec::new();
    for (i, &size) in sizes.iter().enumerate() {
        let layout = Layout::from_size_align(size, 16).unwrap();
        // SAFETY: the heap is valid.
        let p = unsafe { talc.malloc(layout) }.unwrap_or_else(|_| panic!("{size} B must fit"));
        assert!(heap.contains(p.as_ptr()) && heap.contains(p.as_ptr().wrapping_add(size - 1)));
        touch_ends(p.as_ptr(), size, i as u8);
        live.push((p, layout, i as u8));
    }
    for &(p, l, v) in &live {
        check_ends(p.as_ptr(), l.size(), v);
    }
    // Free every other block, then the rest: all merges back into one chunk.
    for &(p, l, _) in live.iter().step_by(2) {
        // SAFETY: live blocks.
        unsafe { talc.free(p, l) };
    }
    for &(p, l, v) in live.iter().skip(1).step_by(2) {
        check_ends(p.as_ptr(), l.size(), v);
        // SAFETY: live blocks.
        unsafe { talc.free(p, l) };
    }
    let all: usize = sizes.iter().sum();
    let layout = Layout::from_size_align(all, 16).unwrap();
    // SAFETY: the heap is valid and empty again.
    unsafe {
        let p = talc.malloc(layout).expect("freed blocks merge into one");
        touch_ends(p.as_ptr(), all, 9);
        talc.free(p, layout);
    }
}

#[test]
fn blocks_of_16_mib_and_more() {
    if MIRI {
        // Miri materialises every byte of the arena: keep it small.
        big_blocks(40 << 20, &[16 << 20, (1 << 24) + 1]);
        return;
    }
    big_blocks(
        120 << 20,
        &[16 << 20, 17 << 20, (1 << 24) + 1, (1 << 24) + (1 << 23) + 12345, 1 << 25, 1000],
    );
}

#[test]
#[cfg(all(target_pointer_width = "64", not(miri)))]
fn blocks_with_bit_31_set() {
    let big = (1usize << 31) + 4096 + 7;
    big_blocks((4usize << 30) + (64 << 20), &[big, 1 << 31, 100]);
}

#[test]
fn grow_a_huge_block_in_place() {
    let mut arena = Arena::new(if MIRI { 40 << 20 } else { 80 << 20 });
    let mut talc = Talc::new(ErrOnOom);
    // SAFETY: the arena outlives `talc`.
    unsafe { talc.init(arena.span()).unwrap() };
    let layout = Layout::from_size_align(1 << 20, 8).unwrap();
    // SAFETY: `p` is live with the layout in use at each step.
    unsafe {
        let p = talc.malloc(layout).unwrap();
        touch_ends(p.as_ptr(), 1 << 20, 3);
        let q = talc.grow_in_place(p, layout, (1 << 24) + 5).expect("room above");
        assert_eq!(p, q);
        assert_eq!(*p.as_ptr(), 3);
        let big = Layout::from_size_align((1 << 24) + 5, 8).unwrap();
        touch_ends(p.as_ptr(), big.size(), 4);
        talc.shrink(p, big, 64);
        assert_eq!(*p.as_ptr(), 4);
        talc.free(p, Layout::from_size_align(64, 8).unwrap());
    }
}
