//! Review: `OomHandler` is a *safe* trait whose one method receives
//! `&mut Talc<Self>`. Safe code in a handler can therefore replace or swap
//! the live `Talc` behind a `Talck` (what `TalckGuard` was made to forbid):
//! every block allocated before is then freed into a `Talc` that never
//! handed it out.
//!
//! The only `unsafe` below is contract-abiding: an arena handed to `init`,
//! and blocks freed once, with their layout, through the allocator that
//! allocated them.

mod common;

use core::alloc::Layout;

use allocator_api2::alloc::Allocator;
use common::Arena;
use talcum::{ErrOnOom, OomHandler, Talc, Talck};

/// Resets its `Talc` on out-of-memory. No `unsafe` anywhere.
struct Resetting;

impl OomHandler for Resetting {
    fn handle_oom(talc: &mut Talc<Self>, _: Layout) -> Result<(), ()> {
        *talc = Talc::new(Resetting);
        Err(())
    }
}

/// Fails: after an out-of-memory, the `Talck`'s `Talc` is a fresh one with no
/// heap, while a block from the old arena is still live.
#[test]
fn a_safe_oom_handler_replaces_the_live_talc() {
    let mut arena = Arena::new(1 << 16);
    let talck: Talck<spin::Mutex<()>, Resetting> = Talc::new(Resetting).lock();
    // SAFETY: the arena outlives the allocator and serves it only.
    unsafe { talck.lock().init(arena.span()).unwrap() };
    let a = talck.allocator();
    let block = a.allocate(Layout::new::<[u64; 4]>()).unwrap();
    let before = talck.lock().get_arena();
    // Safe: a request that does not fit calls the handler.
    assert!(a.allocate(Layout::from_size_align(1 << 20, 8).unwrap()).is_err());
    let after = talck.lock().get_arena();
    assert_eq!(
        after, before,
        "safe handler code replaced the live Talc: the arena of the live block {block:p} is gone"
    );
}

/// The consequence: the live block's (contract-abiding) deallocation writes
/// through the fresh `Talc`'s null bin array. Natively a SIGSEGV, under Miri
/// undefined behaviour; with `checks` the free is refused as "outside every
/// heap". Ignored so that it does not kill the test binary; run it with
/// `--ignored` (or under Miri).
#[test]
#[ignore = "crashes the process (null write): run with --ignored or under Miri"]
fn freeing_a_block_after_the_handler_reset() {
    let mut arena = Arena::new(1 << 16);
    let talck: Talck<spin::Mutex<()>, Resetting> = Talc::new(Resetting).lock();
    // SAFETY: the arena outlives the allocator and serves it only.
    unsafe { talck.lock().init(arena.span()).unwrap() };
    let a = talck.allocator();
    let l = Layout::new::<[u64; 4]>();
    let block = a.allocate(l).unwrap();
    assert!(a.allocate(Layout::from_size_align(1 << 20, 8).unwrap()).is_err());
    // SAFETY: `block` was allocated by this allocator with `l` and is live.
    unsafe { a.deallocate(block.cast(), l) };
}

/// Control: with a handler that leaves its `Talc` alone, the arena stays.
#[test]
fn control_err_on_oom_keeps_the_arena() {
    let mut arena = Arena::new(1 << 16);
    let talck: Talck<spin::Mutex<()>, ErrOnOom> = Talc::new(ErrOnOom).lock();
    // SAFETY: the arena outlives the allocator and serves it only.
    unsafe { talck.lock().init(arena.span()).unwrap() };
    let a = talck.allocator();
    let l = Layout::new::<[u64; 4]>();
    let block = a.allocate(l).unwrap();
    let before = talck.lock().get_arena();
    assert!(a.allocate(Layout::from_size_align(1 << 20, 8).unwrap()).is_err());
    assert_eq!(talck.lock().get_arena(), before);
    // SAFETY: allocated above with `l`, freed once.
    unsafe { a.deallocate(block.cast(), l) };
}
