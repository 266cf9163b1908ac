//! The `checks` fault flag (see `checks_global_*.rs`) outside the global
//! allocator's own paths: a `Talc` taken out of its `Talck`, a fault found
//! through `TalckSingleThreaded::talc`, and an in-place shrink to a smaller
//! alignment (a valid block the check must not refuse). Found by review.
#![cfg(feature = "checks")]

mod common;

use core::alloc::{GlobalAlloc, Layout};
use std::panic::{catch_unwind, AssertUnwindSafe};

use common::Arena;
use talcum::{ErrOnOom, Talc, Talck, TalckSingleThreaded};

type SpinTalck = Talck<spin::Mutex<()>, ErrOnOom>;

fn quiet<T>(f: impl FnOnce() -> T) -> T {
    // The expected panics are not printed (the hook is process-wide, but
    // every test here only panics on purpose).
    std::panic::set_hook(Box::new(|_| {}));
    f()
}

/// Frees a block twice: `checks` finds the fault before it touches anything
/// and panics, raising the fault flag its `Talc` points at.
fn double_free<O: talcum::OomHandler>(talc: &mut Talc<O>) {
    let l = Layout::from_size_align(32, 8).unwrap();
    // SAFETY: the heap is valid; the second free is the fault that `checks`
    // catches before it reads or writes the block.
    unsafe {
        let p = talc.malloc(l).unwrap();
        talc.free(p, l);
        talc.free(p, l);
    }
}

/// `Talck::into_inner` clears the `Talc`'s fault pointer: a fault found later
/// in that `Talc` (here a double free, caught) must not store into
/// wherever the consumed `Talck` used to be (here a `Vec` slot now holding
/// another `Talck`, whose allocations would then come from the reserve).
#[test]
fn into_inner_leaves_a_stale_fault_pointer() {
    let mut arena0 = Arena::new(1 << 16);
    let mut arena1 = Arena::new(1 << 16);
    let mut v: Vec<SpinTalck> = Vec::new();
    v.push(Talc::new(ErrOnOom).lock());
    v.push(Talc::new(ErrOnOom).lock());
    // SAFETY: each arena serves one allocator only and outlives it.
    unsafe {
        v[0].lock().init(arena0.span()).unwrap();
        v[1].lock().init(arena1.span()).unwrap();
    }
    // The first `Talck` leaves the vector; the second moves into its slot.
    let mut talc = v.remove(0).into_inner();
    let r = quiet(|| catch_unwind(AssertUnwindSafe(|| double_free(&mut talc))));
    let _ = std::panic::take_hook();
    assert!(r.is_err(), "checks catches the double free");
    let l = Layout::new::<[u64; 4]>();
    // SAFETY: a fresh block (leaked).
    let q = unsafe { v[0].alloc(l) };
    let arena = v[0].lock().get_arena();
    assert!(
        arena.contains(q),
        "{q:p} came from the reserve: the unwrapped Talc's fault raised another Talck's flag"
    );
}

#[allow(clippy::boxed_local)] // the point: the box is freed on return
fn unbox<T>(b: Box<T>) -> T {
    *b
}

/// The same with the `Talck` in a `Box`: the fault pointer dangles into the
/// freed box. Under Miri: use after free. (Natively the write lands in
/// freed memory, silently.)
#[test]
#[cfg_attr(not(miri), ignore = "the write goes to freed memory silently; run under Miri")]
fn into_inner_from_a_box_leaves_a_dangling_fault_pointer() {
    let mut arena = Arena::new(1 << 12);
    let boxed: Box<SpinTalck> = Box::new(Talc::new(ErrOnOom).lock());
    // SAFETY: the arena serves this allocator only and outlives it.
    unsafe { boxed.lock().init(arena.span()).unwrap() };
    // The box is freed when `unbox` returns.
    let mut talc = unbox(boxed).into_inner();
    let r = quiet(|| catch_unwind(AssertUnwindSafe(|| double_free(&mut talc))));
    let _ = std::panic::take_hook();
    assert!(r.is_err(), "checks catches the double free");
}

