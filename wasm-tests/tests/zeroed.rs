//! `alloc_zeroed` on real `memory.grow`: the global allocator (talcum) skips
//! clearing memory fresh from `memory.grow`, so every zeroed block must read
//! zero however its memory was used before: reused, merged with dirty
//! neighbours, fresh, or straddling used and fresh memory.
#![cfg(target_arch = "wasm32")]

use std::alloc::{alloc, alloc_zeroed, dealloc, Layout};

use wasm_bindgen_test::wasm_bindgen_test;
use wasm_tests::{assert_talcum_is_global, MIB};

/// Allocates `size` zeroed bytes, checks every one, then dirties them.
fn zeroed_block(size: usize, align: usize) -> (*mut u8, Layout) {
    let layout = Layout::from_size_align(size, align).unwrap();
    // SAFETY: a valid, non-zero layout; the block is ours, `size` bytes.
    unsafe {
        let p = alloc_zeroed(layout);
        assert!(!p.is_null(), "alloc_zeroed({size}, {align}) returned null");
        let bytes = std::slice::from_raw_parts(p, size);
        if let Some(i) = bytes.iter().position(|&b| b != 0) {
            panic!("byte {i} of a zeroed block of {size} B (align {align}) is {:#x}", bytes[i]);
        }
        p.write_bytes(0xD7, size);
        (p, layout)
    }
}

#[wasm_bindgen_test]
fn zeroed_blocks_read_zero_after_any_use_of_their_memory() {
    assert_talcum_is_global();
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    };
    let mut live = Vec::new();
    for step in 0..3000 {
        let size = if step % 50 == 0 { 1 + next(3 * MIB as u64) } else { 1 + next(4000) } as usize;
        let align = 1 << next(5);
        if next(2) == 0 {
            live.push(zeroed_block(size, align));
        } else {
            let layout = Layout::from_size_align(size, align).unwrap();
            // SAFETY: a valid layout; the block is ours.
            let p = unsafe { alloc(layout) };
            assert!(!p.is_null());
            // SAFETY: `size` bytes are ours.
            unsafe { p.write_bytes(0xA9, size) };
            live.push((p, layout));
        }
        if live.len() > 40 {
            let (p, layout) = live.swap_remove(next(live.len() as u64) as usize);
            // SAFETY: live with its layout.
            unsafe { dealloc(p, layout) };
        }
    }
    for (p, layout) in live {
        // SAFETY: live with its layout.
        unsafe { dealloc(p, layout) };
    }
}

#[wasm_bindgen_test]
fn big_zeroed_blocks_from_fresh_pages_and_from_reused_ones() {
    // The first round mostly comes from fresh pages (the suites share one
    // instance: how much memory grows depends on what ran before), the
    // second from the memory the first used and dirtied.
    for _round in 0..2 {
        let blocks: Vec<_> =
            [MIB, 24 * MIB, 5 * MIB / 2].iter().map(|&s| zeroed_block(s, 8)).collect();
        for (p, layout) in blocks {
            // SAFETY: live with its layout.
            unsafe { dealloc(p, layout) };
        }
    }
    // `vec![0; n]` is `alloc_zeroed`.
    let v = vec![0u8; 7 * MIB];
    assert!(v.iter().all(|&b| b == 0));
}
