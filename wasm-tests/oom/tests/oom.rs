//! Out of memory under a 64 MiB cap: allocation returns null (never loops, never
//! hands out memory past the cap), nothing already allocated is harmed, and freed
//! memory serves later requests.
#![cfg(target_arch = "wasm32")]

use std::alloc::{alloc, Layout};

use wasm_bindgen_test::wasm_bindgen_test;
use wasm_tests::{
    assert_talcum_is_global, foreign_grow, memory_bytes, Block, XorShift64, MIB, WASM_PAGE,
};
use wasm_tests_oom::MAX_MEMORY;

const CAP: u64 = MAX_MEMORY as u64;

/// Room for the block lists: pushing must never allocate while memory is exhausted
/// (that would abort instead of returning null).
const LIST_CAPACITY: usize = 20_000;

/// Allocates blocks of `size` until the allocator returns null. A rescue block taken
/// first and freed at the end leaves room for panic messages and the test harness,
/// which also allocate.
fn exhaust(size: usize, align: usize, first_tag: usize, into: &mut Vec<Block>) -> usize {
    let rescue = Block::try_new(256 * 1024, 8, 0);
    let mut n = 0;
    while into.len() < into.capacity() {
        let Some(b) = Block::try_new(size, align, first_tag + n) else {
            break;
        };
        into.push(b);
        n += 1;
    }
    drop(rescue);
    assert!(into.len() < into.capacity(), "the test's block list is too short");
    for b in &into[into.len() - n..] {
        assert!(b.range().end as u64 <= CAP, "block {:?} lies past the memory cap", b.range());
    }
    n
}

#[wasm_bindgen_test]
fn memory_really_is_capped() {
    let now = memory_bytes();
    assert!(now <= CAP, "memory is already {now} bytes");
    let pages_to_cap = ((CAP - now) / WASM_PAGE as u64) as usize;
    // One page past the cap is refused by the engine itself.
    assert_eq!(foreign_grow(pages_to_cap + 1), None);
    assert_eq!(foreign_grow(usize::MAX / WASM_PAGE), None);
    assert_eq!(memory_bytes(), now);
    // Growing by zero pages reports the current size.
    assert_eq!(foreign_grow(0).map(|r| r.start as u64), Some(now));
}

#[wasm_bindgen_test]
fn impossible_requests_return_null() {
    assert_talcum_is_global();
    let before = memory_bytes();
    for shift in [0, 3, 4, 12, 16, 20] {
        let align = 1usize << shift;
        // The largest layouts Rust allows, and sizes just past the cap.
        for size in [
            isize::MAX as usize + 1 - align,
            isize::MAX as usize / 2 + 1,
            MAX_MEMORY + 1,
            MAX_MEMORY - align,
        ] {
            let size = size & !(align - 1);
            let layout = Layout::from_size_align(size, align).unwrap();
            let p = unsafe { alloc(layout) };
            assert!(p.is_null(), "{size} bytes aligned {align} returned {p:p} under a 64 MiB cap");
        }
    }
    // None of them could have succeeded, so none should have grown memory.
    assert_eq!(memory_bytes(), before, "requests that cannot fit grew memory anyway");
    // Growing a live block to an impossible size fails and leaves it intact.
    let mut b = Block::new(1000, 8, 1);
    assert!(!b.try_realloc(isize::MAX as usize - 7));
    assert!(!b.try_realloc(MAX_MEMORY));
    b.assert_intact();
    assert_eq!(b.size(), 1000);
    assert!(memory_bytes() <= CAP);
    drop(b);
}

#[wasm_bindgen_test]
fn allocate_until_null_then_free_and_allocate_again() {
    // All block lists up front: nothing may allocate outside `exhaust` once
    // memory has run out.
    let mut big = Vec::with_capacity(LIST_CAPACITY);
    let mut small = Vec::with_capacity(LIST_CAPACITY);
    let mut again = Vec::with_capacity(LIST_CAPACITY);
    let n_big = exhaust(MIB, 8, 0, &mut big);
    assert!(n_big >= 56, "only {n_big} MiB could be allocated in 1 MiB blocks under a 64 MiB cap");
    // Then fill the remaining gaps with smaller and smaller blocks.
    let n_mid = exhaust(WASM_PAGE, 8, 1000, &mut small);
    let n_tiny = exhaust(48, 8, 100_000, &mut small);
    assert!(n_tiny > 0 || n_mid > 0, "the last MiB could not be used at all");
    // The allocator grows at least MIN_GROW_PAGES at a time, so fewer than that
    // may stay ungrown; more would mean it gave up while memory could still grow.
    let ungrown = CAP - memory_bytes();
    assert!(
        ungrown < (talcum::MIN_GROW_PAGES * WASM_PAGE) as u64,
        "allocation failed although {ungrown} bytes of memory could still grow"
    );
    for b in big.iter().chain(&small) {
        b.assert_intact();
    }

    // Free every other 1 MiB block: each hole takes a 1 MiB block again.
    let freed = big.len() / 2;
    let mut keep = false;
    big.retain(|_| {
        keep = !keep;
        keep
    });
    let n_again = exhaust(MIB, 8, 200_000, &mut again);
    assert!(n_again >= freed, "freed {freed} blocks of 1 MiB but only {n_again} fit again");
    for b in big.iter().chain(&small).chain(&again) {
        b.assert_intact();
    }

    // Free everything: the space joins up again and serves one 48 MiB block.
    drop(again);
    drop(big);
    drop(small);
    let whole = Block::new(48 * MIB, 8, 7);
    whole.assert_intact();
    drop(whole);
}

#[wasm_bindgen_test]
fn random_churn_at_the_limit() {
    // Alternately run into the cap with random sizes and free a random half, many
    // times; every live block is checked every round.
    let mut rng = XorShift64::new(0x00_C0DE);
    let mut blocks: Vec<Block> = Vec::with_capacity(LIST_CAPACITY);
    let mut tag = 0;
    let mut failures = 0;
    for _round in 0..12 {
        let rescue = Block::try_new(256 * 1024, 8, 0);
        while blocks.len() < blocks.capacity() {
            let size = match rng.below(10) {
                0..=5 => rng.between(1, 4096),
                6..=8 => rng.between(4097, 256 * 1024),
                _ => rng.between(256 * 1024, 8 * MIB),
            };
            let align = 1 << rng.below(12);
            tag += 1;
            match Block::try_new(size, align, tag) {
                Some(b) => blocks.push(b),
                None => {
                    failures += 1;
                    // Small requests may still fit somewhere: only stop once even
                    // a small one fails.
                    if Block::try_new(64, 8, 0).is_none() {
                        break;
                    }
                }
            }
        }
        drop(rescue);
        assert!(blocks.len() < blocks.capacity(), "the test's block list is too short");
        for b in &blocks {
            b.assert_intact();
            assert!(b.range().end as u64 <= CAP);
        }
        let mut i = 0;
        while i < blocks.len() {
            if rng.percent(50) {
                drop(blocks.swap_remove(i));
            } else {
                i += 1;
            }
        }
    }
    assert!(failures >= 12);
    assert!(memory_bytes() <= CAP);
}