/// `TalckSingleThreaded::talc()` hands out the `Talc` without a `Reporting`
/// guard, but with the fault pointer that the last `GlobalAlloc` call set.
/// A fault found through it (caught) leaves the flag raised, as
/// documented on `talc`: the panic could allocate, and nothing can tell when
/// it is over; from then on allocations come from the reserve, never from
/// the arena, which stays as it was.
#[test]
fn a_fault_through_talc_routes_later_allocations_to_the_reserve() {
    let mut arena = Arena::new(1 << 16);
    // SAFETY: used from this thread only; the arena serves it only.
    let st = unsafe {
        let mut talc = Talc::new(ErrOnOom);
        talc.init(arena.span()).unwrap();
        TalckSingleThreaded::new(talc)
    };
    let l = Layout::new::<[u64; 4]>();
    // SAFETY: freed once, with its layout.
    let p = unsafe { st.alloc(l) };
    // SAFETY: as above.
    unsafe { st.dealloc(p, l) };
    // A double free through `talc()`, which `checks` reports.
    // SAFETY: exclusive use; the double free is the fault under test.
    let r = quiet(|| {
        catch_unwind(AssertUnwindSafe(|| unsafe {
            st.talc().free(core::ptr::NonNull::new(p).unwrap(), l)
        }))
    });
    let _ = std::panic::take_hook();
    assert!(r.is_err());
    // SAFETY: a fresh block.
    let q = unsafe { st.alloc(l) };
    // SAFETY: no allocation is running.
    let arena = unsafe { st.talc() }.get_arena();
    assert!(
        !q.is_null() && !arena.contains(q),
        "after the caught fault, {q:p} came from the arena"
    );
}

/// `Allocator::shrink` to a smaller alignment keeps the block in place with
/// its old padding; `checks` must still accept its deallocation with the new
/// layout (fuzz seed `crash-checks-shrink-to-smaller-align-in-place`).
#[test]
fn shrink_to_a_smaller_alignment_then_deallocate() {
    use allocator_api2::alloc::Allocator;
    let mut arena = Arena::new(1 << 16);
    let talck: SpinTalck = Talc::new(ErrOnOom).lock();
    // SAFETY: the arena serves this allocator only and outlives it.
    unsafe { talck.lock().init(arena.span()).unwrap() };
    let a = talck.allocator();
    let big = Layout::from_size_align(64, 32).unwrap();
    let small = Layout::from_size_align(64, 8).unwrap();
    // Find a block with padding inside its chunk (a back pointer below it).
    let mut keep = Vec::new();
    let mut found = None;
    for _ in 0..8 {
        let p = a.allocate(big).unwrap().cast::<u8>();
        // SAFETY: the word below a payload is in its chunk.
        let below = unsafe { *p.as_ptr().sub(8).cast::<usize>() };
        if below & 1 == 0 {
            found = Some(p);
            break;
        }
        // SAFETY: live with `big`.
        unsafe { a.deallocate(p, big) };
        // A one-word shift of the free space for the next try.
        keep.push(a.allocate(Layout::from_size_align(16, 8).unwrap()).unwrap().cast::<u8>());
    }
    let p = found.expect("a block with a back pointer");
    // SAFETY: live with `big`; shrink keeps it in place.
    let q = unsafe { a.shrink(p, big, small) }.unwrap().cast::<u8>();
    assert_eq!(q, p);
    let r = quiet(|| {
        // SAFETY: live with `small` since the shrink.
        catch_unwind(AssertUnwindSafe(|| unsafe { a.deallocate(q, small) }))
    });
    let _ = std::panic::take_hook();
    assert!(r.is_ok(), "checks refused a valid deallocation after shrinking the alignment");
    for p in keep {
        // SAFETY: live with this layout.
        unsafe { a.deallocate(p, Layout::from_size_align(16, 8).unwrap()) };
    }
}
