//! The checking helpers themselves: a corrupted, shifted or overlapping block must be
//! reported, or the other suites could pass without proving anything.
#![cfg(target_arch = "wasm32")]

use wasm_bindgen_test::wasm_bindgen_test;
use wasm_tests::{assert_disjoint, fill, mismatch, pattern_byte, Block, XorShift64};

#[wasm_bindgen_test]
#[should_panic(expected = "corrupted at offset 777")]
fn a_changed_byte_is_reported() {
    let b = Block::new(5000, 8, 3);
    unsafe { *b.ptr().add(777) ^= 1 };
    b.assert_intact();
}

#[wasm_bindgen_test]
#[should_panic(expected = "corrupted at offset 65535")]
fn a_changed_last_byte_of_a_sparse_block_is_reported() {
    let b = Block::new_sparse(65_536, 8, 4);
    unsafe { *b.ptr().add(65_535) ^= 0x80 };
    b.assert_intact();
}

#[wasm_bindgen_test]
fn a_shifted_copy_does_not_match() {
    let mut buf = vec![0u8; 10_000];
    unsafe { fill(buf.as_mut_ptr(), buf.len(), 42) };
    assert_eq!(unsafe { mismatch(buf.as_ptr(), buf.len(), 42) }, None);
    // The same bytes one position later, as a copy to a wrong offset would leave them.
    assert_eq!(unsafe { mismatch(buf.as_ptr().add(1), 9999, 42) }, Some(0));
    // Another block's pattern is detected as wrong at once.
    assert_eq!(unsafe { mismatch(buf.as_ptr(), buf.len(), 43) }, Some(0));
    // Across the chunk boundary of the fast fill, the pattern continues.
    assert_eq!(buf[4096], pattern_byte(42, 4096));
    assert_eq!(buf[9999], pattern_byte(42, 9999));
}

#[wasm_bindgen_test]
#[should_panic(expected = "overlapping allocations")]
fn overlapping_ranges_are_reported() {
    let mut r = vec![100..200, 0..50, 199..300];
    assert_disjoint(&mut r);
}

#[wasm_bindgen_test]
fn the_prng_is_deterministic_and_spread() {
    let mut a = XorShift64::new(5);
    let mut b = XorShift64::new(5);
    let xs: Vec<u64> = (0..1000).map(|_| a.next_u64()).collect();
    assert!(xs.iter().all(|&x| x == b.next_u64()));
    let mut buckets = [0u32; 10];
    for _ in 0..10_000 {
        buckets[a.below(10)] += 1;
    }
    assert!(buckets.iter().all(|&n| (800..1200).contains(&n)), "{buckets:?}");
}
